// Fleet benchmark (issue 20): N deployments (default 1,000) of a native flow on one machine with
// scale to zero, through the real `flowplane-server` process on the embedded defaults (PGlite,
// local driver), all published and deployed through the API:
//   - time until all are deployed (each Ready, or already Idle again after its idle window);
//   - control-plane RSS and CPU while all are idle, next to the same control plane with no
//     deployment (measured first, in the same run);
//   - total memory of this run's flowplane processes (the server and every process under it, by pid);
//   - first-request latency after idle, p50/p95 over 50 random deployments, next to a warm
//     request's latency (the same run request, sent again at once to the same deployment).
// Goals: idle fleet memory <= 2x the control plane alone; first request after idle p50 <= 1 s.
//
//   npm run bench -- fleet [--count 100] [--idle-seconds 3] [--window 24]   (BENCH_FLEET_COUNT works too)
//
// Deployments sleep after `--idle-seconds` (default 3) without a request: with a short window,
// the fleet starts in a rolling way (each replica starts, is Ready, sleeps), so the machine
// never holds all N replicas at once. It stops only what it started: its server (which stops
// its replicas on exit), then any replica of its own data folder still there, by pid.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadFixture, replicaPidsOf, startServer } from "@flowplane/testkit";
import { benchApi, size, until } from "./lib/common.mjs";

/** `--name value` or `--name=value` on the command line, else the environment variable, else `dflt`. */
function option(name, env, dflt) {
  const argv = process.argv;
  const i = argv.indexOf(`--${name}`);
  const inline = argv.find((a) => a.startsWith(`--${name}=`));
  const raw = inline ? inline.slice(name.length + 3) : i >= 0 ? argv[i + 1] : process.env[env];
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return n;
}

const COUNT = Math.floor(option("count", "BENCH_FLEET_COUNT", size(1000, 5)));
const IDLE_SECONDS = option("idle-seconds", "BENCH_FLEET_IDLE_SECONDS", 3);
const WINDOW = Math.floor(option("window", "BENCH_FLEET_WINDOW", 24));
const SAMPLES = Math.min(COUNT, size(50, 3));
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
const FLOW = loadFixture("simple-chat-no-llm");

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const mib = (kib) => `${(kib / 1024).toFixed(0)} MiB`;
/** /proc/<pid>/stat fields after the command: [ppid, utime+stime ticks]; null when gone. */
function stat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}
function rssKiB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
/** The server and every process under it (bubblewrap, replicas), plus any replica of its folder reparented elsewhere. */
async function fleetPids(serverPid, dir) {
  const children = new Map();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const st = stat(e);
    if (st) children.set(st.ppid, [...(children.get(st.ppid) ?? []), Number(e)]);
  }
  const out = new Set();
  const walk = (p) => { out.add(p); for (const c of children.get(p) ?? []) walk(c); };
  walk(serverPid);
  for (const p of await replicaPidsOf(dir)) walk(p);
  return [...out];
}
/** The server's CPU over `ms`, as a percentage of one core. */
async function cpuPercent(pid, ms) {
  const a = stat(pid).ticks;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return (((stat(pid).ticks - a) / CLK_TCK) * 1000 * 100) / (performance.now() - t0);
}

