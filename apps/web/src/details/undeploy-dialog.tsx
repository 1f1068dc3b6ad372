import type { DeploymentRef } from "./use-patch";
import type { Deployment } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { ConfirmDialog } from "./confirm-dialog";

/** Undeploy needs a deliberate second step: it removes everything the deployment runs. */
export function UndeployDialog({ d, base, onClose, onDone }: { d: Deployment; base: DeploymentRef; onClose: () => void; onDone: (d: Deployment) => void }) {
  const s = useSession();
  return (
    <ConfirmDialog title={`Undeploy ${d.displayName}?`} action="Undeploy" busyLabel="Undeploying…" success={`Undeploying ${d.displayName}`}
      run={() => s.api("deleteDeployment", { params: base })} onClose={onClose} onDone={onDone}>
      <p>This stops its {d.resources.replicas} replica{d.resources.replicas === 1 ? "" : "s"} and removes its routes and stored credentials. Applications calling it will get 404.</p>
      <p className="muted">The deployment's record and events are kept for audit. This cannot be undone.</p>
    </ConfirmDialog>
  );
}
