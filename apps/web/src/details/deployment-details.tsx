import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiError } from "../api/client";
import type { BundleVersion, Deployment, DeploymentEvent } from "@flowplane/core/api";
import { usePoll } from "../lib/poll";
import { Link, useRouter } from "../lib/router";
import { atLeast, useSession } from "../lib/session";
import { Icon } from "../ui/icons";
import { ErrorState, Loading } from "../ui/states";
import { Replicas, StatusPill, phaseOf } from "../ui/status";
import { formatTime } from "../pages/bundle-bits";
import { POLL_MS } from "../pages/estate-flows";
import { EndpointsSection } from "./endpoints-section";
import { EventsSection, fetchEvents } from "./events-section";
import { FirstRollout } from "./first-rollout";
import { FlowSection } from "./flow-section";
import { LimitsSection } from "./limits-section";
import { IOSection } from "./io-section";
import { TweaksSection } from "./tweaks-section";
import { LogsSection } from "./logs-section";
import { MetricsSection } from "./metrics-section";
import { RunsSection } from "./runs-section";
import { DisableDialog, DisabledNotice } from "./kill-switch";
import { ParametersSection } from "./parameters-section";
import { PlaygroundSection } from "./playground-section";
import { ResourcesSection } from "./resources-section";
import { RevisionsSection } from "./revisions-section";
import { StatusSection } from "./status-section";
import { UndeployDialog } from "./undeploy-dialog";
import { VersionSection } from "./version-section";

/**
 * One deployment: status and conditions, endpoints with ready-to-paste snippets, parameters,
 * version, resources, the events timeline and Undeploy. Polled while visible, so a rollout
 * is seen progressing to Ready without a reload.
 */
export function DeploymentDetails({ id }: { id: string }) {
  const s = useSession();
  const { location } = useRouter();
  const projectId = location.search.get("project") ?? s.project?.id ?? "";
  const base = useMemo(() => ({ projectId, id }), [projectId, id]);
  const [d, setD] = useState<Deployment | null>(null);
  const [events, setEvents] = useState<DeploymentEvent[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [version, setVersion] = useState<BundleVersion | null>(null);
  const [undeploying, setUndeploying] = useState(false);
  const [disabling, setDisabling] = useState(false);

  // A deep link names its project: make it the current one so the top bar agrees.
  useEffect(() => {
    if (projectId && s.project?.id !== projectId && s.projects.some((p) => p.id === projectId)) s.setProject(projectId);
  }, [projectId, s]);

  const refresh = useCallback(async () => {
    try {
      const [dep, ev] = await Promise.all([s.api("getDeployment", { params: base }), fetchEvents(s.api, base)]);
      setD(dep);
      setEvents(ev);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [s.api, base]);
  usePoll(refresh, POLL_MS, [refresh]);

  const tag = d?.bundle.version;
  const bundleName = d?.bundle.name;
  useEffect(() => {
    if (!bundleName || !tag) return;
    s.api("getBundleVersion", { params: { name: bundleName, tag } }).then(setVersion, () => setVersion(null));
  }, [s.api, bundleName, tag]);

  if (error && !d) {
    return (
      <>
        <BackLink />
        <ErrorState error={error instanceof ApiError && error.status === 404 ? new Error("This deployment does not exist in the current project.") : error} onRetry={() => void refresh()} />
      </>
    );
  }
  if (!d) return <Loading what="the deployment" />;

  const role = s.roleIn(d.projectId);
  const editable = !d.deletionRequestedAt && atLeast(role, "editor");
  const rolling = d.status.observedGeneration < d.generation && !d.deletionRequestedAt;
  const onChanged = (next: Deployment) => {
    setD(next);
    void refresh();
  };

  return (
    <>
      <BackLink />
      <div className="details-header">
        <div className="details-title">
          <h1>{d.displayName}</h1>
          <StatusPill phase={phaseOf(d)} />
        </div>
        <div className="details-meta">
          <span><Replicas d={d} /> replicas ready</span>
          <span>{d.bundle.name} <span className="tag">{d.bundle.version}</span></span>
          <span className="mono muted">{d.resourceName}</span>
          <span className="muted">revision {d.revision} · generation {d.generation}</span>
        </div>
        <div className="footer-buttons">
          {editable && !d.disabled && (
            <button type="button" className="button" onClick={() => setDisabling(true)}>Disable</button>
          )}
          {atLeast(role, "owner") && !d.deletionRequestedAt && (
            <button type="button" className="button button-danger" onClick={() => setUndeploying(true)}><Icon name="trash" /> Undeploy</button>
          )}
        </div>
      </div>
      {!d.deletionRequestedAt && <DisabledNotice d={d} base={base} canEnable={editable} onDone={onChanged} />}
      <FirstRollout d={d} />
      {rolling && d.status.observedGeneration > 0 && <p className="notice notice-info" role="status"><span className="spinner small" aria-hidden="true" /> Rolling out generation {d.generation}: the current replicas keep serving until the new ones are ready.</p>}
      {d.deletedAt && <p className="notice">Undeployed {formatTime(d.deletedAt)}. Its record and events are kept for audit; its routes answer 404.</p>}
      {d.deletionRequestedAt && !d.deletedAt && <p className="notice notice-warn" role="status">Undeploying: stopping replicas and removing routes and credentials.</p>}
      {error ? <p className="notice notice-warn" role="alert">Live updates paused: the control plane did not answer. Retrying…</p> : null}

      <div className="details-grid">
        <div className="details-main">
          {!d.deletionRequestedAt && <EndpointsSection d={d} version={version} />}
          {!d.deletionRequestedAt && <PlaygroundSection d={d} version={version} />}
          <FlowSection d={d} version={version} />
          <ParametersSection d={d} version={version} editable={editable} onChanged={onChanged} base={base} />
          <VersionSection d={d} current={version} editable={editable} onChanged={onChanged} base={base} />
          <ResourcesSection d={d} editable={editable} onChanged={onChanged} base={base} />
          <LimitsSection d={d} editable={editable} onChanged={onChanged} base={base} />
          <IOSection d={d} editable={editable} onChanged={onChanged} base={base} />
          <TweaksSection d={d} editable={editable} onChanged={onChanged} base={base} />
          <RevisionsSection d={d} base={base} editable={editable} onChanged={onChanged} />
          {!d.deletedAt && <MetricsSection base={base} />}
          {!d.deletedAt && <RunsSection base={base} bundle={d.bundle} />}
          {!d.deletedAt && <LogsSection base={base} />}
        </div>
        <aside className="details-side">
          {!d.deletedAt && <StatusSection d={d} />}
          <EventsSection events={events} />
        </aside>
      </div>
      {disabling && <DisableDialog d={d} base={base} onClose={() => setDisabling(false)} onDone={onChanged} />}
      {undeploying && <UndeployDialog d={d} base={base} onClose={() => setUndeploying(false)} onDone={onChanged} />}
    </>
  );
}

function BackLink() {
  return <Link to="/estate/flows" className="back-link"><Icon name="back" /> Estate › Flows</Link>;
}
