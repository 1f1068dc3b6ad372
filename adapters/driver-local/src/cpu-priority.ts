import { readFileSync, writeFileSync } from "node:fs";

/**
 * A replica's CPU priority where the kernel schedules each session as a group (autogroup:
 * `kernel.sched_autogroup_enabled` is 1 and the process is in the root cpu cgroup, as in a
 * terminal on many distributions). There, a process's niceness (sandbox.ts REPLICA_NICE) orders
 * it only against the processes of its own session, and every replica starts a session of its
 * own (so does lfx's Python, and so may any code a flow runs, with setsid): each session weighs
 * as much as the control plane's. What orders sessions is their group's own niceness,
 * `/proc/<pid>/autogroup`, which any process may raise for its own session and lower back to 0.
 * So the driver sets it for every session a replica's processes are in, at the start and at
 * every check (local-driver.ts checkMemory): one that went back to 0, or a new session, is held
 * at the replicas' niceness again within a check. The control plane's own session is never
 * touched.
 */

/** True when this kernel groups the scheduling of sessions (autogroup is on). */
export function autogroupsOn(): boolean {
  try {
    return readFileSync("/proc/sys/kernel/sched_autogroup_enabled", "utf8").trim() === "1";
  } catch {
    return false; // no autogroup in this kernel
  }
}

/** `/proc/<pid>/autogroup` as its group's name and niceness (`/autogroup-123 nice 0`), or null (gone, or no autogroup). */
function readAutogroup(pid: number | "self"): { group: string; nice: number } | null {
  try {
    const m = /^(\S+) nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, "utf8")); // a /proc read: synchronous, as process-usage.ts says why
    return m ? { group: m[1]!, nice: Number(m[2]) } : null;
  } catch {
    return null;
  }
}

/**
 * Raises the scheduling group niceness of every session `pids` are in to `nice` where it is
 * lower; never the control plane's own group.
 */
export function holdSessionsAt(pids: readonly number[], nice: number): void {
  const own = readAutogroup("self")?.group;
  const seen = new Set<string>();
  for (const pid of pids) {
    const g = readAutogroup(pid);
    if (!g || g.group === own || seen.has(g.group)) continue;
    seen.add(g.group);
    if (g.nice >= nice) continue;
    try {
      writeFileSync(`/proc/${pid}/autogroup`, String(nice));
    } catch {
      // exited meanwhile
    }
  }
}
