import { useId, useState } from "react";
import type { Deployment } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { formatTime } from "../pages/bundle-bits";
import { useToasts } from "../ui/toasts";
import { ConfirmDialog } from "./confirm-dialog";
import type { DeploymentRef } from "./use-patch";

const ROLE: Record<Deployment["liveRevisions"][number]["role"], string> = { current: "current", stable: "stable", warm: "warm" };

/**
 * The revisions with replicas (docs/revisions.md): the current one; during a canary, the stable
 * one with the rest of the calls (share, Promote, Abort); after a change, the one before it,
 * warm until its grace period ends (a rollback to it is instant).
 */
export function LiveRevisions({ d, base, editable, onChanged }: { d: Deployment; base: DeploymentRef; editable: boolean; onChanged: (d: Deployment) => void }) {
  const s = useSession();
  const toasts = useToasts();
  const shareId = useId();
  const stable = d.liveRevisions.find((l) => l.role === "stable");
  const current = d.liveRevisions.find((l) => l.role === "current");
  const [share, setShare] = useState(current?.percent ?? 10);
  const [busy, setBusy] = useState(false);
  const [aborting, setAborting] = useState(false);
  const act = async (what: string, call: () => Promise<Deployment>) => {
    setBusy(true);
    try {
      onChanged(await call());
      toasts.success(what);
    } catch (e) {
      toasts.error(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="live-revisions" data-live-revisions>
      <h3>Live revisions</h3>
      <ul className="plain">
        {d.liveRevisions.map((l) => (
          <li key={l.revision} data-live-revision={l.revision}>
            Revision {l.revision} <span className="tag">{ROLE[l.role]}</span> {l.percent}% of the calls
            {l.runs !== l.revision && <span className="muted small"> (served by revision {l.runs}&apos;s replicas)</span>}
            {l.warmUntil && <span className="muted small"> · one replica kept until {formatTime(l.warmUntil)}; a rollback to it is instant</span>}
          </li>
        ))}
      </ul>
      {stable && editable && (
        <div className="form-actions">
          <div className="field">
            <label htmlFor={shareId}>Canary share (%)</label>
            <input id={shareId} type="number" min={1} max={99} step={1} value={share} onChange={(e) => setShare(Number(e.target.value))} />
          </div>
          <button type="button" className="button" disabled={busy || share === current?.percent}
            onClick={() => void act(`Canary at ${share}%`, () => s.api("setCanaryPercent", { params: base, body: { percent: share } }))}>Set share</button>
          <button type="button" className="button button-primary" disabled={busy}
            onClick={() => void act(`Revision ${d.revision} promoted`, () => s.api("promoteCanary", { params: base }))}>Promote</button>
          <button type="button" className="button" disabled={busy} onClick={() => setAborting(true)}>Abort</button>
        </div>
      )}
      {aborting && stable && (
        <ConfirmDialog title={`Abort the canary of revision ${d.revision}?`} action="Abort" busyLabel="Aborting…" success={`Back to revision ${stable.revision}`}
          run={() => s.api("abortCanary", { params: base })} onClose={() => setAborting(false)} onDone={onChanged}>
          <p>Revision {stable.revision}&apos;s replicas take every call at once, as revision {d.revision + 1}. Revision {d.revision} stays warm for a while.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
