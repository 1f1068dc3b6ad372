import { constants } from "node:fs";
import { appendFile, open, rm, stat, truncate, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { writeAtomically } from "./state.js";

/**
 * A running replica's log, rotated in place so that it never reaches the replica's file-size
 * limit (RLIMIT_FSIZE, sandbox.ts). Past that limit the kernel refuses the replica's writes and
 * its log stops for good: a replica that logged a line per run went silent after some hundred
 * thousand runs, and then lost the lines that say why it crashed, the ones a user reads first.
 *
 * The replica writes to `replica-<id>.log` through a descriptor opened with O_APPEND
 * (local-driver.ts `start`), so after a truncation its next write lands at the new end. A
 * rotation (the driver's 5 s timer, only for a file over `atBytes`):
 * 1. copies the file's last `keepBytes` (from a line start) and what was written meanwhile into
 *    `replica-<id>.log.1` (written whole, then renamed over the previous one);
 * 2. records in `replica-<id>.log.meta` where the live file now starts in everything the replica
 *    ever wrote (`base`) and where the kept part starts (`prev`): cursors are offsets in that
 *    whole, so a follow goes on from the kept part into the live file without a gap or a repeat
 *    (one whose cursor is before the kept part resumes at its start: what came before is gone);
 * 3. truncates the live file.
 * What the replica writes between the last read of step 1 and step 3 is lost (the kernel offers
 * no way to cut the head of a file another process appends to): the kept part is written unsynced
 * and what came meanwhile appended to it, so that moment is one small write and the span's;
 * everything else is
 * either in the kept part or in the live file. A deployment's disk use per replica is at most
 * about `atBytes` plus `keepBytes`, plus what a burst writes in one timer period (bounded by the
 * file-size limit).
 */
export interface LogRotation {
  /** The live file's size past which it is rotated. */
  atBytes: number;
  /** How much of its end the rotation keeps, readable as the log's older part. */
  keepBytes: number;
}

/** Where the live file and the kept part sit in everything the replica wrote. */
export interface LogSpan {
  /** Offset of the live file's first byte. */
  base: number;
  /** Offset of the kept part's first byte (`base` minus its length; equal to `base` when there is none). */
  prev: number;
}

export const logPath = (dir: string, id: string): string => join(dir, `replica-${id}.log`);
export const keptPath = (dir: string, id: string): string => `${logPath(dir, id)}.1`;
const spanPath = (dir: string, id: string): string => `${logPath(dir, id)}.meta`;

const NO_SPAN: LogSpan = { base: 0, prev: 0 };

/**
 * A log's rotation, its reads and its reopening for a new output, one at a time: each is several
 * steps (three files), and one seen half way by another gave a follow repeated or foreign lines,
 * or a new output truncated by the old one's rotation. One per driver (the driver reads, rotates
 * and reopens its replicas' logs through it); a read given none takes no lock.
 */
export class LogLocks {
  private readonly busy = new Map<string, Promise<void>>();

  with<T>(dir: string, id: string, fn: () => Promise<T>): Promise<T> {
    const key = logPath(dir, id);
    const run = (this.busy.get(key) ?? Promise.resolve()).then(fn);
    const done = run.then(() => undefined, () => undefined);
    this.busy.set(key, done);
    void done.then(() => {
      if (this.busy.get(key) === done) this.busy.delete(key);
    });
    return run;
  }
}

/** The log's span; none (offsets from 0) when it was never rotated or its record is unreadable. */
export async function readLogSpan(dir: string, id: string): Promise<LogSpan> {
  let raw: unknown;
  try {
    const fh = await open(spanPath(dir, id), "r");
    try {
      raw = JSON.parse(await fh.readFile("utf8"));
    } finally {
      await fh.close();
    }
  } catch {
    return NO_SPAN;
  }
  const { base, prev } = (raw ?? {}) as Record<string, unknown>;
  const ok = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  return ok(base) && ok(prev) && prev <= base ? { base, prev } : NO_SPAN;
}

/** The kept part and span of the log's last rotation, gone (a new output, or the log itself pruned). */
export async function removeRotation(dir: string, id: string): Promise<void> {
  await rm(keptPath(dir, id), { force: true });
  await rm(spanPath(dir, id), { force: true });
}

/**
 * A new log under this id (a replica started or restarted), opened for the replica to append to:
 * its earlier rotations go with the earlier output.
 */
export function openLog(dir: string, id: string, locks: LogLocks): Promise<FileHandle> {
  return locks.with(dir, id, async () => {
    await removeRotation(dir, id);
    return open(logPath(dir, id), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND, 0o600);
  });
}

/** Up to `length` bytes of `path` from `from`. */
export async function readAt(path: string, from: number, length: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, from);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Rotates the replica's live log when it is over `atBytes`; true when it did. */
export function rotateReplicaLog(dir: string, id: string, o: LogRotation, locks: LogLocks): Promise<boolean> {
  return locks.with(dir, id, () => rotate(dir, id, o));
}

async function rotate(dir: string, id: string, o: LogRotation): Promise<boolean> {
  const path = logPath(dir, id);
  const first = await stat(path).catch(() => null);
  if (!first || first.size <= o.atBytes) return false;
  const span = await readLogSpan(dir, id);
  let start = Math.max(0, first.size - o.keepBytes);
  let kept = await readAt(path, start, first.size - start);
  // From a line start, unless the whole kept part is one line (then it is kept cut).
  if (start > 0) {
    const nl = kept.indexOf(0x0a);
    if (nl >= 0 && nl + 1 < kept.length) {
      kept = kept.subarray(nl + 1);
      start += nl + 1;
    }
  }
  // What the replica wrote while the part above was read goes with it.
  const now = (await stat(path)).size;
  let end = Math.max(first.size, now);
  if (end > first.size) kept = Buffer.concat([kept, await readAt(path, first.size, end - first.size)]);
  // Not synced: a kept part lost in a power cut costs some old lines, and a sync here (16 ms for
  // 4 MiB) is time in which what the replica writes is lost at the truncation below.
  await writeAtomically(keptPath(dir, id), kept, { sync: false });
  try {
    // What came while it was written too: what is left before the truncation is one small write.
    const later = (await stat(path)).size;
    if (later > end) {
      await appendFile(keptPath(dir, id), await readAt(path, end, later - end));
      end = later;
    }
    await writeAtomically(spanPath(dir, id), JSON.stringify({ base: span.base + end, prev: span.base + start }), { sync: false });
  } catch (e) {
    // The old span stays: the new kept part would be read at its offsets (same size, other lines).
    await rm(keptPath(dir, id), { force: true }).catch(() => undefined);
    throw e;
  }
  await truncate(path, 0);
  return true;
}
