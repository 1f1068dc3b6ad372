import type { Deployment } from "./deployment.js";
import type { IsolationMode, ObservedReplica, ObservedRuntime } from "./driver.js";
import { extraPools, runsOf } from "./live-revisions.js";
import type { Condition, ConditionStatus, DeploymentStatus, Phase } from "./status.js";

/**
 * The status of a deployment from its desired state and what the driver observed: a pure
 * function, so the reconciler only stores what this returns and every rule is unit-tested.
 *
 * - Failed: the driver reports a failure (nothing can serve and waiting will not help),
 *   or the pinned version is gone.
 * - Ready: as many ready replicas of the current generation as asked, no older ones left.
 * - Updating: a newer generation is rolling out while replicas serve.
 * - Degraded: serving, but with fewer ready replicas than asked because some crashed.
 * - Starting: replicas exist and none has failed, but not all are ready yet.
 * - Provisioning: nothing exists yet.
 * - Disabled: the kill switch is on, whatever runs (the gateway answers 503 for it).
 * - Idle: scaled to zero (`sleeping`), once no replica is left; the gateway wakes it on the next request.
 *
 * The `Isolated` condition reports how the driver keeps the replicas from the control plane's
 * data and other deployments (`ObservedRuntime.isolation`): False when it cannot, so an
 * operator sees it on every deployment, not only in a start-up log line.
 */
