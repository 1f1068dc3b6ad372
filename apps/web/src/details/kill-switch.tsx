import { useState } from "react";
import type { Deployment } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { formatTime } from "../pages/bundle-bits";
import { useToasts } from "../ui/toasts";
import { ConfirmDialog } from "./confirm-dialog";
import type { DeploymentRef } from "./use-patch";

/**
 * The kill switch (phase `Disabled`): every call through the gateway is answered 503 with
 * Retry-After within a second. Replicas are kept warm unless asked, so enabling is instant.
 */
export function DisableDialog({ d, base, onClose, onDone }: { d: Deployment; base: DeploymentRef; onClose: () => void; onDone: (d: Deployment) => void }) {
  const s = useSession();
  const [stopReplicas, setStopReplicas] = useState(false);
  return (
    <ConfirmDialog title={`Disable ${d.displayName}?`} action="Disable" busyLabel="Disabling…" success={`${d.displayName} is disabled`}
      run={() => s.api("disableDeployment", { params: base, body: stopReplicas ? { stopReplicas: true } : {} })} onClose={onClose} onDone={onDone}>
      <p>Every call to its HTTP and MCP endpoints will be answered <strong>503</strong> with a Retry-After header, within a second. Its configuration, credentials and routes are kept.</p>
      <label className="check">
        <input type="checkbox" checked={stopReplicas} onChange={(e) => setStopReplicas(e.target.checked)} />
        Also stop its replicas (frees their CPU and memory; enabling then waits for new replicas to start)
      </label>
    </ConfirmDialog>
  );
}

/** What a disabled deployment shows, with the way back for those who may take it. */
export function DisabledNotice({ d, base, canEnable, onDone }: { d: Deployment; base: DeploymentRef; canEnable: boolean; onDone: (d: Deployment) => void }) {
  const s = useSession();
  const toasts = useToasts();
  const [busy, setBusy] = useState(false);
  if (!d.disabled) return null;
  const enable = async () => {
    setBusy(true);
    try {
      onDone(await s.api("enableDeployment", { params: base }));
      toasts.success(`${d.displayName} is enabled`);
    } catch (e) {
      toasts.error(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="notice notice-warn" role="status">
      <p>
        Disabled by {d.disabled.by} {formatTime(d.disabled.at)}: calls through the gateway get 503.{" "}
        {d.disabled.stopReplicas ? "Its replicas are stopped." : "Its replicas are kept warm, so enabling is instant."}
      </p>
      {canEnable
        ? <button type="button" className="button" disabled={busy} onClick={() => void enable()}>{busy ? "Enabling…" : "Enable"}</button>
        : <p className="muted">Only the project's editors and owners can enable it.</p>}
    </div>
  );
}
