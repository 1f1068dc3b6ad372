import { useEffect, useRef, useState } from "react";
import { errorText, type Api } from "../api/client";
import type { DeployDraft, DeployStep, DryRun } from "@flowplane/core/api";

export interface DryRunState {
  /** True only when the server's answer is for exactly the current input and says valid. */
  valid: boolean;
  checking: boolean;
  result: DryRun | null;
  /** A failed call (network, 403, 404), as text. */
  failure: string | null;
}

/**
 * Validates one dialog step on the server (`?dryRun=true&step=`), debounced while the user
 * types. Answers that arrive for an older input are dropped, so Next is never enabled by a
 * stale "valid".
 */
export function useDryRun(api: Api, projectId: string, step: DeployStep, body: DeployDraft, delayMs = 300): DryRunState {
  const key = `${projectId}|${step}|${JSON.stringify(body)}`;
  const [answer, setAnswer] = useState<{ key: string; result: DryRun | null; failure: string | null } | null>(null);
  const latest = useRef(key);
  latest.current = key;
  useEffect(() => {
    if (!projectId) {
      setAnswer({ key, result: { valid: false, errors: [{ field: "projectId", message: "choose a project" }] }, failure: null });
      return;
    }
    const t = setTimeout(() => {
      // Both outcomes end in setAnswer: the first `then` turns a failure into an answer.
      void api("createDeployment", { params: { projectId }, query: { dryRun: "true", step }, body })
        .then((r) => ("valid" in r ? { result: r, failure: null } : { result: null, failure: "the server deployed where a dry run was asked" }), (e: unknown) => ({ result: null, failure: errorText(e) }))
        .then((a) => {
          if (latest.current === key) setAnswer({ key, ...a });
        });
    }, delayMs);
    return () => clearTimeout(t);
    // `key` captures projectId, step and body.
  }, [key, api, delayMs]);
  const current = answer?.key === key ? answer : null;
  return {
    valid: current?.result?.valid === true,
    checking: current === null,
    // Keep showing the last messages while a new check runs, so they do not flicker.
    result: current?.result ?? answer?.result ?? null,
    failure: current?.failure ?? null,
  };
}
