import { useState } from "react";
import { ApiError } from "../api/client";
import type { Deployment, FieldError } from "../api/types";
import { useSession } from "../lib/session";
import { useToasts } from "../ui/toasts";

/**
 * PATCH for the details sections: a 400's field messages go beside the fields, anything else
 * to a toast. Success reports the new generation (the rollout then shows in the status).
 */
export function usePatch(base: string, onChanged: (d: Deployment) => void) {
  const s = useSession();
  const toasts = useToasts();
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const patch = async (body: unknown, what: string): Promise<boolean> => {
    setBusy(true);
    setErrors([]);
    try {
      const before = (await s.api("GET", base)) as Deployment;
      const d = (await s.api("PATCH", base, body)) as Deployment;
      if (d.generation === before.generation) toasts.info(`${what}: nothing changed`);
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
