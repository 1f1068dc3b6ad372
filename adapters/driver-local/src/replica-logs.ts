import { open, readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { LogRead, ReplicaLogChunk } from "@flowplane/core";

/**
 * The local driver's `readLogs`: each replica writes its stdout and stderr to
 * `replica-<id>.log` in the deployment's folder (local-driver.ts `start`), and the file stays
 * there after the replica is gone: the GONE_LOGS_KEPT most recent of those (pruneReplicaLogs, at
 * every new replica's start), and those of the replicas the last rollout replaced (still running
 * when the new ones started), until the deployment is deleted. A cursor is the file's inode
 * and the byte offset read up to: a replica restarted under the same id truncates its file (a
 * new inode or a shorter file), and the read then starts again from the top.
 */
export interface ReplicaLogOptions {
  /** How many replicas' logs a read answers at most: the most recently written ones (default 10). */
  maxReplicas?: number;
  /** How many bytes one read takes from one file at most (default 1 MiB); the cursor says where it stopped. */
  maxBytes?: number;
}

const FILE = /^replica-([A-Za-z0-9]+)\.log$/;
const DEFAULT_TAIL = 100;

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
  const gone: { path: string; mtimeMs: number }[] = [];
  for (const name of names) {
    const m = FILE.exec(name);
    if (!m || current.has(m[1]!)) continue;
    const st = await stat(join(dir, name)).catch(() => null);
    if (st) gone.push({ path: join(dir, name), mtimeMs: st.mtimeMs });
  }
  gone.sort((a, b) => b.mtimeMs - a.mtimeMs);
  let removed = 0;
  for (const f of gone.slice(keepGone)) {
    if (await unlink(f.path).then(() => true, () => false)) removed++;
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
  const maxBytes = o.maxBytes ?? 1024 * 1024;
  return Promise.all(kept.map(async (f): Promise<ReplicaLogChunk> => {
    try {
      const from = parseCursor(read.cursors?.[f.replica], f.ino, f.size);
      const chunk = from === null ? await tail(f.path, f.size, read.tailLines ?? DEFAULT_TAIL, maxBytes) : await after(f.path, from, f.size, maxBytes);
      return { replica: f.replica, lines: chunk.lines, cursor: `${f.ino}:${chunk.end}` };
    } catch (e) {
      return { replica: f.replica, lines: [], cursor: read.cursors?.[f.replica] ?? `${f.ino}:0`, error: `cannot read the replica's log (${(e as NodeJS.ErrnoException).code ?? "error"})` };
    }
  }));
}

/** The offset to read from, or null for a tail (no cursor); 0 when the file is a new one or shorter than the cursor. */
function parseCursor(cursor: string | undefined, ino: number, size: number): number | null {
  if (cursor === undefined) return null;
  const m = /^(\d+):(\d+)$/.exec(cursor);
  if (!m) return null;
  const offset = Number(m[2]);
  return Number(m[1]) === ino && offset <= size ? offset : 0;
}

/** Whole lines in `buf` (a trailing partial line is left for the next read); `consumed` bytes of it. */
function wholeLines(buf: Buffer): { lines: string[]; consumed: number } {
  const last = buf.lastIndexOf(0x0a);
  if (last < 0) return { lines: [], consumed: 0 };
  const lines = buf.subarray(0, last).toString("utf8").split("\n").filter((l) => l.length > 0);
  return { lines, consumed: last + 1 };
}

async function readAt(path: string, from: number, length: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, from);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function after(path: string, from: number, size: number, maxBytes: number): Promise<{ lines: string[]; end: number }> {
  if (size <= from) return { lines: [], end: from };
  const buf = await readAt(path, from, Math.min(size - from, maxBytes));
  const { lines, consumed } = wholeLines(buf);
  // A full read without a newline is one line longer than a read: it comes cut at maxBytes (its
  // rest in the next reads), or a follow would read the same bytes for ever and never move on.
  if (consumed === 0 && buf.length >= maxBytes) return { lines: [buf.toString("utf8")], end: from + buf.length };
  return { lines, end: from + consumed };
}

async function tail(path: string, size: number, n: number, maxBytes: number): Promise<{ lines: string[]; end: number }> {
  const start = Math.max(0, size - maxBytes);
  let buf = await readAt(path, start, size - start);
  // Started mid-file: the first line is partial.
  if (start > 0) {
    const nl = buf.indexOf(0x0a);
    buf = nl < 0 ? Buffer.alloc(0) : buf.subarray(nl + 1);
  }
  const { lines, consumed } = wholeLines(buf);
  return { lines: n > 0 ? lines.slice(-n) : [], end: size - (buf.length - consumed) };
}
