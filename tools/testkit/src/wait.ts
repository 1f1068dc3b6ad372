import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

/** Resolves after `ms`. For pacing a loop (a poll interval, a load pattern), never for waiting on an event: use `waitFor`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A loopback port a connection is refused on: port 1 (tcpmux), which nothing here listens on and
 * the OS never hands out. For "a replica that refuses": a free port closed again is not that, as
 * another test's server may be given it meanwhile (CI saw a replica answer 401 there).
 */
export const REFUSING_PORT = 1;

/** A port free on 127.0.0.1 right now (the OS picks it); for a child process that must be told its port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    }).on("error", reject);
  });
}

/**
 * A port free on 127.0.0.1 and ::1 below the kernel's ephemeral range (`ip_local_port_range`),
 * not in `taken`: for a server a test must name ports for before it starts, and starts again on
 * the same ports. A port from `freePort` comes from the ephemeral range, where the kernel hands
 * the same numbers to other tests' listeners and to every outgoing connection, and a server's
 * start (seconds, on a busy machine) or the gap of a restart is a wide window: CI lost a server's
 * port that way (EADDRINUSE). Below the range only an explicit bind can take it.
 */
export async function freePortBelowEphemeral(taken: readonly number[] = []): Promise<number> {
  const range = await readFile("/proc/sys/net/ipv4/ip_local_port_range", "utf8").catch(() => "32768");
  const low = Number(range.trim().split(/\s+/)[0]) || 32768;
  // A port some system service may hold by name (below 10,000) is left alone.
  const floor = 10_000;
  // A machine whose ephemeral range starts near that floor leaves no room below it: the kernel's pick then.
  if (low - floor < 1_000) return freePort();
  for (let i = 0; i < 200; i++) {
    const port = floor + Math.floor(Math.random() * Math.max(1, low - floor));
    if (!taken.includes(port) && (await bindable("127.0.0.1", port)) && (await bindable("::1", port))) return port;
  }
  throw new Error("no free port below the ephemeral range");
}

/** Whether `port` can be bound on `host` now; a host this machine lacks (no IPv6) does not count against it. */
function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
      .once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "EADDRNOTAVAIL" || e.code === "EAFNOSUPPORT"))
      .listen({ host, port, ipv6Only: host === "::1" }, () => s.close(() => resolve(true)));
  });
}

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Pause between two checks (default 25 ms). */
  intervalMs?: number;
  /** What is awaited, for the timeout's error ("deployment Ready"). */
  message?: string;
}

/**
 * Polls `predicate` until it answers a truthy value, and returns that value. A predicate that
 * throws counts as "not yet" (a server still starting refuses connections). On timeout it throws
 * with `message` and the last answer or error, so a failing test says what it waited for.
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, o: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  // On the monotonic clock: this VM's wall clock is stepped now and then (a CI run saw a 120 s
  // wait "time out" 35 s into its test), and a step must neither cut a wait short nor stretch it.
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await predicate();
      if (last) return last as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (performance.now() > deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last) ?? String(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${o.message ?? "a condition"}; last: ${seen}`);
    }
    await sleep(o.intervalMs ?? 25);
  }
}

/**
 * Steps this process's wall clock as NTP or a resumed VM does, by `ms`, until the returned
 * function puts it back (`Date.now` only: `new Date()` keeps the real time, and so does code
 * that kept a reference to `Date.now` itself rather than calling it). For tests that a bound measured
 * on the monotonic clock (`performance.now`) holds whatever the wall clock does.
 */
export function stepWallClock(ms: number): () => void {
  const real = Date.now;
  Date.now = () => real() + ms;
  return () => {
    Date.now = real;
  };
}
