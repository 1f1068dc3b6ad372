import { writeSync } from "node:fs";

/** Writes of at most this size to a pipe are atomic (PIPE_BUF on Linux): lines from several workers never interleave mid-line. */
const ATOMIC = 4096;

/**
 * A worker's log destination: lines are gathered and written in batches of whole lines, up to
 * 4 KiB per write, at most `flushMs` later. One write per request (the access log's line, with
 * the logger's default synchronous destination) cost about as much CPU as proxying the request.
 * Every batch is flushed before the process exits, unless the worker leaves because its control
 * plane is gone (`abandon`): then, as when it is killed, it loses at most the last `flushMs` of lines.
 */
export function batchedStdout(o: { fd?: number; flushMs?: number } = {}): { write(line: string): void; flush(): void; abandon(): void } {
  const fd = o.fd ?? 1;
  let pending: string[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  let abandoned = false;
  const flush = () => {
    if (abandoned) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    let batch = "";
    for (const line of pending) {
      if (batch.length > 0 && batch.length + line.length > ATOMIC) {
        writeAll(fd, batch);
        batch = "";
      }
      batch += line;
    }
    if (batch) writeAll(fd, batch);
    pending = [];
    size = 0;
  };
  process.on("exit", flush);
  return {
    write(line) {
      pending.push(line);
      size += line.length;
      if (size >= ATOMIC) flush();
      else timer ??= setTimeout(flush, o.flushMs ?? 50).unref();
    },
    flush,
    /**
     * Never write again (the lines still pending are dropped). For a worker whose control plane
     * is gone: whoever read its output may be gone too, and a write to a full pipe nobody reads
     * blocks for ever; a worker blocked there would outlive its control plane.
     */
    abandon() {
      abandoned = true;
      pending = [];
    },
  };
}

function writeAll(fd: number, text: string): void {
  // A Buffer of its own: Buffer.from(text) under 4 KiB is a slice of Node's shared pool, which
  // outlives scavenges at a low rate of lines and is then kept until a full collection.
  const buf = Buffer.allocUnsafeSlow(Buffer.byteLength(text, "utf8"));
  buf.write(text, "utf8");
  for (let off = 0; off < buf.length;) {
    try {
      off += writeSync(fd, buf, off);
    } catch {
      return; // stdout closed or full (EAGAIN): the lines are dropped rather than spun on
    }
  }
}
