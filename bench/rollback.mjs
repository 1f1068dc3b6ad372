// Rollback benchmark (issue 18), through the real `flowplane-server` process on the embedded
// defaults with the local driver and the native engine, under a bounded load (4 clients calling
// the deployment all along): the time from the rollback API call until the gateway serves the
// rolled-back revision (its `x-flowplane-revision`), for a rollback to the warm revision (the one
// before the last change, whose replica is kept for the grace period) and to a cold one (a rolling
// update), interleaved round by round. Goal: warm ≤ 1 s. Also counts the load's failed calls (goal 0).
// BENCH_ROLLBACK_ROUNDS sets the rounds; FLOWPLANE_BENCH_QUICK=1 (or --quick) makes one.
// It stops only what it started: its own server and that server's replicas (by pid).
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadFixture, replicaPidsOf, startServer } from "@flowplane/testkit";
import { benchApi, size, until } from "./lib/common.mjs";

const ROUNDS = Number(process.env.BENCH_ROLLBACK_ROUNDS ?? size(5, 1));
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
/** Every wait is bounded (a stuck deployment fails the run instead of hanging it), polled every 10 ms: the resolution of the switch time it measures. */
const poll = (what, cond) => until(what, cond, 120_000, 10);

export async function main() {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-bench-rollback-"));
  const server = await startServer(dir, { FLOWPLANE_LOG_LEVEL: "warn", FLOWPLANE_STOP_RUNTIMES_ON_EXIT: "true" });
  const key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
  const api = benchApi(server.url, key);
  const load = { done: false, calls: 0, failed: 0 };
  const workers = [];
  try {
    const project = (await api("POST", "/projects", { name: "bench" })).id;
    await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] });
    const dep = await api("POST", `/projects/${project}/deployments`, { displayName: "rollback", bundle: { name: "echo", version: "1" }, networkAccess: "public", resources: { replicas: 1, memory: { request: "64Mi", limit: "256Mi" } } });
    const path = `/projects/${project}/deployments/${dep.id}`;
    const ready = (generation) => poll(`generation ${generation} Ready`, async () => {
      const d = await api("GET", path);
      return d.status.phase === "Ready" && d.status.observedGeneration === generation;
    });
    await ready(1);
    const flowId = (await (await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": key } })).json())[0].id;
    const call = () => fetch(`${dep.endpoints.http}/flows/${flowId}/run`, { method: "POST", headers: { "x-access-key": key, "content-type": "application/json" }, body: JSON.stringify({ input_value: "ping", session_id: `s${Math.random()}` }) });
    for (let i = 0; i < 4; i++) workers.push((async () => {
      while (!load.done && load.calls < 1_000_000) {
        load.calls++;
        try {
          const r = await call();
          await r.arrayBuffer();
          if (r.status !== 200) load.failed++;
        } catch {
          load.failed++;
        }
      }
    })());

    let level = 0;
    const LEVELS = ["info", "debug", "warn", "error"];
    const edit = async () => {
      level = (level + 1) % LEVELS.length;
      const d = await api("PATCH", path, { runtime: { logLevel: LEVELS[level] } });
      await ready(d.generation);
      return d.revision;
    };
    /** Rolls back to `to`; the time until a call through the gateway is answered by the new revision. */
    const rollback = async (to) => {
      const t0 = performance.now();
      const d = await api("POST", `${path}/rollback`, { revision: to });
      answered.push(performance.now() - t0);
      const want = String(d.revision);
      await poll(`revision ${want} served`, async () => (await call().then(async (r) => { await r.arrayBuffer(); return r.headers.get("x-flowplane-revision"); })) === want);
      const ms = performance.now() - t0;
      await ready(d.generation);
      level = LEVELS.indexOf(d.runtime.logLevel);
      return ms;
    };

    const warm = [];
    const cold = [];
    /** How long each rollback's API call took to answer (part of the figures above: the switch itself is the rest). */
    const answered = [];
    console.log(`rollback under load (4 clients), ${ROUNDS} round(s), warm and cold interleaved (native engine, local driver)`);
    for (let round = 0; round < ROUNDS; round++) {
      // Warm: the revision before the last change still has its replica.
      const before = (await api("GET", path)).revision;
      await edit();
      warm.push(await rollback(before));
      // Cold: two changes back; only the last one's predecessor is warm.
      const twoBack = (await api("GET", path)).revision;
      await edit();
      await edit();
      cold.push(await rollback(twoBack));
      console.log(`  round ${round + 1}: warm ${warm.at(-1).toFixed(0)} ms (API answered after ${answered.at(-2).toFixed(0)} ms), cold ${cold.at(-1).toFixed(0)} ms`);
    }
    const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
    console.log(`  warm rollback: API call -> served by the gateway: ${fmt(warm)}   goal <= 1 s: ${Math.max(...warm) <= 1000 ? "met" : "MISSED"}`);
    console.log(`  cold rollback (a rolling update):                 ${fmt(cold)}   (${(pct(cold, 50) / pct(warm, 50)).toFixed(1)}x the warm one)`);
  } finally {
    load.done = true;
    await Promise.all(workers);
    console.log(`  load: ${load.calls} calls, ${load.failed} failed`);
    await server.stop().catch(() => undefined);
    for (const pid of await replicaPidsOf(dir)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
