import { readFileSync, readdirSync } from "node:fs";

/**
 * CPU time and resident memory of process trees, read from /proc. A replica is a tree: under
 * bubblewrap, bwrap itself, the runtime inside its pid namespace and whatever the runtime
 * starts (lfx's Python); each is an ordinary process of the host's /proc with its host pid, so
 * the tree is found by parent pid from the replica's pid.
 *
 * CPU: utime + stime + cutime + cstime of every live process of the tree, so the time of a
 * child that exited and was reaped (now in its parent's cutime) still counts, and the sum only
 * grows (apart from an unreaped zombie's share, for the moment it is a zombie).
 * Memory: the sum of VmRSS; pages shared between the tree's processes count once per process,
 * as `ps` counts them.
 */

/** Linux's USER_HZ: 100 on every architecture Node runs on (sysconf(_SC_CLK_TCK) is not reachable from Node). */
const TICKS_PER_SECOND = 100;

interface ProcInfo {
  ppid: number;
  /** Exited, not yet reaped by its parent (state Z or X): it holds nothing and runs nothing. */
  zombie?: boolean;
  /** The real uid (/proc/<pid>/status `Uid:`, first field): whose process it is. */
  uid: number;
  cpuTicks: number;
  rssBytes: number;
}

export interface TreeUsage {
  cpuSecondsTotal: number;
  memoryBytes: number;
}

/** Parses /proc/<pid>/stat: the command name (field 2) may hold spaces and parentheses, so fields are counted after its last `)`. */
export function parseStat(text: string): { ppid: number; cpuTicks: number; zombie: boolean } | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  const f = text.slice(close + 2).trim().split(/\s+/);
  // f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
  const n = (i: number) => Number(f[i - 3]);
  const ppid = n(4);
  const ticks = n(14) + n(15) + n(16) + n(17);
  return Number.isFinite(ppid) && Number.isFinite(ticks) ? { ppid, cpuTicks: ticks, zombie: f[0] === "Z" || f[0] === "X" } : null;
}

/** The real uid of /proc/<pid>/status (`Uid:` real, effective, saved, filesystem), or -1 when unreadable. */
export function parseUid(status: string): number {
  const m = /^Uid:\s+(\d+)/m.exec(status);
  return m ? Number(m[1]) : -1;
}

/** VmRSS of /proc/<pid>/status in bytes (0 for a kernel thread or a zombie, which have none). */
export function parseRss(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Synchronous on purpose: a /proc file is generated in memory by the kernel, so a read never
 * waits on a disk, and the thread pool round trip of an async read costs ten times its CPU
 * (measured: 11-18 ms against 1.6-1.8 ms per scan of 65 processes). The liveness goal
 * (bench/liveness.mjs) is what a scan every few seconds is held to.
 */
function readProc(pid: string): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const s = parseStat(stat);
    return s ? { ...s, uid: parseUid(status), rssBytes: parseRss(status) } : null;
  } catch {
    return null; // exited meanwhile, or not ours to read
  }
}

/** Every process of the machine now (pid → parent, uid, CPU ticks, RSS). */
export type ProcessTable = Map<number, ProcInfo>;

export function readProcessTable(): Promise<ProcessTable> {
  return Promise.resolve(readProcessTableSync());
}

/** The same reading, for callers that must not yield between reading and acting (containment.ts). */
export function readProcessTableSync(): ProcessTable {
  const procs: ProcessTable = new Map();
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return procs;
  }
  for (const e of entries) {
    const p = readProc(e);
    if (p) procs.set(Number(e), p);
  }
  return procs;
}

/** The pids of the tree under `root` (itself first) in one reading; empty when `root` is not running. */
export function treePids(procs: ProcessTable, root: number): number[] {
  if (!Number.isSafeInteger(root) || root <= 0 || !procs.has(root)) return [];
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(pid);
    else children.set(p.ppid, [pid]);
  }
  const out: number[] = [];
  const seen = new Set<number>();
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    if (!procs.has(pid)) continue;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** The usage of the tree under `root` in one reading; null when `root` is not running. */
export function treeUsage(procs: ProcessTable, root: number): TreeUsage | null {
  const pids = treePids(procs, root);
  if (pids.length === 0) return null;
  let ticks = 0;
  let rss = 0;
  for (const pid of pids) {
    const p = procs.get(pid)!;
    ticks += p.cpuTicks;
    rss += p.rssBytes;
  }
  return { cpuSecondsTotal: ticks / TICKS_PER_SECOND, memoryBytes: rss };
}

/**
 * A process table shared by the calls of one moment: the sampler asks for every deployment in
 * turn, and one scan of /proc per second serves them all.
 */
export class ProcessTableCache {
  private last: { at: number; table: Promise<ProcessTable> } | undefined;

  constructor(private readonly maxAgeMs = 1_000) {}

  read(): Promise<ProcessTable> {
    // Monotonic: on a wall clock stepped back, the table (and every replica's memory and CPU read
    // from it, the memory limit's kills included) would have stayed as it was for that long.
    const now = performance.now();
    if (!this.last || now - this.last.at > this.maxAgeMs) this.last = { at: now, table: readProcessTable() };
    return this.last.table;
  }
}
