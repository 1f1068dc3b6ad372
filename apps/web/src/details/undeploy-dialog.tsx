import type { DeploymentRef } from "./use-patch";
import { useState } from "react";
import type { Deployment } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { Modal } from "../ui/modal";
import { useToasts } from "../ui/toasts";

/** Undeploy needs a deliberate second step: it removes everything the deployment runs. */
export function UndeployDialog({ d, base, onClose, onDone }: { d: Deployment; base: DeploymentRef; onClose: () => void; onDone: (d: Deployment) => void }) {
  const s = useSession();
  const toasts = useToasts();
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    try {
      const next = await s.api("deleteDeployment", { params: base });
      toasts.success(`Undeploying ${d.displayName}`);
      onDone(next);
      onClose();
    } catch (e) {
      toasts.error(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={`Undeploy ${d.displayName}?`} onClose={onClose}
      footer={
        <div className="footer-buttons">
          <button type="button" className="button" autoFocus onClick={onClose}>Cancel</button>
          <button type="button" className="button button-danger" disabled={busy} onClick={() => void confirm()}>{busy ? "Undeploying…" : "Undeploy"}</button>
        </div>
      }>
      <p>This stops its {d.resources.replicas} replica{d.resources.replicas === 1 ? "" : "s"} and removes its routes and stored credentials. Applications calling it will get 404.</p>
      <p className="muted">The deployment's record and events are kept for audit. This cannot be undone.</p>
    </Modal>
  );
}
