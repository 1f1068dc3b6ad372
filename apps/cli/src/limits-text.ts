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
