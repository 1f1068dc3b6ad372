import type { Deployment, DeploymentTraffic } from "./deployment.js";
import type { LiveRevision } from "./traffic-split.js";

/**
 * Which revisions of a deployment have replicas, and with which share of the calls
 * (docs/revisions.md): the current one; during a canary, the stable one beside it; for a grace
 * period after a change, the one before it, warm (one replica, 0%: reached by the target header
 * only, and at once by a rollback to it). Pure functions of the deployment record and the time.
 */

/** The default grace period of the warm revision (FLOWPLANE_WARM_REVISION_SECONDS). */
export const DEFAULT_WARM_SECONDS = 300;

/** The revision the current revision's replicas are started for (its `runs`). */
export function runsOf(d: Pick<Deployment, "revision" | "traffic">): number {
  return d.traffic?.runs ?? d.revision;
}

/** The warm revision while its grace period lasts, unless it is one of the others. */
function warmOf(d: Pick<Deployment, "revision" | "traffic">, now: Date): DeploymentTraffic["warm"] {
  const w = d.traffic?.warm;
  if (!w || Date.parse(w.until) <= now.getTime()) return null;
  if (w.runs === runsOf(d) || w.runs === d.traffic?.canary?.stable.runs) return null;
  return w;
}

/** The live revisions, current first, with their shares (what the gateway's route carries). */
export function liveRevisions(d: Pick<Deployment, "revision" | "traffic">, now: Date): LiveRevision[] {
  const canary = d.traffic?.canary;
  const out: LiveRevision[] = [{ revision: d.revision, runs: runsOf(d), percent: canary ? canary.percent : 100 }];
  if (canary) out.push({ revision: canary.stable.revision, runs: canary.stable.runs, percent: 100 - canary.percent });
  const warm = warmOf(d, now);
  if (warm) out.push({ revision: warm.revision, runs: warm.runs, percent: 0 });
  return out;
}

/** The revisions besides the current one that keep replicas, and how many: the canary's stable revision (all), the warm one (one). */
export function extraPools(d: Pick<Deployment, "revision" | "traffic" | "resources">, now: Date): { revision: number; runs: number; replicas: number }[] {
  const out: { revision: number; runs: number; replicas: number }[] = [];
  const canary = d.traffic?.canary;
  if (canary) out.push({ revision: canary.stable.revision, runs: canary.stable.runs, replicas: d.resources.replicas });
  const warm = warmOf(d, now);
  if (warm) out.push({ revision: warm.revision, runs: warm.runs, replicas: 1 });
  return out;
}

/** When the warm revision's grace period ends (ms since the epoch), while one lasts: the reconciler looks again then. */
export function warmExpiry(d: Pick<Deployment, "revision" | "traffic">, now: Date): number | null {
  const w = warmOf(d, now);
  return w ? Date.parse(w.until) : null;
}

/**
 * The traffic after a change of what runs, from `cur` (the record before it) to a new current
 * revision `revision` whose replicas are `runs`'s: what ran before stays warm for `warmSeconds`
 * (0: none), and a canary under way ends (an edit during a canary replaces the canary).
 * `canaryPercent`: the new revision starts as a canary with that share, beside the one before.
 */
export function trafficAfterChange(cur: Pick<Deployment, "revision" | "traffic">, next: { revision: number; runs: number }, o: { now: Date; warmSeconds: number; canaryPercent?: number }): DeploymentTraffic {
  const before = { revision: cur.revision, runs: runsOf(cur) };
  const warm = o.warmSeconds > 0 && before.runs !== next.runs
    ? { ...before, until: new Date(o.now.getTime() + o.warmSeconds * 1000).toISOString() }
    : null;
  if (o.canaryPercent !== undefined) return { runs: next.runs, canary: { stable: before, percent: o.canaryPercent }, warm: null };
  return { runs: next.runs, canary: null, warm };
}

/**
 * The name under which a runtime's ready endpoints of one revision are published for gateways in
 * other processes (beside the runtime's whole set, under its resource name). `@` never occurs
 * in a resource name (a DNS-1123 label).
 */
export function revisionEndpointsKey(resourceName: string, runs: number): string {
  return `${resourceName}@${runs}`;
}

/** The runtime's resource name a published key (its own, or revisionEndpointsKey's) belongs to. */
export function endpointsKeyResource(key: string): string {
  const at = key.indexOf("@");
  return at < 0 ? key : key.slice(0, at);
}
