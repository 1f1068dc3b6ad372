// Lifecycle benchmark (issue 5), through the real `flowplane-server` process on the embedded
// defaults with the local driver and the native engine:
//   1. Deploy to Ready: p50/p95 over 20 deployments, one at a time (goal: p50 < 1 s).
//   2. 100 deployments on one machine: control-plane RSS, then the time to reconcile all of them
//      after a control-plane restart (replicas are adopted, not restarted).
// BENCH_DEPLOYS and BENCH_FLEET shrink the runs; FLOWPLANE_BENCH_QUICK=1 (or --quick) makes them tiny.
// It stops only what it started: its own server, and that server's replicas (the last server
// stops them on exit; any left are killed by pid: the processes carrying its driver's marker for this run's folder).
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadFixture, replicaPidsOf, startServer } from "@flowplane/testkit";
import { benchApi, size, until } from "./lib/common.mjs";

const DEPLOYS = Number(process.env.BENCH_DEPLOYS ?? size(20, 2));
const FLEET = Number(process.env.BENCH_FLEET ?? size(100, 3));
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
/** Every wait in this benchmark is bounded: a stuck deployment fails the run instead of hanging it. */
const wait = (what, cond, ms = 300_000) => until(what, cond, ms, 20); // 20 ms: the resolution of deploy-to-Ready
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(execFileSync("cat", [`/proc/${pid}/status`], { encoding: "utf8" }))?.[1] ?? 0) / 1024;

export async function main() {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-bench-"));
  let server = await startServer(dir, { FLOWPLANE_LOG_LEVEL: "warn", FLOWPLANE_STOP_RUNTIMES_ON_EXIT: "false" });
  const key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
  // `server` is replaced by the restart below: each call goes to the current one.
  const api = (method, path, body) => benchApi(server.url, key)(method, path, body);
  try {
    const project = (await api("POST", "/projects", { name: "bench" })).id;
    await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] });
    const deploy = async (i) => (await api("POST", `/projects/${project}/deployments`, { displayName: `echo ${i}`, bundle: { name: "echo", version: "1" }, networkAccess: "public", resources: { replicas: 1, memory: { request: "64Mi", limit: "256Mi" } } })).id;
    const phase = async (id) => (await api("GET", `/projects/${project}/deployments/${id}`)).status.phase;

    console.log(`deploy to Ready, ${DEPLOYS} deployments one at a time (native engine, local driver)`);
    const times = [];
    const ids = [];
    for (let i = 0; i < DEPLOYS; i++) {
      const t0 = performance.now();
      const id = await deploy(i);
      await wait(`deployment ${i} Ready`, async () => (await phase(id)) === "Ready", 60_000);
      times.push(performance.now() - t0);
      ids.push(id);
    }
    console.log(`  p50 ${(pct(times, 50) / 1000).toFixed(2)} s   p95 ${(pct(times, 95) / 1000).toFixed(2)} s   goal p50 < 1 s: ${pct(times, 50) < 1000 ? "met" : "MISSED"}`);

    console.log(`\n${FLEET} deployments on one machine`);
    const t1 = performance.now();
    for (let i = ids.length; i < FLEET; i++) ids.push(await deploy(i));
    const allReady = async () => (await Promise.all(ids.map(phase))).every((p) => p === "Ready");
    await wait("the fleet Ready", allReady);
    console.log(`  all ${FLEET} Ready after ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    const replicas = await replicaPidsOf(dir);
    const replicaRss = replicas.reduce((a, p) => a + rssMiB(p), 0);
    console.log(`  control-plane RSS ${rssMiB(server.child.pid).toFixed(0)} MiB; ${replicas.length} runtime processes, ${(replicaRss / replicas.length).toFixed(0)} MiB RSS each on average`);

    const metric = async (name) => {
      const text = await (await fetch(`${server.privateUrl}/metrics`, { headers: { "x-access-key": key } })).text();
      return text.split("\n").filter((l) => l.startsWith(name)).reduce((a, l) => a + Number(l.split(" ").at(-1)), 0);
    };
    const port = { port: server.port, privatePort: server.privatePort };
    await server.stop();
    const t2 = performance.now();
    server = await startServer(dir, { FLOWPLANE_LOG_LEVEL: "warn", FLOWPLANE_STOP_RUNTIMES_ON_EXIT: "true" }, port);
    const started = performance.now();
    await wait("reconciled after the restart", async () =>
      (await metric('flowplane_deployments{phase="Ready"}')) >= FLEET && (await metric("flowplane_reconcile_duration_seconds_count")) >= FLEET);
    const after = await replicaPidsOf(dir);
    console.log(`  after a control-plane restart: process up in ${((started - t2) / 1000).toFixed(1)} s, all ${FLEET} reconciled ${((performance.now() - started) / 1000).toFixed(1)} s later; replicas adopted, not restarted: ${after.length === replicas.length && after.every((p) => replicas.includes(p))}`);
    console.log(`  control-plane RSS after the restart: ${rssMiB(server.child.pid).toFixed(0)} MiB`);
  } finally {
    await server.stop().catch(() => undefined);
    // Normally none: the last server stopped its replicas. After a failure before that, these.
    for (const pid of await replicaPidsOf(dir)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
