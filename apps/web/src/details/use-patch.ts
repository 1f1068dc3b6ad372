import { useState } from "react";
import { ApiError } from "../api/client";
import type { CallArgs, Deployment, FieldError, Operations } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { useToasts } from "../ui/toasts";

/**
 * PATCH for the details sections: a 400's field messages go beside the fields, anything else
 * to a toast. Success reports the new generation (the rollout then shows in the status).
 */
/** Which deployment: the path parameters of its operations. */
export interface DeploymentRef {
  projectId: string;
  id: string;
}

export function usePatch(base: DeploymentRef, onChanged: (d: Deployment) => void) {
  const s = useSession();
  const toasts = useToasts();
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  /** `rollout: false`: a change that is no new generation by design (rate limits, scale to zero): it applies at once. */
  const patch = async (body: CallArgs<Operations["patchDeployment"]>["body"], what: string, o: { rollout?: boolean } = {}): Promise<boolean> => {
    setBusy(true);
    setErrors([]);
    try {
      const before = await s.api("getDeployment", { params: base });
      const d = await s.api("patchDeployment", { params: base, body });
      if (o.rollout === false) toasts.success(`${what}: applied at once, no rollout`);
      else if (d.generation === before.generation) toasts.info(`${what}: nothing changed`);
      else toasts.success(`${what}: generation ${d.generation} is rolling out`);
      onChanged(d);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 400 && e.details.length) setErrors(e.details);
      else toasts.error(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { patch, errors, busy, clearErrors: () => setErrors([]) };
}