export function computeStatus(d: Deployment, o: ObservedRuntime, opts: { now: string; versionMissing?: boolean }): DeploymentStatus {
  const desired = d.disabled?.stopReplicas || d.sleeping ? 0 : d.resources.replicas;
  // The current revision's replicas: of its generation, or started for the revision it runs (a
  // rollback's are the restored revision's). The other live revisions' (a canary's stable one,
  // the warm one) are kept on purpose: they are neither current nor old.
  const runs = runsOf(d);
  // By revision when the replica names one (another live revision's replicas may carry the
  // current generation: on Kubernetes their Deployment is rendered from the same record).
  const isCurrent = (r: ObservedReplica) => (r.revision !== undefined ? r.revision === runs : r.generation === d.generation);
  // Each other live revision keeps its count of replicas (ready ones first); beyond that, its
  // replicas are old ones on their way out (a rolling update from the revision now kept warm).
  const kept = new Set<ObservedReplica>();
  for (const pool of extraPools(d, new Date(opts.now))) {
    const mine = o.replicas.filter((r) => !isCurrent(r) && r.revision === pool.runs && r.state !== "draining")
      .sort((a, b) => (a.state === "ready" ? 0 : 1) - (b.state === "ready" ? 0 : 1));
    for (const r of mine.slice(0, pool.replicas)) kept.add(r);
  }
  const current = o.replicas.filter((r) => isCurrent(r) && r.state !== "draining");
  const readyCurrent = current.filter((r) => r.state === "ready").length;
  // Ready replicas that serve the deployment as it is now: the current and the old (a rolling
  // update), not the other live revisions' (reported with `liveRevisions`).
  const ready = o.replicas.filter((r) => r.state === "ready" && !kept.has(r)).length;
  const older = o.replicas.filter((r) => !isCurrent(r) && !kept.has(r)).length;
  const applied = o.exists && o.appliedGeneration === d.generation;

  let phase: Phase;
  let reason: string;
  let message: string;
  if (d.disabled) {
    const kept = d.disabled.stopReplicas ? "its replicas are stopped" : `${ready} replica(s) kept warm`;
    [phase, reason, message] = ["Disabled", "Disabled", `disabled by ${d.disabled.by}: the gateway answers 503; ${kept}`];
  } else if (d.sleeping && !opts.versionMissing) {
    [phase, reason, message] = ready > 0 || o.replicas.length > 0
      ? ["Idle", "ScalingToZero", `idle since ${d.sleeping.since}: stopping ${o.replicas.length} replica(s)`]
      : ["Idle", "ScaledToZero", `idle since ${d.sleeping.since}: no replica runs; the next request wakes it`];
  } else if (opts.versionMissing) {
    [phase, reason, message] = ["Failed", "VersionNotFound", `${d.bundle.name}@${d.bundle.version} no longer exists: change the version`];
  } else if (o.failure && readyCurrent === 0) {
    [phase, reason, message] = ["Failed", o.failure.reason, o.failure.message];
  } else if (applied && readyCurrent >= desired && older === 0) {
    [phase, reason, message] = ["Ready", "AllReplicasReady", `${readyCurrent}/${desired} replicas ready`];
  } else if (ready > 0 && (older > 0 || !applied)) {
    [phase, reason, message] = ["Updating", "RollingUpdate", `generation ${d.generation}: ${readyCurrent}/${desired} new replicas ready, ${older} old replica(s) left`];
  } else if (ready > 0 && (o.failure || current.some((r) => r.state === "crashed" || r.restarts > 0))) {
    const why = o.failure ? `: ${o.failure.message}` : "";
    [phase, reason, message] = ["Degraded", o.failure?.reason ?? "ReplicasRestarting", `${ready}/${desired} replicas ready${why}`];
  } else if (ready > 0) {
    // Serving while the other replicas are still starting for the first time: not trouble yet.
    [phase, reason, message] = ["Starting", "ReplicasStarting", `${ready}/${desired} replicas ready, the others are starting`];
  } else if (o.replicas.length > 0) {
    [phase, reason, message] = ["Starting", "ReplicasStarting", "replicas are downloading the bundle and loading flows"];
  } else {
    [phase, reason, message] = ["Provisioning", "Provisioning", "creating the runtime"];
  }

  const prior = new Map(d.status.conditions.map((c) => [c.type, c]));
  const cond = (type: string, ok: boolean | null, r: string, m: string): Condition => {
    const status: ConditionStatus = ok === null ? "Unknown" : ok ? "True" : "False";
    const before = prior.get(type);
    const lastTransitionTime = before && before.status === status ? before.lastTransitionTime : opts.now;
    return { type, status, reason: r, message: m, lastTransitionTime };
  };
  const conditions = [
    cond("BundleResolved", !opts.versionMissing, opts.versionMissing ? "VersionNotFound" : "Pinned", `${d.bundle.name}@${d.bundle.version} (${d.bundle.digest})`),
    cond("SecretsApplied", applied ? true : o.exists ? false : null, applied ? "Applied" : "Pending", applied ? `generation ${d.generation} applied` : "waiting for the driver"),
    cond("RuntimeAvailable", readyCurrent >= desired && older === 0, reason, message),
    d.disabled
      ? cond("Routed", false, "Disabled", "the kill switch is on: the gateway answers 503 with Retry-After")
      : d.sleeping && ready === 0
      ? cond("Routed", true, "WakeOnRequest", "scaled to zero: the gateway holds the next request and wakes the deployment")
      : cond("Routed", ready > 0, ready > 0 ? "Routed" : "NoReadyReplica", ready > 0 ? `${ready} ready replica(s) behind the gateway` : "no ready replica to route to"),
    o.isolation
      ? cond("Isolated", o.isolation.mode !== "none", ISOLATION_REASONS[o.isolation.mode], o.isolation.detail)
      : cond("Isolated", null, "Pending", "waiting for the driver"),
  ];
  return { phase, observedGeneration: applied ? d.generation : d.status.observedGeneration, readyReplicas: ready, conditions };
}

/** The `Isolated` condition's reason for each isolation mode. */
const ISOLATION_REASONS: Record<IsolationMode, string> = { sandbox: "Sandboxed", user: "SeparateUser", pod: "Pod", none: "NotIsolated" };

/** Phases in which the reconciler looks again soon instead of waiting for the periodic resync. */
export function isSettled(phase: Phase): boolean {
  return phase === "Ready" || phase === "Failed" || phase === "Disabled" || phase === "Idle";
}
