import { spawn } from "node:child_process";
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
 * So a replica is killed as a tree (`endProcesses(treeOf(pid))`); in `user` mode the driver's
 * periodic check ends a deployment's processes that are in no replica's tree (`strays`); a
 * deployment's uid is emptied when the deployment goes and before it is handed out again
 * (`emptyUid`), and a uid a process is seen running under is not handed out (sandbox.ts). In
 * `none` mode a process that left the tree is not found: nothing tells it apart from the control
 * plane's own (README).
 *
 * Pid by pid, a process that forks and exits in a loop (each child forking again) is always one
 * step ahead of the reader: it may be missed by every reading. So emptying a uid is done by the
 * kernel in one step, `kill(-1, SIGKILL)` run as that uid, which reaches every process of the uid
 * at once; the per-pid path serves the cases
 * where a uid's other processes must live (a replica's tree, strays beside running replicas),
 * and strays that outrun it get their whole uid emptied (local-driver.ts).
 *
 * The per-pid steps are synchronous: nothing else of the control plane runs between reading
 * /proc and signalling, so a pid read is a pid signalled (a pid reused in between would need the
 * kernel's whole pid space to wrap within that millisecond). Zombies are never selected: they
 * run nothing and hold nothing, and a machine's init may take its time to reap them.
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
 * Returns the pids killed (a process SIGKILLed may still show in /proc for a moment, not yet
 * torn down: whoever reads /proc right after must not take it for one that got away).
 */
export function endProcesses(select: Selection, o: { read?: () => ProcessTable; maxRounds?: number } = {}): ReadonlySet<number> {
  const read = o.read ?? readProcessTableSync;
  const stopped = new Set<number>();
  for (let round = 0; round < (o.maxRounds ?? MAX_ROUNDS); round++) {
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
  return stopped;
}

/** The tree under `root`, itself included (nothing when it is gone). */
export const treeOf = (root: number): Selection => (table) => treePids(table, root);

/**
 * A deployment's processes (real uid `uid`) in none of its replicas' trees (`roots`, its
 * replicas' recorded pids): they left their replica (a double fork, or a child outliving its
 * runtime). A replica's pid is recorded the moment it is spawned (local-driver.ts `supervise`),
 * so even a replica just started is a root; no other exemption (a child the control plane did
 * not start, made its own by CLONE_PARENT, or any orphan when the control plane is pid 1, is a
 * stray too).
 */
export const strays = (uid: number, roots: readonly number[]): Selection => straysOf(new Map([[uid, roots]]));

/** Every stray of every owner (uid → its replicas' root pids), in one selection: one reading of /proc serves them all. */
export const straysOf = (owners: ReadonlyMap<number, readonly number[]>): Selection => (table) => {
  const rootSets = new Map([...owners].filter(([uid]) => ownable(uid)).map(([uid, roots]) => [uid, new Set(roots)]));
  const out: number[] = [];
  for (const [pid, p] of table) {
    const roots = rootSets.get(p.uid);
    if (roots && !p.zombie && !inReplica(table, pid, roots)) out.push(pid);
  }
  return out;
};

/** Of `owners`, the uids with a stray process now. */
export function uidsWithStrays(table: ProcessTable, owners: ReadonlyMap<number, readonly number[]>): Set<number> {
  return new Set([...straysOf(owners)(table)].map((pid) => table.get(pid)!.uid));
}

const ownable = (uid: number): boolean => Number.isSafeInteger(uid) && uid > 0 && uid !== process.getuid?.();

/** Whether `pid` or an ancestor is one of `roots` (bounded: a reused pid could make a loop). */
function inReplica(table: ProcessTable, pid: number, roots: ReadonlySet<number>): boolean {
  let cur = pid;
  for (let hops = 0; hops < 64; hops++) {
    if (roots.has(cur)) return true;
    const p = table.get(cur);
    if (!p) return false;
    cur = p.ppid;
  }
  return false;
}

/**
 * Every process of `uid` killed at once: `kill(-1, SIGKILL)` run as that uid (the shell's
 * builtin kill, spawned under it, no capability), which the kernel applies to every process of
 * the uid but the caller in one step that no fork escapes (it holds the task list while it
 * signals). Three times over, for a fork that was under way. Its result says nothing of whether
 * any process was there: the kernel answers success as long as the machine has another process,
 * signalled or not. The helper is /bin/sh, not this process's Node: Node installed under root's
 * 0700 home (nvm) is runnable in the sandbox, where its prefix is bound, but not by the uid out
 * here, and every deployment failed to get its uid. Rejects when the helper cannot run as that
 * uid (not root).
 */
export function emptyUid(uid: number): Promise<void> {
  if (!ownable(uid)) return Promise.reject(new Error(`uid ${uid} is not a deployment's`));
  const script = "kill -KILL -1 2>/dev/null; kill -KILL -1 2>/dev/null; kill -KILL -1 2>/dev/null; exit 0";
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", script], { uid, gid: uid, env: {}, cwd: "/", stdio: "ignore" });
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`the uid helper ended with ${code}`))));
  });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already, or not ours to signal
  }
}
