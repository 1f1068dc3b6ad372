import { readProcessTableSync, treePids, type ProcessTable } from "./process-usage.js";

/**
 * Ending a replica's processes wherever they went, where no pid namespace does it for us.
 *
 * In the sandbox the runtime is pid 1 of its own pid namespace: when it dies, the kernel kills
 * everything in the namespace, and a process that double-forks is re-parented to the runtime,
 * so it stays in the replica's tree. Without the sandbox (isolation `user` or `none`) neither
 * holds:
 * - a child started in a session of its own (lfx's Python is: it is stopped as a group) is
 *   re-parented to the machine's init when the runtime is SIGKILLed (a memory kill, a start
 *   timeout, a drain past its grace), and lived on with its memory and the deployment's
 *   credentials in its environment;
 * - a process that double-forks leaves the tree at once;
 * - in `user` mode such a process keeps the deployment's uid, which a later deployment can be
 *   given once this one is gone: it could then read that deployment's environment in /proc.
 *
 * So a replica is killed as a tree (`endProcesses(treeOf(pid))`), a deployment's uid is emptied
 * of processes when the deployment goes (`ofUid`; a uid some process still runs under is never
 * handed out, sandbox.ts), and in `user` mode the driver's periodic check ends a deployment's
 * processes that are in no replica's tree (`strays`). In `none` mode a process that left the tree is not found: nothing tells it apart
 * from the control plane's own (README).
 *
 * Every step is synchronous: nothing else of the control plane runs between reading /proc and
 * signalling, so a pid read is a pid signalled (a pid reused in between would need the kernel's
 * whole pid space to wrap within that millisecond).
 */

/** Which pids, in one reading of the process table, are to be ended. */
export type Selection = (table: ProcessTable) => Iterable<number>;

/** Rounds of reading and stopping before the kill: each stops what the round before found forking. */
const MAX_ROUNDS = 8;

/**
 * Stops every selected process (SIGSTOP: a stopped process cannot fork), reads again until a
 * reading finds nothing new (a child forked while /proc was being read, before its parent
 * stopped, is found by the next one), then SIGKILLs them all: a process killed while its
 * children run on would orphan them, and out of the tree they would no longer be selected.
 * Returns how many were killed.
 */
export function endProcesses(select: Selection, o: { read?: () => ProcessTable } = {}): number {
  const read = o.read ?? readProcessTableSync;
  const stopped = new Set<number>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const table = read();
    let fresh = 0;
    for (const pid of select(table)) {
      if (stopped.has(pid) || pid === process.pid || pid <= 1) continue;
      signal(pid, "SIGSTOP");
      stopped.add(pid);
      fresh += 1;
    }
    if (fresh === 0) break;
  }
  for (const pid of stopped) signal(pid, "SIGKILL");
  return stopped.size;
}

/** The tree under `root`, itself included (nothing when it is gone). */
export const treeOf = (root: number): Selection => (table) => treePids(table, root);

/** Every process whose real uid is `uid` (never root's or this process's own: those are the machine's and the control plane's). */
export const ofUid = (uid: number): Selection => (table) => {
  const out: number[] = [];
  if (!ownable(uid)) return out;
  for (const [pid, p] of table) if (p.uid === uid) out.push(pid);
  return out;
};

/**
 * A deployment's processes (real uid `uid`) that are in none of its replicas' trees (`roots`)
 * and were not started by this process itself (a replica spawned this instant, before its pid
 * is recorded): they left their replica (a double fork, or a child outliving its runtime).
 */
export const strays = (uid: number, roots: readonly number[], parent = process.pid): Selection => (table) => {
  if (!ownable(uid)) return [];
  const rootSet = new Set(roots);
  const out: number[] = [];
  for (const [pid, p] of table) if (p.uid === uid && !inReplica(table, pid, rootSet, parent)) out.push(pid);
  return out;
};

/** Of `owners` (uid → its replicas' root pids), the uids with a stray process: one pass over the table for every deployment. */
export function uidsWithStrays(table: ProcessTable, owners: ReadonlyMap<number, readonly number[]>, parent = process.pid): Set<number> {
  const out = new Set<number>();
  const rootSets = new Map([...owners].filter(([uid]) => ownable(uid)).map(([uid, roots]) => [uid, new Set(roots)]));
  for (const [pid, p] of table) {
    const roots = rootSets.get(p.uid);
    if (roots && !out.has(p.uid) && !inReplica(table, pid, roots, parent)) out.add(p.uid);
  }
  return out;
}

const ownable = (uid: number): boolean => uid > 0 && uid !== process.getuid?.();

/** Whether `pid` or an ancestor is one of `roots`, or was started by `parent` (bounded: a reused pid could make a loop). */
function inReplica(table: ProcessTable, pid: number, roots: ReadonlySet<number>, parent: number): boolean {
  let cur = pid;
  for (let hops = 0; hops < 64; hops++) {
    if (roots.has(cur)) return true;
    const p = table.get(cur);
    if (!p) return false;
    if (p.ppid === parent) return true;
    cur = p.ppid;
  }
  return false;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already, or not ours to signal
  }
}
