import { useState } from "react";
import { listAll } from "../api/client";
import type { Deployment } from "@flowplane/core/api";
import { DeployDialog } from "../deploy/deploy-dialog";
import { usePoll } from "../lib/poll";
import { Link, useRouter } from "../lib/router";
import { atLeast, useSession } from "../lib/session";
import { CopyButton } from "../ui/copy";
import { Icon } from "../ui/icons";
import { Empty, ErrorState, Loading } from "../ui/states";
import { Replicas, StatusPill, phaseOf } from "../ui/status";
import { formatTime } from "./bundle-bits";
import { PageHeader } from "./page-header";
import { PickBundleDialog } from "./pick-bundle-dialog";

/** How often the list is refreshed while the page is visible. */
export const POLL_MS = 2000;

/** Estate > Flows: every deployment of the project with its phase and ready replicas, kept live. */
export function EstateFlows() {
  const s = useSession();
  const { navigate } = useRouter();
  const [items, setItems] = useState<Deployment[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [picking, setPicking] = useState(false);
  const [deploying, setDeploying] = useState<{ name: string; version: string } | null>(null);
  const projectId = s.project?.id;

  usePoll(async () => {
    if (!projectId) return;
    try {
      setItems(await listAll(s.api, "listDeployments", { params: { projectId } }));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, POLL_MS, [projectId, s.api]);

  const canDeploy = projectId !== undefined && atLeast(s.roleIn(projectId), "editor");
  const addButton = canDeploy && (
    <button type="button" className="button button-primary" onClick={() => setPicking(true)}><Icon name="plus" /> Add Flow</button>
  );
  const open = (d: Deployment) => navigate(`/estate/flows/${d.id}?project=${encodeURIComponent(d.projectId)}`);
  // The list answers live deployments only; an undeployed one's record stays readable by its id.
  const live = items ?? [];

  let body;
  if (!projectId) body = <Empty title="No project yet">Choose or create a project in the top bar.</Empty>;
  else if (error && !items) body = <ErrorState error={error} />;
  else if (!items) body = <Loading what="deployments" />;
  else if (live.length === 0) {
    body = (
      <Empty title="No flows deployed in this project" action={addButton}>
        Pick a published flow, give it its credentials and resources, and it runs here with its own HTTP and MCP endpoints.
      </Empty>
    );
  } else {
    body = (
      <div className="table-wrap">
        <table className="table table-clickable">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Ready</th>
              <th scope="col" className="hide-narrow">Flow</th>
              <th scope="col" className="hide-medium">Endpoint</th>
              <th scope="col" className="hide-medium">Updated</th>
            </tr>
          </thead>
          <tbody>
            {live.map((d) => (
              <tr key={d.id} data-deployment={d.displayName} onClick={(e) => { if (!(e.target as HTMLElement).closest("a,button")) open(d); }}>
                <td>
                  <Link to={`/estate/flows/${d.id}?project=${encodeURIComponent(d.projectId)}`} className="cell-title row-link">{d.displayName}</Link>
                  <div className="cell-sub mono">{d.resourceName}</div>
                </td>
                <td><StatusPill phase={phaseOf(d)} /></td>
                <td><Replicas d={d} /></td>
                <td className="hide-narrow">{d.bundle.name} <span className="tag">{d.bundle.version}</span></td>
                <td className="hide-medium">
                  <span className="endpoint-cell">
                    <span className="badge badge-neutral">{d.networkAccess}</span>
                    <CopyButton text={d.endpoints.http} what={`the HTTP endpoint of ${d.displayName}`} />
                  </span>
                </td>
                <td className="hide-medium muted">{formatTime(d.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  }

  return (
    <>
      <PageHeader crumb="Estate" title="Flows" action={live.length > 0 ? addButton : undefined}>
        Deployed flows in {s.project ? <strong>{s.project.name}</strong> : "this project"}, updated live.
      </PageHeader>
      {error && items ? <p className="notice notice-warn" role="alert">Live updates paused: the control plane did not answer. Retrying…</p> : null}
      {body}
      {picking && <PickBundleDialog onClose={() => setPicking(false)} onPick={(b) => { setPicking(false); setDeploying(b); }} />}
      {deploying && <DeployDialog bundle={deploying.name} version={deploying.version} onClose={() => setDeploying(null)} />}
    </>
  );
}
