import { useEffect, useId, useState } from "react";
import type { Deployment, Revision, RevisionDiff } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { formatTime } from "../pages/bundle-bits";
import { ConfirmDialog } from "./confirm-dialog";
import { LiveRevisions } from "./live-revisions";
import { Section } from "./section";
import type { DeploymentRef } from "./use-patch";

/** What a revision did, in a few words. */
function summary(r: Revision): string {
  if (r.cause === "deploy") return "deployed";
  if (r.cause === "adopted") return "state when revisions began";
  const fields = r.changes.join(", ");
  return r.cause === "rollback" ? `rolled back to ${r.rolledBackTo}: ${fields}` : fields;
}

/** One row per difference; credentials by name only (the API never answers a value). */
function diffRows(d: RevisionDiff): { field: string; from: string; to: string }[] {
  const v = (x: string | null) => x ?? "(none)";
  return [
    ...(d.bundle ? [{ field: "version", from: d.bundle.from, to: d.bundle.to }] : []),
    ...d.parameters.map((p) => ({ field: `parameter ${p.name}`, from: v(p.from), to: v(p.to) })),
    ...d.credentials.added.map((n) => ({ field: `credential ${n}`, from: "(none)", to: "set" })),
    ...d.credentials.removed.map((n) => ({ field: `credential ${n}`, from: "set", to: "(none)" })),
    ...d.credentials.changed.map((n) => ({ field: `credential ${n}`, from: "a value", to: "another value" })),
    ...d.runtime.map((r) => ({ field: `runtime ${r.name}`, from: v(r.from), to: v(r.to) })),
    ...d.resources.map((r) => ({ field: r.name, from: v(r.from), to: v(r.to) })),
  ];
}

function DiffTable({ diff }: { diff: RevisionDiff | null }) {
  if (!diff) return <p className="muted">Loading the difference…</p>;
  const rows = diffRows(diff);
  if (rows.length === 0) return <p className="muted">Revisions {diff.from} and {diff.to} run the same.</p>;
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Revision differences (scrolls sideways)">
      <table className="table table-compact" aria-label={`Difference between revisions ${diff.from} and ${diff.to}`}>
        <thead><tr><th scope="col">Field</th><th scope="col">Revision {diff.from}</th><th scope="col">Revision {diff.to}</th></tr></thead>
        <tbody>
          {rows.map((r) => <tr key={r.field} data-revision-diff={r.field}><td className="mono">{r.field}</td><td>{r.from}</td><td>{r.to}</td></tr>)}
        </tbody>
      </table>
    </div>
  );
}

/**
 * The deployment's revisions (every accepted change of what runs), the difference of two, and
 * Rollback, which restores a revision's version, parameters, credentials, runtime and CPU/memory
 * as a new revision (a rolling update). Reloaded whenever the current revision changes.
 */
export function RevisionsSection({ d, base, editable, onChanged }: { d: Deployment; base: DeploymentRef; editable: boolean; onChanged: (d: Deployment) => void }) {
  const s = useSession();
  const fromId = useId();
  const toId = useId();
  const [items, setItems] = useState<Revision[]>([]);
  const [from, setFrom] = useState(0);
  const [to, setTo] = useState(0);
  const [diff, setDiff] = useState<RevisionDiff | null>(null);
  const [rollingBackTo, setRollingBackTo] = useState<number | null>(null);
  const [confirmDiff, setConfirmDiff] = useState<RevisionDiff | null>(null);

  useEffect(() => {
    s.api("listDeploymentRevisions", { params: base, query: { limit: 200 } }).then((page) => {
      setItems(page.items);
      setTo(d.revision);
      setFrom(Math.max(1, d.revision - 1));
    }, () => setItems([]));
  }, [s.api, base, d.revision]);

  useEffect(() => {
    if (!from || !to) return;
    setDiff(null);
    s.api("diffDeploymentRevisions", { params: base, query: { from, to } }).then(setDiff, () => setDiff(null));
  }, [s.api, base, from, to]);

  useEffect(() => {
    if (rollingBackTo === null) return;
    setConfirmDiff(null);
    s.api("diffDeploymentRevisions", { params: base, query: { from: d.revision, to: rollingBackTo } }).then(setConfirmDiff, () => setConfirmDiff(null));
  }, [s.api, base, d.revision, rollingBackTo]);

  const options = items.map((r) => <option key={r.revision} value={r.revision}>{r.revision}{r.revision === d.revision ? " (current)" : ""}</option>);
  return (
    <Section title="Revisions" className="revisions">
      <LiveRevisions d={d} base={base} editable={editable} onChanged={onChanged} />
      {items.length === 0 ? <p className="muted">No revisions yet.</p> : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Revisions (scrolls sideways)">
          <table className="table table-compact" aria-label="Revisions, newest first">
            <thead><tr><th scope="col">Revision</th><th scope="col" className="hide-narrow">When</th><th scope="col">By</th><th scope="col" className="hide-narrow">Version</th><th scope="col">Changes</th>{editable && <th scope="col"><span className="sr-only">Actions</span></th>}</tr></thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.revision} data-revision={r.revision}>
                  <td className="nowrap">{r.revision} {r.revision === d.revision && <span className="tag">current</span>}</td>
                  <td className="hide-narrow"><time dateTime={r.createdAt}>{formatTime(r.createdAt)}</time></td>
                  <td>{r.createdBy.name}</td>
                  <td className="hide-narrow"><span className="tag">{r.bundle.version}</span></td>
                  <td className="small">{summary(r)}</td>
                  {editable && (
                    <td>
                      {r.revision !== d.revision && !d.deletionRequestedAt && (
                        <button type="button" className="button button-small" aria-label={`Roll back to revision ${r.revision}`} onClick={() => setRollingBackTo(r.revision)}>Roll back</button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {items.length > 1 && (
        <div className="diff">
          <div className="field-row">
            <div className="field">
              <label htmlFor={fromId}>Compare revision</label>
              <select id={fromId} value={from} onChange={(e) => setFrom(Number(e.target.value))}>{options}</select>
            </div>
            <div className="field">
              <label htmlFor={toId}>with revision</label>
              <select id={toId} value={to} onChange={(e) => setTo(Number(e.target.value))}>{options}</select>
            </div>
          </div>
          <DiffTable diff={diff} />
        </div>
      )}
      {rollingBackTo !== null && (
        <ConfirmDialog title={`Roll back to revision ${rollingBackTo}?`} action="Roll back" busyLabel="Rolling back…" success={`Rolling back to revision ${rollingBackTo}`}
          run={() => s.api("rollbackDeployment", { params: base, body: { revision: rollingBackTo } })} onClose={() => setRollingBackTo(null)} onDone={onChanged}>
          <p>
            Its version, parameters, credentials, runtime settings and CPU/memory are restored as revision {d.revision + 1}.{" "}
            {d.liveRevisions.some((l) => l.revision === rollingBackTo)
              ? `Revision ${rollingBackTo} still has replicas: they take the calls at once.`
              : "The current replicas keep serving until the new ones are ready."}{" "}
            The replica count stays {d.resources.replicas}.
          </p>
          <DiffTable diff={confirmDiff} />
        </ConfirmDialog>
      )}
    </Section>
  );
}
