import { readFileSync } from "node:fs";
import { parseQuantity, type ObservedFailure, type RuntimeSpec } from "@flowplane/core";
import { treeUsage, type ProcessTable } from "./process-usage.js";

/**
 * The memory limit of a deployment's replicas on the local driver. Plain processes have no
 * cgroup, so the driver does what the kubelet's OOM kill does for a pod: a replica whose process
 * tree (the runtime and whatever it starts: lfx's Python) holds more resident memory than the
 * deployment's `resources.memory.limit` is killed and restarted with the usual back-off, its
 * reason shown on the deployment. It is read every few seconds (LocalDriverOptions
 * memoryCheckIntervalMs), so a burst between two readings is not caught: that is what every
 * replica's OOM score adjustment is for (sandbox.ts REPLICA_OOM_SCORE_ADJ): when the machine
 * itself runs out, the kernel takes a replica, never the control plane.
 *
 * RSS counts a page shared by two processes of the tree twice (as `ps` does), so a tree of many
 * processes is held a little earlier than a cgroup's working set would be.
 */

/**
 * The limit in bytes a replica is held to: its pool's (the spec's own, by revision or else by
 * generation, or a warm revision's in `others`), or null when it belongs to none (an old replica
 * being rolled away keeps the limit it was started with until it goes) or the limit does not parse.
 */
export function memoryLimitBytes(spec: RuntimeSpec | undefined, r: { revision?: number | undefined; generation: number }): number | null {
  if (!spec) return null;
  const own = spec.revision !== undefined && r.revision !== undefined ? r.revision === spec.revision : r.generation === spec.generation;
  const pool = own ? spec : (spec.others ?? []).find((o) => r.revision !== undefined && o.revision === r.revision);
  if (!pool) return null;
  const limit = parseQuantity(pool.resources.memory.limit);
  return limit !== null && limit > 0 ? limit : null;
}

const mib = (bytes: number): string => `${Math.round(bytes / 1048576)} MiB`;

/** Why the replica under `pid` must go, or null while its tree holds no more than `limit` bytes (or is gone). */
export function overLimit(table: ProcessTable, pid: number, limit: number): ObservedFailure | null {
  const usage = treeUsage(table, pid);
  if (!usage || usage.memoryBytes <= limit) return null;
  return { reason: "OOMKilled", message: `its processes held ${mib(usage.memoryBytes)}, over the deployment's memory limit of ${mib(limit)}: killed, as Kubernetes would` };
}

/**
 * Why the replica must go when a process of its tree (`pids`, from treePids) holds an OOM score
 * adjustment below `wanted` (sandbox.ts REPLICA_OOM_SCORE_ADJ); null while every one holds it (or
 * is gone). The kernel lets any process lower its own adjustment down to `oom_score_adj_min`,
 * which only a writer holding CAP_SYS_RESOURCE ever raises: a control plane without it (not
 * root, or root in a container, whose default capabilities lack it) starts replicas at 1000
 * that can go back to 0 and so compete with the control plane for the kernel's OOM kill. A
 * replica that does so is killed, as one over its memory limit is.
 */
export async function loweredOomScore(pids: number[], wanted: number): Promise<ObservedFailure | null> {
  for (const pid of pids) {
    let adj: number;
    try {
      adj = Number(readFileSync(`/proc/${pid}/oom_score_adj`, "utf8").trim()); // a /proc read: synchronous, as process-usage.ts says why
    } catch {
      continue; // exited meanwhile
    }
    if (Number.isInteger(adj) && adj < wanted) {
      return { reason: "OOMScoreLowered", message: `one of its processes lowered its OOM score adjustment to ${adj} (replicas run at ${wanted}, so the kernel kills a replica before the control plane): killed` };
    }
  }
  return null;
}
