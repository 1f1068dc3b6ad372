import type { Deployment } from "@flowplane/core/api";

type Limits = Deployment["runtime"]["limits"];
type LimitSet = Limits["deployment"];

/** One limit set for people: "5/s (burst 10), 3 concurrent", or "none". */
function describeSet(l: LimitSet): string {
  const parts: string[] = [];
  if (l.requestsPerSecond !== null) parts.push(`${l.requestsPerSecond}/s (burst ${l.burst ?? Math.max(1, Math.ceil(l.requestsPerSecond))})`);
  if (l.maxConcurrent !== null) parts.push(`${l.maxConcurrent} concurrent`);
  return parts.length ? parts.join(", ") : "none";
}

/** A deployment's rate limits in one line, as `get` shows them (docs/rate-limits-and-idle.md). */
export function describeLimits(l: Limits | undefined): string {
  if (!l) return "none";
  return `deployment ${describeSet(l.deployment)}; per key ${describeSet(l.perKey)}`;
}

/** Scale to zero in one line, as `get` shows it. */
export function describeScaleToZero(z: Deployment["runtime"]["scaleToZero"] | undefined): string {
  if (!z || z.idleMinutes === null) return "off";
  return `after ${z.idleMinutes} min without a request (a request waits up to ${z.wakeTimeoutSeconds} s while it wakes)`;
}

/** What a run request may set through tweaks (runtime.tweaksPolicy) in one line, as `get` and the deploy walk's Review show it. */
export function describeTweaksPolicy(policy: string | undefined): string {
  switch (policy ?? "permissive") {
    case "permissive": return "permissive: any field but Langflow's protected ones";
    case "declared": return "declared: only the fields the flow's author marked editable via API (permissive when none is marked)";
    case "off": return "off: none (the input and session id still reach the flow)";
    default: return String(policy);
  }
}
