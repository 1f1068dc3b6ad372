import { readdir, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { LogRead, ReplicaLogChunk } from "@flowplane/core";
import { keptPath, readAt, readLogSpan, removeRotation, type LogLocks, type LogSpan } from "./log-rotation.js";

/**
 * The local driver's `readLogs`: each replica writes its stdout and stderr to
 * `replica-<id>.log` in the deployment's folder (local-driver.ts `start`), and the file stays
 * there after the replica is gone: the GONE_LOGS_KEPT most recent of those (pruneReplicaLogs, at
 * every new replica's start), and those of the replicas the last rollout replaced (still running
 * when the new ones started), until the deployment is deleted. A running replica's log is
 * rotated before it reaches the file-size limit (log-rotation.ts): its older part is the kept
 * `.1`, read before the live file by a tail that wants more lines and by a follow that had not
 * reached the rotation. A cursor is the file's inode and the offset read up to in everything the
 * replica wrote (rotations included): a replica restarted under the same id truncates its file
 * (a new inode, or an offset past the end), and the read then starts again from the top.
 */
export interface ReplicaLogOptions {
  /** How many replicas' logs a read answers at most: the most recently written ones (default 10). */
  maxReplicas?: number;
  /**
   * How many bytes one read takes at most, from all the files it reads together (default 1 MiB),
   * shared evenly between them (never under MIN_FILE_BYTES each, unless the whole is less); the cursor says where each
   * stopped. It was 1 MiB per file: with ten replicas' logs (gone ones count) a read was 10 MiB
   * of lines that the control plane parses and writes out on its event loop, about a second and a
   * half per read, so a viewer who asked `?tail=5000` in a loop, or followed it, stalled the API
   * for every team.
   */
  maxBytes?: number;
  /** The driver's locks on its logs, so a read sees a rotation before or after, never half way. */
  locks?: LogLocks;
}

const FILE = /^replica-([A-Za-z0-9]+)\.log$/;
// And the state file's (state.ts StateFile): a control plane killed between its write and its rename left one per crash.
const ROTATION_LEFTOVER = /^(?:replica-[A-Za-z0-9]+\.log\.(?:1|meta)|state\.json)\.\d+\.[0-9a-f]+\.tmp$/;
/** Older than any rotation takes: not one under way. */
const LEFTOVER_AGE_MS = 60_000;
const DEFAULT_TAIL = 100;
/** The least one read takes from one file, however many it reads: a long line still comes (cut) and a follow moves on. */
const MIN_FILE_BYTES = 64 * 1024;

/**
 * How many logs of replicas that are gone a deployment keeps (the most recently written), as
 * many as a read answers by default: what a user can still read after a crash or a rollout.
 */
export const GONE_LOGS_KEPT = 10;

/**
 * Removes the logs of gone replicas beyond the `keepGone` most recently written; the logs of
 * `current` replicas (ids) are never touched. Each file is capped at the replica's file-size
 * limit, but every rollout starts replicas under new ids: without this, a deployment edited in a
 * loop (or crash-looping through rollouts) filled the disk the control plane's database is on,
 * one capped file per replica it ever had. Best effort: a file that cannot be removed stays.
 */
export async function pruneReplicaLogs(dir: string, current: ReadonlySet<string>, keepGone = GONE_LOGS_KEPT): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const gone: { id: string; path: string; mtimeMs: number }[] = [];
  for (const name of names) {
    // A rotation's temporary file left by a control plane that stopped half way (state.ts writeAtomically): up to the kept part's size each.
    if (ROTATION_LEFTOVER.test(name)) {
      const st = await stat(join(dir, name)).catch(() => null);
      if (st && Date.now() - st.mtimeMs > LEFTOVER_AGE_MS) await rm(join(dir, name), { force: true }).catch(() => undefined);
      continue;
    }
    const m = FILE.exec(name);
    if (!m || current.has(m[1]!)) continue;
    const st = await stat(join(dir, name)).catch(() => null);
    if (st) gone.push({ id: m[1]!, path: join(dir, name), mtimeMs: st.mtimeMs });
  }
  gone.sort((a, b) => b.mtimeMs - a.mtimeMs);
  let removed = 0;
  for (const f of gone.slice(keepGone)) {
    if (!(await unlink(f.path).then(() => true, () => false))) continue;
    removed++;
    // Its rotation's kept part and span go with it (log-rotation.ts).
    await removeRotation(dir, f.id).catch(() => undefined);
  }
  return removed;
}

export async function readReplicaLogs(dir: string, read: LogRead, o: ReplicaLogOptions = {}): Promise<ReplicaLogChunk[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const files: { replica: string; path: string; ino: number; size: number; mtimeMs: number }[] = [];
  for (const name of names) {
    const m = FILE.exec(name);
    if (!m || (read.replica !== undefined && m[1] !== read.replica)) continue;
    const path = join(dir, name);
    const st = await stat(path).catch(() => null);
    if (st) files.push({ replica: m[1]!, path, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs });
  }
  files.sort((a, b) => b.mtimeMs - a.mtimeMs);
  const kept = files.slice(0, o.maxReplicas ?? 10).reverse(); // oldest first
  const total = o.maxBytes ?? 1024 * 1024;
  const maxBytes = Math.max(Math.min(MIN_FILE_BYTES, total), Math.floor(total / Math.max(1, kept.length)));
  return Promise.all(kept.map(async (f): Promise<ReplicaLogChunk> => {
    try {
      // Not while the log is rotated (log-rotation.ts LogLocks): its size, span and kept part of one moment.
      const locked = <T>(fn: () => Promise<T>) => (o.locks ? o.locks.with(dir, f.replica, fn) : fn());
      return await locked(async () => {
        const st = await stat(f.path);
        const live = { path: f.path, ino: st.ino, size: st.size };
        const span = await readLogSpan(dir, f.replica);
        const kept = span.base > span.prev ? await stat(keptPath(dir, f.replica)).catch(() => null) : null;
        // The kept part, when its size is the one its span says (else it is gone or half written: not read).
        const older = kept && kept.size === span.base - span.prev ? keptPath(dir, f.replica) : null;
        const chunk = await readOne(live, span, older, read.cursors?.[f.replica], read.tailLines ?? DEFAULT_TAIL, maxBytes);
        return { replica: f.replica, lines: chunk.lines, cursor: `${live.ino}:${chunk.end}` };
      });
    } catch (e) {
      return { replica: f.replica, lines: [], cursor: read.cursors?.[f.replica] ?? `${f.ino}:0`, error: `cannot read the replica's log (${(e as NodeJS.ErrnoException).code ?? "error"})` };
    }
  }));
}

