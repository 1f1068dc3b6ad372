import { readFileSync, readlinkSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { listenerId } from "@flowplane/core";
import { parseStat, parseUid } from "./process-usage.js";
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

/** True when `pid` has ended and waits for its parent to reap it (its descriptors, sockets included, are closed). */
export function isZombie(pid: number): boolean {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"))?.zombie === true;
  } catch {
    return false; // gone: isAlive says so
  }
}

/** The real uid `pid` runs as, or undefined when it is gone. */
export async function realUid(pid: number): Promise<number | undefined> {
  const uid = parseUid(await readFile(`/proc/${pid}/status`, "utf8").catch(() => ""));
  return uid < 0 ? undefined : uid;
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

/** A listening socket for a replica to inherit: its port, its descriptor, and the driver's own copy's close. */
export interface PassedListener {
  port: number;
  fd: number;
  /**
   * The socket's name (core's listenerId: its inode and the uid that made it, the driver's):
   * the replica's listener for its whole life, which the gateway checks each new connection
   * against (core's loopback-listeners.ts): once the replica dies its port is anyone's, before
   * the gateway hears of it.
   */
  id: string;
  close(): void;
}

/**
 * A socket listening on 127.0.0.1 at a port the kernel picks, made to be passed to a replica as
 * an inherited descriptor (systemd's socket activation, by hand). The port is never free between
 * the driver choosing it and the replica serving on it: a port picked free and bound by the
 * replica later could be bound first by any process on the machine (replicas share its
 * network), which would then answer the probes and get the deployment's calls and its gateway
 * secret. The driver closes its copy right after the spawn; nothing connects to the port before
 * the replica is probed. The descriptor is libuv's (`_handle.fd`: Node has no public accessor).
 */
export async function loopbackListener(): Promise<PassedListener> {
  // A connection that reaches the driver's copy before the spawn (nobody has the port yet, but
  // anyone can find it in /proc/net/tcp) is closed at once, not held open with nobody to answer.
  const s = createServer((c) => c.destroy());
  s.on("error", () => undefined);
  s.unref();
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      s.off("error", reject);
      resolve();
    });
  });
  const fd = (s as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) {
    s.close();
    throw new Error("this platform gives no descriptor for a listening socket");
  }
  let id: string;
  try {
    id = listenerId({ inode: readlinkSync(`/proc/self/fd/${fd}`), uid: process.geteuid?.() ?? 0 });
  } catch (e) {
    s.close();
    throw e;
  }
  return { port: (s.address() as { port: number }).port, fd, id, close: () => s.close() };
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
    // bubblewrap's own refusal (the sandbox or its seccomp filter could not be set up): the
    // runtime never ran, and the line names why.
    if (line.startsWith("bwrap: ")) return { reason: "SandboxFailed", message: `the sandbox could not be set up (${line.slice(7).trim()})` };
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
  if (/digest mismatch|version mismatch/i.test(message)) return "DigestMismatch";
  if (/download/i.test(message)) return "BundleDownloadFailed";
  if (/configuration|FLOWPLANE_/i.test(message)) return "InvalidConfiguration";
  return "FlowLoadFailed";
}
