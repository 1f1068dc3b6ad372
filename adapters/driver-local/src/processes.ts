import { open, readFile } from "node:fs/promises";
import { createServer } from "node:net";

/** Process-level helpers of the local driver; no state of their own. */

export function isAlive(pid: number): boolean {
  // 0 would probe our own process group, and a negative pid a whole group: never a replica.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * True when `pid` is the replica we started: its command line carries our marker. Guards
 * adoption against a recycled pid after a reboot or a long stop.
 */
export async function hasMarker(pid: number, marker: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.split("\0").includes(marker);
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** GET /ready with a short timeout: true only for a 200. */
export async function probeReady(port: number, timeoutMs: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

/** How much of a log's end is searched for why its replica stopped. */
export const LAST_FAILURE_BYTES = 16_384;

/**
 * Why a replica stopped, from the last error line of its log (the runtime logs JSON lines and
 * never a parameter value), mapped to DESIGN's failure reasons.
 */
export async function lastFailure(logPath: string): Promise<{ reason: string; message: string } | null> {
  let text: string;
  try {
    const fh = await open(logPath, "r");
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, LAST_FAILURE_BYTES);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      text = buf.toString("utf8");
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
  const lines = text.split("\n").reverse();
  for (const line of lines) {
    let rec: { level?: string; msg?: string; reason?: string };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (rec.level !== "error" && rec.level !== "fatal") continue;
    const message = rec.reason ?? rec.msg ?? "the runtime failed";
    return { reason: classify(message), message };
  }
  return null;
}

function classify(message: string): string {
  // Its port bound first by another process (port-owner.ts): the restart gets new ports.
  if (/EADDRINUSE/.test(message)) return "PortTaken";
  if (/digest mismatch|version mismatch/i.test(message)) return "DigestMismatch";
  if (/download/i.test(message)) return "BundleDownloadFailed";
  if (/configuration|FLOWPLANE_/i.test(message)) return "InvalidConfiguration";
  return "FlowLoadFailed";
}