/**
 * One replica's chunk; offsets (`end`, cursors) count from the first byte the replica wrote,
 * `span.base` being the live file's first (0 until a rotation). `older`: the path of the last
 * rotation's kept part (from `span.prev`), if it is there whole.
 */
async function readOne(f: { path: string; ino: number; size: number }, span: LogSpan, older: string | null, cursor: string | undefined, n: number, maxBytes: number): Promise<{ lines: string[]; end: number }> {
  const { base, prev } = span;
  const from = parseCursor(cursor, f.ino, base + f.size);
  if (from === null) {
    const live = await tail(f.path, f.size, n, maxBytes);
    const lines = live.lines;
    // Fewer lines than asked since the rotation: the rest from its kept part. Not when the read
    // cap cut the live file's lines short: the kept part's would come before a gap.
    if (older && lines.length < n && f.size <= maxBytes) lines.unshift(...(await tail(older, base - prev, n - lines.length, maxBytes, true)).lines);
    return { lines, end: base + live.end };
  }
  if (from >= base) {
    const chunk = await after(f.path, from - base, f.size, maxBytes);
    return { lines: chunk.lines, end: base + chunk.end };
  }
  // Behind the live file: the follow goes on in the kept part (from its start when the cursor is
  // older still: what came before it is gone), then in the live file.
  if (!older) {
    const chunk = await after(f.path, 0, f.size, maxBytes);
    return { lines: chunk.lines, end: base + chunk.end };
  }
  const at = Math.max(from, prev) - prev;
  const chunk = await after(older, at, base - prev, maxBytes, true);
  return { lines: chunk.lines, end: prev + chunk.end };
}

/** The offset to read from, or null for a tail (no cursor); 0 when the file is a new one or the cursor is past its end. */
function parseCursor(cursor: string | undefined, ino: number, end: number): number | null {
  if (cursor === undefined) return null;
  const m = /^(\d+):(\d+)$/.exec(cursor);
  if (!m) return null;
  const offset = Number(m[2]);
  return Number(m[1]) === ino && offset <= end ? offset : 0;
}

const endsMidLine = (buf: Buffer): boolean => buf.length > 0 && buf[buf.length - 1] !== 0x0a;
/** Every line in `buf`, a last one without its line break included (a file that grows no more). */
const allLines = (buf: Buffer): string[] => wholeLines(Buffer.concat([buf, Buffer.from("\n")])).lines;

/** Whole lines in `buf` (a trailing partial line is left for the next read); `consumed` bytes of it. */
function wholeLines(buf: Buffer): { lines: string[]; consumed: number } {
  const last = buf.lastIndexOf(0x0a);
  if (last < 0) return { lines: [], consumed: 0 };
  const lines = buf.subarray(0, last).toString("utf8").split("\n").filter((l) => l.length > 0);
  return { lines, consumed: last + 1 };
}

/**
 * Whole lines of `path` from `from`, at most `maxBytes`. `final`: the file grows no more (a
 * rotation's kept part), so a last line without its line break is a line (its rest, if the
 * replica was writing it then, begins the live file).
 */
async function after(path: string, from: number, size: number, maxBytes: number, final = false): Promise<{ lines: string[]; end: number }> {
  if (size <= from) return { lines: [], end: from };
  const buf = await readAt(path, from, Math.min(size - from, maxBytes));
  if (final && from + buf.length >= size && endsMidLine(buf)) return { lines: allLines(buf), end: from + buf.length };
  const { lines, consumed } = wholeLines(buf);
  // A full read without a newline is one line longer than a read: it comes cut at maxBytes (its
  // rest in the next reads), or a follow would read the same bytes for ever and never move on.
  if (consumed === 0 && buf.length >= maxBytes) return { lines: [buf.toString("utf8")], end: from + buf.length };
  return { lines, end: from + consumed };
}

/** The last `n` lines of `path`; `final` as in `after` (a kept part's last line, cut by the rotation, is a line). */
async function tail(path: string, size: number, n: number, maxBytes: number, final = false): Promise<{ lines: string[]; end: number }> {
  const start = Math.max(0, size - maxBytes);
  let buf = await readAt(path, start, size - start);
  // Started mid-file: the first line is partial.
  if (start > 0) {
    const nl = buf.indexOf(0x0a);
    buf = nl < 0 ? Buffer.alloc(0) : buf.subarray(nl + 1);
  }
  if (final && endsMidLine(buf)) return { lines: n > 0 ? allLines(buf).slice(-n) : [], end: size };
  const { lines, consumed } = wholeLines(buf);
  return { lines: n > 0 ? lines.slice(-n) : [], end: size - (buf.length - consumed) };
}
