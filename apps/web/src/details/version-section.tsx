import { useEffect, useId, useState } from "react";
import type { BundleVersion, Deployment } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { TextField } from "../ui/field";
import { formatTime, shortDigest } from "../pages/bundle-bits";
import { diffParameters } from "./param-diff";
import { Section } from "./section";
import { usePatch, type DeploymentRef } from "./use-patch";

/** The pinned version, and a change to another one showing which parameters differ first. */
export function VersionSection({ d, current, editable, onChanged, base }: { d: Deployment; current: BundleVersion | null; editable: boolean; onChanged: (d: Deployment) => void; base: DeploymentRef }) {
  const s = useSession();
  const selectId = useId();
  const { patch, errors, busy } = usePatch(base, onChanged);
  const [versions, setVersions] = useState<BundleVersion[]>([]);
  const [target, setTarget] = useState(d.bundle.version);
  const [creds, setCreds] = useState<Record<string, string>>({});
  // Start the change as a canary: the new revision gets this share of the calls until promote or abort.
  const [canary, setCanary] = useState(false);
  const [percent, setPercent] = useState(10);
  const canaryId = useId();
  useEffect(() => {
    s.api("getBundle", { params: { name: d.bundle.name } }).then((b) => setVersions(b.versions), () => setVersions([]));
  }, [s.api, d.bundle.name]);
  useEffect(() => setTarget(d.bundle.version), [d.bundle.version]);

  const next = versions.find((v) => v.versionTag === target) ?? null;
  const changing = target !== d.bundle.version && next !== null;
  const changes = changing && current ? diffParameters(current.parameters, next.parameters) : [];
  // Credentials the new version needs that this deployment does not hold yet.
  const needed = changing ? next.parameters.filter((p) => p.kind === "credential" && !(p.name in d.credentials)).map((p) => p.name) : [];
  const ready = changing && needed.every((n) => creds[n]);

  const apply = async () => {
    const body = { bundle: { version: target }, ...(needed.length ? { credentials: Object.fromEntries(needed.map((n) => [n, creds[n] ?? ""])) } : {}), ...(canary ? { canary: { percent } } : {}) };
    if (await patch(body, `Version ${target}`)) setCreds({});
  };

  return (
    <Section title="Version">
      <div className="version-current">
        <span>Pinned to <strong>{d.bundle.name}</strong> <span className="tag">{d.bundle.version}</span></span>
        <span className="mono muted small" title={d.bundle.digest}>{shortDigest(d.bundle.digest)}</span>
        {current && <span className="muted small">published {formatTime(current.createdAt)}</span>}
      </div>
      {editable && (
        <>
          <div className="field">
            <label htmlFor={selectId}>Change to</label>
            <select id={selectId} value={target} onChange={(e) => setTarget(e.target.value)}>
              {versions.length === 0 && <option value={d.bundle.version}>{d.bundle.version}</option>}
              {versions.map((v, i) => <option key={v.versionTag} value={v.versionTag}>{v.versionTag}{v.versionTag === d.bundle.version ? " (current)" : i === 0 ? " (newest)" : ""}</option>)}
            </select>
          </div>
          {changing && (
            <div className="diff" aria-live="polite">
              <h3>Parameters that differ in {target}</h3>
              {changes.length === 0 ? <p className="muted">Same parameters as {d.bundle.version}: your values carry over.</p> : (
                <div className="table-wrap">
                  <table className="table table-compact">
                    <thead><tr><th scope="col">Parameter</th><th scope="col">Change</th><th scope="col">{d.bundle.version}</th><th scope="col">{target}</th></tr></thead>
                    <tbody>
                      {changes.map((c) => (
                        <tr key={c.name} data-diff={c.name}>
                          <td className="mono">{c.name}</td>
                          <td><span className={`badge ${c.change === "added" ? "badge-ok" : c.change === "removed" ? "badge-bad" : "badge-warn"}`}>{c.change === "kind" ? "kind changed" : c.change === "default" ? "default changed" : c.change}</span></td>
                          <td>{c.from}</td>
                          <td>{c.to}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
              {needed.map((n) => (
                <TextField key={n} label={<>New credential <code>{n}</code></>} required type="password" autoComplete="new-password"
                  value={creds[n] ?? ""} onChange={(e) => setCreds((c) => ({ ...c, [n]: e.target.value }))}
                  error={errors.find((e) => e.field === `credentials.${n}`)?.message} hint={`${target} needs it; this deployment has no value yet.`} />
              ))}
              <label className="check">
                <input type="checkbox" checked={canary} disabled={d.liveRevisions.some((l) => l.role === "stable")} onChange={(e) => setCanary(e.target.checked)} />
                Start as a canary: {target} gets a share of the calls, {d.bundle.version} keeps the rest, until you promote or abort it
              </label>
              {canary && (
                <div className="field">
                  <label htmlFor={canaryId}>Canary share (%)</label>
                  <input id={canaryId} type="number" min={1} max={99} step={1} value={percent} onChange={(e) => setPercent(Number(e.target.value))} />
                </div>
              )}
              {errors.filter((e) => !e.field.startsWith("credentials.")).map((e) => <p key={e.field + e.message} className="notice notice-error" role="alert">{e.message}</p>)}
              <div className="form-actions">
                <button type="button" className="button" onClick={() => setTarget(d.bundle.version)}>Cancel</button>
                <button type="button" className="button button-primary" disabled={!ready || busy} onClick={() => void apply()}>{busy ? "Changing…" : `Change to ${target}`}</button>
              </div>
            </div>
          )}
        </>
      )}
    </Section>
  );
}
