#!/usr/bin/env node
// Liveness cost (issue #16, item 4): the control plane's CPU per idle Ready deployment, through
// the real `flowplane-server` on the embedded defaults with the local driver and the native
// engine. The server's CPU time (utime + stime from /proc/<pid>/stat) is read over idle windows:
// first with no deployment (the baseline), then with N Ready deployments of one replica each.
// The goal: (CPU with N - baseline) / N <= 0.1% of a core. The windows alternate (empty,
// loaded: the deployments are created before and deleted after each loaded window), so load
// from other work on the machine hits both alike; figures are medians with the spread over rounds.
// BENCH_LIVENESS_DEPLOYS / BENCH_LIVENESS_SECONDS change the sizes; --quick makes them tiny.
// BENCH_LIVENESS_RESYNC_SECONDS sets the server's FLOWPLANE_RESYNC_SECONDS (default 10: every
// deployment reconciled every 10 s), e.g. 3600 to see the probing's share alone.
// It stops only what it started: its own server (which stops its replicas) and, after a failure,
// the replicas under this run's data folder, by pid.
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadFixture, replicaPidsOf, startServer } from "@flowplane/testkit";
import { QUICK, benchApi, median, size, sleep, waitFor } from "./lib/common.mjs";

const N = Number(process.env.BENCH_LIVENESS_DEPLOYS ?? size(20, 3));
const SECONDS = Number(process.env.BENCH_LIVENESS_SECONDS ?? size(30, 4));
const ROUNDS = size(3, 1);
const GOAL = 0.1; // % of one core per Ready deployment

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 (utime, stime) are at 11 and 12 once pid and comm are cut off.
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

/** Every wait is bounded: a stuck deployment fails the run instead of hanging it. */
const until = (what, cond) => waitFor(cond, { timeoutMs: 300_000, intervalMs: 100, message: what });

/** % of one core the process used over `seconds` of idling. */
async function window(pid, seconds) {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  return ((cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
}

export async function main() {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-liveness-"));
  const resync = process.env.BENCH_LIVENESS_RESYNC_SECONDS;
  const server = await startServer(dir, { FLOWPLANE_LOG_LEVEL: "warn", ...(resync ? { FLOWPLANE_RESYNC_SECONDS: resync } : {}) });
  const key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
  const api = benchApi(server.url, key);
  try {
    const project = (await api("POST", "/projects", { name: "bench" })).id;
    await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] });
    let ids = [];
    const phase = async (id) => (await api("GET", `/projects/${project}/deployments/${id}`)).status.phase;
    const deployAll = async () => {
      for (let i = 0; i < N; i++) ids.push((await api("POST", `/projects/${project}/deployments`, { displayName: `echo ${i}`, bundle: { name: "echo", version: "1" }, networkAccess: "public", resources: { replicas: 1 } })).id);
      await until("every deployment Ready", async () => (await Promise.all(ids.map(phase))).every((p) => p === "Ready"));
      await sleep(2000); // the change settles (status writes, events) before the window
    };
    const deleteAll = async () => {
      for (const id of ids) await api("DELETE", `/projects/${project}/deployments/${id}`);
      ids = [];
      await until("every replica gone", async () => (await replicaPidsOf(dir)).length === 0);
      await sleep(2000);
    };
    const empty = [];
    const loaded = [];
    for (let r = 0; r < ROUNDS; r++) {
      empty.push(await window(server.child.pid, SECONDS));
      await deployAll();
      loaded.push(await window(server.child.pid, SECONDS));
      await deleteAll();
    }
    const perDeployment = loaded.map((l, i) => (l - empty[i]) / N);
    const med = median(perDeployment);
    if (QUICK) console.log("[quick mode: sizes too small to mean anything]");
    console.log(`control plane idle CPU, ${N} deployments of 1 replica, ${ROUNDS} round(s) of ${SECONDS} s per window (empty, Ready), alternating; resync every ${resync ?? 10} s`);
    console.log(`  empty: ${empty.map((x) => `${x.toFixed(2)}%`).join(", ")} of a core; with ${N} Ready: ${loaded.map((x) => `${x.toFixed(2)}%`).join(", ")}`);
    console.log(`  per Ready deployment: ${med.toFixed(3)}% of a core (rounds ${perDeployment.map((x) => x.toFixed(3)).join(", ")})`);
    console.log(`  goal <= ${GOAL}% of a core per Ready deployment: ${med <= GOAL ? "met" : "NOT met"}`);
  } finally {
    await server.stop().catch(() => undefined);
    // Normally none: the server stopped its replicas on exit. After a failure before that, these.
    for (const pid of await replicaPidsOf(dir)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
