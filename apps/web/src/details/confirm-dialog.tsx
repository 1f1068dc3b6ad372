import { useState, type ReactNode } from "react";
import type { Deployment } from "@flowplane/core/api";
import { Modal } from "../ui/modal";
import { useToasts } from "../ui/toasts";

/**
 * A deliberate second step before an action on a deployment (undeploy, disable): Cancel has the
 * focus; the action runs once, its answer replaces the page's deployment, and a failure is a
 * toast with the server's message, the dialog left open.
 */
export function ConfirmDialog({ title, action, busyLabel, success, run, onClose, onDone, children }: {
  title: string; action: string; busyLabel: string; success: string;
  run: () => Promise<Deployment>; onClose: () => void; onDone: (d: Deployment) => void; children: ReactNode;
}) {
  const toasts = useToasts();
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    try {
      const next = await run();
      toasts.success(success);
      onDone(next);
      onClose();
    } catch (e) {
      toasts.error(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={title} onClose={onClose}
      footer={
        <div className="footer-buttons">
          <button type="button" className="button" autoFocus onClick={onClose}>Cancel</button>
          <button type="button" className="button button-danger" disabled={busy} onClick={() => void confirm()}>{busy ? busyLabel : action}</button>
        </div>
      }>
      {children}
    </Modal>
  );
}
