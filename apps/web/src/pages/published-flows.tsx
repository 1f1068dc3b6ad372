import { Fragment, useCallback, useEffect, useState } from "react";
import { listAll } from "../api/client";
import type { BundleSummary, BundleVersion } from "@flowplane/core/api";
import { DeployDialog } from "../deploy/deploy-dialog";
import { atLeast, useSession } from "../lib/session";
import { FlowGraphPanel } from "../ui/flow-graph-panel";
import { Icon } from "../ui/icons";
import { Modal } from "../ui/modal";
import { Empty, ErrorState, Loading } from "../ui/states";
import { lookalikes } from "../lib/lookalike";
import { AccessBadge, EngineBadge, LookalikeNote, ParameterChips, WarningsBadge, formatTime, shortDigest } from "./bundle-bits";
import { PageHeader } from "./page-header";
import { PublishDialog } from "./publish-dialog";

/** Asset Library > Published Flows: every bundle the caller can see, its versions, and Deploy. */
export function PublishedFlows() {
  const s = useSession();
  const [bundles, setBundles] = useState<BundleSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [publishing, setPublishing] = useState(false);
  const [deploying, setDeploying] = useState<{ name: string; version: string } | null>(null);
  const [open, setOpen] = useState<Set<string>>(new Set());

  const load = useCallback(async () => {
    setError(null);
    try {
      setBundles(await listAll(s.api, "listBundles", {}));
    } catch (e) {
      setError(e);
    }
  }, [s.api]);
  useEffect(() => void load(), [load]);

  const canPublish = s.me.orgOwner || Object.values(s.me.roles).some((r) => atLeast(r, "editor"));
  const canDeploy = s.project !== null && atLeast(s.roleIn(s.project.id), "editor");
  const toggle = (name: string) => setOpen((o) => {
    const n = new Set(o);
    if (n.has(name)) n.delete(name);
    else n.add(name);
    return n;
  });

  const addButton = canPublish && (
    <button type="button" className="button button-primary" onClick={() => setPublishing(true)}>
      <Icon name="plus" /> Add New Flow
    </button>
  );

  let body;
  if (error) body = <ErrorState error={error} onRetry={() => void load()} />;
  else if (!bundles) body = <Loading what="published flows" />;
  else if (bundles.length === 0) {
    body = (
      <Empty title="No published flows yet" action={addButton}>
        Export a flow from the Langflow editor as JSON and publish it here. Each publish under the same name adds a version.
      </Empty>
    );
  } else {
    const like = lookalikes(bundles.map((b) => b.name));
    body = (
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col"><span className="sr-only">Versions</span></th>
              <th scope="col">Flow</th>
              <th scope="col">Latest version</th>
              <th scope="col" className="hide-narrow">Access</th>
              <th scope="col" className="hide-narrow">Parameters</th>
              <th scope="col" className="hide-medium">Engine</th>
              <th scope="col" className="actions-col"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {bundles.map((b) => (
              <Fragment key={b.name}>
                <tr data-bundle={b.name}>
                  <td className="expand-cell">
                    <button type="button" className={`icon-button expand${open.has(b.name) ? " open" : ""}`} aria-expanded={open.has(b.name)} aria-label={`Versions of ${b.name}`} onClick={() => toggle(b.name)}>
                      <Icon name="chevron" />
                    </button>
                  </td>
                  <td>
                    <div className="cell-title">{b.name}</div>
                    <LookalikeNote v={b.latest} like={like.get(b.name)} />
                    {b.latest.description && <div className="cell-sub clamp-2" title={b.latest.description}>{b.latest.description}</div>}
                  </td>
                  <td>
                    <span className="tag">{b.latest.versionTag}</span>
                    <div className="cell-sub">{b.versionCount} version{b.versionCount === 1 ? "" : "s"} · {formatTime(b.latest.createdAt)}</div>
                  </td>
                  <td className="hide-narrow"><AccessBadge v={b.latest} /></td>
                  <td className="hide-narrow"><ParameterChips parameters={b.latest.parameters} /></td>
                  <td className="hide-medium"><EngineBadge v={b.latest} /></td>
                  <td className="actions-col">
                    <DeployButton label={`Deploy ${b.name}`} disabled={!canDeploy} onClick={() => setDeploying({ name: b.name, version: b.latest.versionTag })} />
                  </td>
                </tr>
                {open.has(b.name) && (
                  <tr className="subrow">
                    <td />
                    <td colSpan={6}>
                      <Versions name={b.name} canDeploy={canDeploy} onDeploy={(version) => setDeploying({ name: b.name, version })} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
    );
  }

  return (
    <>
        <PageHeader crumb="Asset Library" title="Published Flows" action={bundles && bundles.length > 0 ? addButton : undefined}>
          Bundles of Langflow flows, versioned and ready to deploy into {s.project ? <strong>{s.project.name}</strong> : "a project"}.
        </PageHeader>
        {!s.project && bundles && <p className="notice">Choose or create a project in the top bar to deploy.</p>}
        {body}
        {publishing && <PublishDialog onClose={() => setPublishing(false)} onPublished={() => { setPublishing(false); void load(); }} />}
        {deploying && <DeployDialog bundle={deploying.name} version={deploying.version} onClose={() => setDeploying(null)} />}
    </>
  );
}

function DeployButton({ label, onClick, disabled }: { label: string; onClick: () => void; disabled: boolean }) {
  return (
    <button type="button" className="button button-small deploy-button" aria-label={label} title={disabled ? "You need the editor role in this project to deploy" : label} disabled={disabled} onClick={onClick}>
      <Icon name="deploy" /> <span className="collapse-narrow">Deploy</span>
    </button>
  );
}

/** Every version of one bundle, newest first, each deployable. */
function Versions({ name, canDeploy, onDeploy }: { name: string; canDeploy: boolean; onDeploy: (tag: string) => void }) {
  const s = useSession();
  const [versions, setVersions] = useState<BundleVersion[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [viewing, setViewing] = useState<{ tag: string; flowId: string; flowName: string } | null>(null);
  useEffect(() => {
    s.api("getBundle", { params: { name } }).then((b) => setVersions(b.versions), setError);
  }, [s.api, name]);
  if (error) return <ErrorState error={error} />;
  if (!versions) return <Loading what="versions" />;
  return (
    <>
      {viewing && (
        <Modal wide title={`${viewing.flowName} (${name} ${viewing.tag})`} onClose={() => setViewing(null)}>
          <FlowGraphPanel name={name} tag={viewing.tag} flowId={viewing.flowId} />
        </Modal>
      )}
      <ul className="version-list" aria-label={`Versions of ${name}`}>
        {versions.map((v) => (
          <li key={v.versionTag} className="version-item">
            <div className="version-main">
              <span className="tag">{v.versionTag}</span>
              <span className="mono muted" title={v.digest}>{shortDigest(v.digest)}</span>
              <span className="muted">{formatTime(v.createdAt)}</span>
              <span className="muted">
                {v.flows.length} flow{v.flows.length === 1 ? "" : "s"}:{" "}
                {v.flows.map((f, i) => (
                  <span key={f.id}>
                    {i > 0 && ", "}
                    <button type="button" className="link-button" aria-label={`View the flow ${f.name} of ${name} ${v.versionTag}`} onClick={() => setViewing({ tag: v.versionTag, flowId: f.id, flowName: f.name })}>{f.name}</button>
                  </span>
                ))}
              </span>
            </div>
            <div className="version-meta">
              <AccessBadge v={v} />
              <EngineBadge v={v} />
              <WarningsBadge v={v} />
              <ParameterChips parameters={v.parameters} />
              <DeployButton label={`Deploy ${name} ${v.versionTag}`} disabled={!canDeploy} onClick={() => onDeploy(v.versionTag)} />
            </div>
          </li>
        ))}
      </ul>
    </>
  );
}
