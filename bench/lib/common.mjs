// Shared by the benchmarks (this folder is not a benchmark: bench/run.mjs lists only bench/*.mjs).
// The rules every benchmark keeps: it exits on its own, stops only the processes it started (by
// pid), measures the targets it compares interleaved (A B A B ...) so a burst of load from other
// work on the machine hits them alike, drives them with an external load generator (autocannon's
// own process, not a client sharing this event loop), and prints its figures as ratios against
// the comparison measured in the same run.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { REPLICA_NODE_FLAGS, REPLICA_PROCESS_ENV } from "@flowplane/core/replica";
import { apiCaller, stopChildrenOnSignal, waitFor } from "@flowplane/testkit";

// Stopped by Ctrl-C or a SIGTERM, a benchmark stops its child processes (by pid) before it goes:
// several start theirs in sessions of their own, which the signal does not reach.
stopChildrenOnSignal();

// The wait helpers are the tests' own (tools/testkit), built by `npx tsc -b`.
export { freePort, sleep, waitFor } from "@flowplane/testkit";

export const root = fileURLToPath(new URL("../..", import.meta.url));

/** FLOWPLANE_BENCH_QUICK=1 or --quick: tiny sizes, to check that a benchmark runs, not to measure. */
export const QUICK = process.env.FLOWPLANE_BENCH_QUICK === "1" || process.argv.includes("--quick");
export const size = (full, quick) => (QUICK ? quick : full);

/**
 * The control plane's API as a benchmark uses it: JSON in, the parsed answer out. Any status of
 * 300 or more throws with the answer's text: a benchmark stops at the first failed call rather
 * than measure something else.
 */