export async function main() {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-bench-fleet-"));
  const server = await startServer(dir, { FLOWPLANE_LOG_LEVEL: "warn", FLOWPLANE_STOP_RUNTIMES_ON_EXIT: "true" });
  const key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
  const api = benchApi(server.url, key);
  const pid = server.child.pid;
  try {
    console.log(`${COUNT} deployments of a native flow with scale to zero after ${IDLE_SECONDS} s idle (local driver, PGlite)`);
    // The control plane alone: started, one project and one bundle, no deployment; settled a little.
    const project = (await api("POST", "/projects", { name: "fleet" })).id;
    const flowId = (await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [FLOW] })).flows[0].id;
    await new Promise((r) => setTimeout(r, 3000));
    const aloneRss = rssKiB(pid);
    const aloneCpu = await cpuPercent(pid, size(10_000, 2_000));
    console.log(`  control plane alone (no deployment): RSS ${mib(aloneRss)}, CPU ${aloneCpu.toFixed(1)}% of a core`);

    /** Every deployment's phase, through the list (200 a page). */
    const phases = async () => {
      const out = new Map();
      let cursor = null;
      do {
        const page = await api("GET", `/projects/${project}/deployments?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        for (const d of page.items) out.set(d.id, d.status.phase);
        cursor = page.nextCursor;
      } while (cursor);
      return out;
    };
    // Deploy all through the API, at most WINDOW still starting at a time: the local driver starts
    // a replica per deployment at once, and N Node processes booting together would not fit in
    // this machine's memory (a sleeping fleet is cheap; a fleet starting all at once is not).
    const t0 = performance.now();
    const deps = [];
    const everReady = new Set();
    let peakReplicas = 0;
    let settled = 0;
    /** Polls the phases; true when every deployment created so far is deployed (Ready, or Idle after its window). */
    const poll = async () => {
      const p = await phases();
      for (const [id, ph] of p) if (ph === "Ready") everReady.add(id);
      peakReplicas = Math.max(peakReplicas, (await replicaPidsOf(dir)).length);
      settled = [...p.values()].filter((ph) => ph === "Ready" || ph === "Idle").length;
      return settled === p.size;
    };
    while (deps.length < COUNT) {
      const room = Math.min(COUNT - deps.length, WINDOW - (deps.length - settled));
      for (let k = 0; k < room; k++) {
        const i = deps.length;
        deps.push(await api("POST", `/projects/${project}/deployments`, {
          displayName: `fleet ${i}`, bundle: { name: "echo", version: "1" }, networkAccess: "public",
          resources: { replicas: 1, memory: { request: "64Mi", limit: "256Mi" } },
          runtime: { engine: "native", scaleToZero: { idleMinutes: IDLE_SECONDS / 60, wakeTimeoutSeconds: 120 } },
        }));
      }
      await new Promise((r) => setTimeout(r, 500));
      await poll();
    }
    await until("every deployment deployed (Ready, or Idle after its window)", poll, 60 * 60_000, 1000);
    const deployed = performance.now() - t0;
    console.log(`  all ${COUNT} deployed in ${s(deployed)}, at most ${WINDOW} starting at a time (${everReady.size} seen Ready by the poll, the others already Idle again; at most ${peakReplicas} replica processes at once)`);

    await until("every deployment Idle, no replica left", async () => [...(await phases()).values()].every((ph) => ph === "Idle") && (await replicaPidsOf(dir)).length === 0, 10 * 60_000, 1000);
    await new Promise((r) => setTimeout(r, 3000));
    const idleCpu = await cpuPercent(pid, size(20_000, 2_000));
    // Read together: the control plane's RSS moves with its garbage collector.
    const pids = await fleetPids(pid, dir);
    const idleRss = rssKiB(pid);
    const total = pids.reduce((a, p) => a + rssKiB(p), 0);
    console.log(`  all idle: control-plane RSS ${mib(idleRss)}, CPU ${idleCpu.toFixed(1)}% of a core; all its processes (${pids.length}): ${mib(total)}`);
    console.log(`  idle fleet memory ${(total / aloneRss).toFixed(2)}x the control plane alone; goal <= 2x: ${total <= 2 * aloneRss ? "met" : "MISSED"}`);

    // First request after idle, then a warm one, on SAMPLES random deployments one at a time.
    const pick = [...deps].sort(() => Math.random() - 0.5).slice(0, SAMPLES);
    const run = async (d) => {
      const t = performance.now();
      const r = await fetch(`${d.endpoints.http}/api/v1/run/${flowId}`, { method: "POST", headers: { "x-access-key": key, "content-type": "application/json" }, body: JSON.stringify({ input_value: "hello" }) });
      const text = await r.text();
      if (r.status !== 200) throw new Error(`run on ${d.id}: ${r.status} ${text.slice(0, 300)}`);
      return performance.now() - t;
    };
    const cold = [];
    const warm = [];
    for (const d of pick) {
      cold.push(await run(d));
      warm.push(await run(d));
    }
    console.log(`  first request after idle (${SAMPLES} random deployments): p50 ${s(pct(cold, 50))}  p95 ${s(pct(cold, 95))}; goal p50 <= 1 s: ${pct(cold, 50) <= 1000 ? "met" : "MISSED"}`);
    console.log(`  warm request, same deployments:                      p50 ${s(pct(warm, 50))}  p95 ${s(pct(warm, 95))}`);
  } finally {
    await server.stop().catch(() => undefined);
    // Normally none: the server stopped its replicas. After a failure before that, these.
    for (const p of await replicaPidsOf(dir)) process.kill(p, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
