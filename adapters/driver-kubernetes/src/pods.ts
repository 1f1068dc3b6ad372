import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { REVISION_LABEL, type ObservedFailure, type ObservedReplica } from "@flowplane/core";

/**
 * Pods as replicas, and their troubles as DESIGN's failure reasons. Pure: unit-tested on pod
 * objects shaped as the API server returns them.
 */
const PULL_FAILURES = new Set(["ImagePullBackOff", "ErrImagePull", "InvalidImageName"]);
const CRASH_FAILURES = new Set(["CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"]);

/** How long the cluster must have been refusing a Deployment's pods before it is a failure: admission may refuse one for a moment (a namespace's default account not made yet). */
export const REFUSED_AFTER_MS = 10_000;

/**
 * Pods the cluster refuses to create (an admission policy, a quota, PodSecurity): no pod to read a
 * reason from, only the Deployment's `ReplicaFailure` condition (the ReplicaSet's `FailedCreate`).
 * A failure once it has lasted REFUSED_AFTER_MS with no pod of the generation there.
 */
export function refusedPods(dep: V1Deployment, podsOfGeneration: number, now: number): ObservedFailure | undefined {
  if (podsOfGeneration > 0) return undefined;
  const c = dep.status?.conditions?.find((x) => x.type === "ReplicaFailure" && x.status === "True");
  const since = c?.lastTransitionTime ? new Date(c.lastTransitionTime).getTime() : NaN;
  if (!c || !(now - since >= REFUSED_AFTER_MS)) return undefined;
  return { reason: "PodsRefused", message: `the cluster refuses to create the deployment's pods: ${c.message ?? c.reason ?? "no reason given"}` };
}

/**
 * Whether a pod is the current revision's Deployment's (`runtime`), not another live revision's
 * (`runtime-r<runs>`): by its name, `runtime-<replicaset hash>-<suffix>` against one part more. A
 * replicaset hash may itself begin with `r`, so a prefix test would not tell them apart.
 */
export function ofCurrentDeployment(pod: V1Pod): boolean {
  return /^runtime-[a-z0-9]+-[a-z0-9]+$/.test(pod.metadata?.name ?? "");
}

export function replicaOf(pod: V1Pod): ObservedReplica & { failure?: ObservedFailure } {
  const generation = Number(pod.metadata?.annotations?.["flowplane.io/generation"] ?? 0);
  const cs = pod.status?.containerStatuses?.[0];
  const restarts = cs?.restartCount ?? 0;
  const revision = Number(pod.metadata?.labels?.[REVISION_LABEL]);
  const base = { id: pod.metadata?.name ?? "", generation, restarts, ...(Number.isSafeInteger(revision) && revision > 0 ? { revision } : {}) };
  if (pod.metadata?.deletionTimestamp) return { ...base, state: "draining" };
  const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  if (ready) return { ...base, state: "ready" };
  const waiting = cs?.state?.waiting?.reason ?? "";
  const terminated = cs?.lastState?.terminated ?? cs?.state?.terminated;
  if (PULL_FAILURES.has(waiting)) {
    return { ...base, state: "crashed", lastError: waiting, failure: { reason: "ImagePullBackOff", message: cs?.state?.waiting?.message ?? `cannot pull ${cs?.image ?? "the runtime image"}` } };
  }
  if (CRASH_FAILURES.has(waiting) || (terminated && pod.status?.phase !== "Pending")) {
    const message = (terminated?.message ?? cs?.state?.waiting?.message ?? `the runtime exited (code ${terminated?.exitCode ?? "?"})`).trim();
    return { ...base, state: "crashed", lastError: message, failure: { reason: classify(message, waiting), message: lastLine(message) } };
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False" && scheduled.reason === "Unschedulable") {
    return { ...base, state: "starting", failure: { reason: "Unschedulable", message: scheduled.message ?? "no node can run this replica" } };
  }
  return { ...base, state: "starting" };
}

/** The runtime's own log line (FallbackToLogsOnError puts its last lines in the message) decides. */
function classify(message: string, waiting: string): string {
  if (/digest mismatch|version mismatch/i.test(message)) return "DigestMismatch";
  if (/bundle download/i.test(message)) return "BundleDownloadFailed";
  if (/start-up failed/i.test(message)) return "FlowLoadFailed";
  return waiting === "CreateContainerConfigError" ? "InvalidConfiguration" : "CrashLoopBackOff";
}

function lastLine(message: string): string {
  const lines = message.split("\n").filter(Boolean);
  for (const line of lines.reverse()) {
    try {
      const rec = JSON.parse(line) as { reason?: string; msg?: string };
      if (rec.reason || rec.msg) return rec.reason ?? rec.msg ?? line;
    } catch {
      return line;
    }
  }
  return message;
}