export function benchApi(serverUrl, key) {
  const call = apiCaller(serverUrl, key);
  return async (method, path, body) => {
    const r = await call(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
}

/**
 * Polls `cond` every `everyMs` until it holds; after `ms`, throws naming `what` and the last answer.
 * A `cond` that throws counts as not yet (testkit's waitFor): a call failing during a switch is
 * retried here, and counted by the load that measures failures, not by the wait.
 */
export const until = (what, cond, ms = 300_000, everyMs = 250) => waitFor(cond, { timeoutMs: ms, intervalMs: everyMs, message: what });

/** SIGTERM one child this benchmark started, SIGKILL after `graceMs`, and wait for its exit. */
export async function stopChild(proc, graceMs = 10_000) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Spawns `node args` with `env` (and PATH), reads the URL from its first "listening" log line,
 * then polls `readyPath` until it answers 200. Resolves with the process and how long that took.
 * `probes`: the runtime's probe listener (its "probes listening" line) is what is polled, as the
 * drivers poll it: a replica is ready to them when its probe listener says so. `readyStatus`:
 * the status that means ready (a server that answers every unauthenticated request 401).
 */
export async function startListening(name, args, env, readyPath, { probes = false, readyStatus = 200 } = {}) {
  const t0 = performance.now();
  const proc = spawn(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  try {
    const [url, readyUrl] = await new Promise((resolve, reject) => {
      let buf = "";
      proc.stdout.on("data", (c) => {
        if (buf.length > 8192) return; // only the first lines matter; the rest is read and dropped
        buf += c;
        // The runtime's pino line has the url before the message; the hello server's after it.
        const m = /"url":"([^"]+)"[^\n]*"msg":"listening"/.exec(buf) ?? /"msg":"listening","url":"([^"]+)"/.exec(buf);
        const p = probes ? /"url":"([^"]+)"[^\n]*"msg":"probes listening"/.exec(buf) : m;
        if (m && p) resolve([m[1], p[1]]);
      });
      proc.once("exit", (code) => reject(new Error(`${name} exited with ${code} (built? npx tsc -b)`)));
    });
    // Stops at ready or at an early exit, whichever comes first.
    await waitFor(async () => proc.exitCode !== null || (await fetch(`${readyUrl}${readyPath}`)).status === readyStatus, { timeoutMs: 120_000, intervalMs: 5, message: `${name} ready` });
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}`);
    return { name, proc, url, coldMs: performance.now() - t0 };
  } catch (e) {
    await stopChild(proc);
    throw e;
  }
}

/** Node's options and process environment for a replica, as the drivers start one (core/src/replica-process.ts). */
export { REPLICA_NODE_FLAGS as REPLICA_NODE_OPTIONS, REPLICA_PROCESS_ENV as REPLICA_ENV } from "@flowplane/core/replica";

/**
 * Spawns the built runtime with `env`, as a driver does (its bin: the bundle when fresh, which
 * `npm run build` makes), or `entry` (another checkout's); resolves once `/ready` answers 200,
 * with the time that took.
 */
export function startRuntime(env, entry) {
  // Another checkout's runtime (a baseline) starts as its own drivers started it: no options.
  const args = entry ? [entry] : [...REPLICA_NODE_FLAGS, `${root}apps/runtime/bin/flowplane-runtime.js`];
  // The runtime reads as flow variables only the names FLOWPLANE_PARAMETER_NAMES lists.
  return startListening("the runtime", args, {
    ...(entry ? {} : REPLICA_PROCESS_ENV), FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_RUNTIME_HOST: "127.0.0.1", FLOWPLANE_LOG_LEVEL: "info", ...env,
    FLOWPLANE_PARAMETER_NAMES: JSON.stringify(Object.keys(env).filter((k) => !k.startsWith("FLOWPLANE_"))),
  }, "/ready");
}

/**
 * One autocannon run in its own process (`--json`): requests per second, and latency in ms
 * (percentiles whole ms, the mean finer). Fails on any non-2xx answer; socket errors are counted and returned.
 */
export async function autocannon({ url, method = "GET", headers = {}, body, connections, seconds, amount }) {
  const args = [`${root}node_modules/autocannon/autocannon.js`, "--json", "--connections", String(connections), "--method", method];
  if (amount) args.push("--amount", String(amount));
  else args.push("--duration", String(seconds));
  for (const [k, v] of Object.entries(headers)) args.push("--headers", `${k}=${v}`);
  if (body !== undefined) args.push("--body", body);
  args.push(url);
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout.on("data", (c) => (out += c));
  proc.stderr.on("data", (c) => (err += c));
  const code = await new Promise((r) => proc.once("exit", r));
  if (code !== 0) throw new Error(`autocannon exited ${code}: ${err.slice(-500)}`);
  const r = JSON.parse(out);
  const total = r.requests.total || 0;
  if (r.non2xx) throw new Error(`${method} ${url}: ${r.non2xx} non-2xx answers in ${total}`);
  return { rps: r.requests.average, total, errors: r.errors + r.timeouts, p50: r.latency.p50, p99: r.latency.p99, mean: r.latency.mean };
}

/**
 * Runs `measure(target)` for every target, `rounds` times, interleaved (A B A B ...), and
 * returns each target's results by name, one per round.
 */
export async function interleaved(targets, rounds, measure) {
  const out = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let r = 0; r < rounds; r++) for (const t of targets) out[t.name].push(await measure(t));
  return out;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** The median of field `k` over rounds. */
export const med = (results, k) => median(results.map((x) => x[k]));
export const fmt = (n, d = 1) => (n >= 100 ? n.toFixed(0) : n.toFixed(d));
/** `a` as a multiple of `b`; "n/a" when `b` is 0 (nothing finished in the time given: quick mode). */
export const ratio = (a, b) => (b > 0 ? `${fmt(a / b, 2)}x` : "n/a");


function childPids(pid) {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}

/** A process's children, theirs, and so on (Linux /proc; none elsewhere): a proxy's workers are its master's children, the gateway's grandchildren. */
export function descendants(pid) {
  const out = [];
  for (let todo = childPids(pid); todo.length > 0;) {
    const p = todo.pop();
    out.push(p);
    todo.push(...childPids(p));
  }
  return out;
}
