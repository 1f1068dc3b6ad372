#!/usr/bin/env node
// Runtime benchmark over the built dist, against a bare `node:http` server measured in the same
// run (bench/lib/hello-server.mjs), for the goals of issue #16:
// - cold start: spawn -> first 200 (the runtime's /ready on its probe listener, as the drivers
//   poll it, with its bundle loaded; the hello server's first answer) <= 3x the bare server's;
// - rate: runs/s of a no-LLM echo flow (POST /flows/{id}/run, the gateway's secret checked, as
//   a driver starts it) >= 0.5x the hello server's requests/s, at concurrency 1 and 16, with
//   autocannon in its own process as the load generator;
// - RSS of the runtime after the load <= 60 MiB (once ready too; the hello server's beside it),
//   the runtime started as the drivers start a replica: its flags, its environment, its probe listener;
//   beside it, not a goal, the RSS 12 s after the load (once V8's memory reducer has run).
// Beside them, the floor (bench/lib/run-floor-server.mjs): node:http doing only what any
// replica must do for a run request, the ceiling of any runtime on node:http, for scale.
// Every measure runs interleaved (runtime, hello, runtime, hello ...) over the rounds, each
// round with fresh processes; the figures are medians with the spread (min-max) over rounds.
// Only the processes this script starts are stopped, by their own handles.
// Before/after in one run: FLOWPLANE_BENCH_BASELINE=<another checkout, built> adds that checkout's
// runtime as a third target ("baseline"), interleaved with the two others and measured the same way
// (FLOWPLANE_BENCH_BASELINE_NODE_OPTIONS: the Node options its drivers gave a replica, if any).
// Usage: node bench/runtime.mjs [--quick]   (build first: npm run build, which bundles the runtime; FLOWPLANE_BENCH_QUICK=1 = --quick)
import { existsSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { QUICK, REPLICA_ENV, REPLICA_NODE_OPTIONS, autocannon, fmt, med, median, root, size, sleep, startListening, stopChild } from "./lib/common.mjs";

const fixture = `${root}../shared/fixtures/langflow/simple-chat-no-llm.json`;
const SECRET = "bench-gateway-secret-0123456789";
const LEVELS = [1, 16];
const GOALS = { rate: 0.5, cold: 3, rssMiB: 60 };

const BASELINE = process.env.FLOWPLANE_BENCH_BASELINE ? `${process.env.FLOWPLANE_BENCH_BASELINE.replace(/\/$/, "")}/` : null;
// As a driver starts a replica: the runtime's bin (the bundle when fresh; `npm run build` makes it).
// A baseline checkout from before the bin existed runs its dist/main.js.
const entry = (dir) => (existsSync(`${dir}apps/runtime/bin/flowplane-runtime.js`) ? `${dir}apps/runtime/bin/flowplane-runtime.js` : `${dir}apps/runtime/dist/main.js`);
// The baseline as its checkout's drivers started it: no Node options before they were added, or
// FLOWPLANE_BENCH_BASELINE_NODE_OPTIONS (space-separated) for a checkout that had some; and
// without this checkout's process environment (REPLICA_ENV).
const BASELINE_OPTIONS = (process.env.FLOWPLANE_BENCH_BASELINE_NODE_OPTIONS ?? "").split(" ").filter(Boolean);
// With its probe listener (FLOWPLANE_PROBE_PORT), as both drivers start every replica: the
// cold start is timed to the probe port's /ready, and the RSS measured is a deployed replica's.
const replica = (name, dir) => () => startListening(name, [...(name === "baseline" ? BASELINE_OPTIONS : REPLICA_NODE_OPTIONS), entry(dir)], {
  ...(name === "baseline" ? {} : REPLICA_ENV),
  FLOWPLANE_BUNDLE_PATH: fixture, FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_RUNTIME_HOST: "127.0.0.1", FLOWPLANE_GATEWAY_SECRET: SECRET, FLOWPLANE_PARAMETER_NAMES: "[]",
  FLOWPLANE_PROBE_PORT: "0",
}, "/ready", { probes: true });
const runtime = replica("runtime", root);
const hello = () => startListening("hello", [`${root}bench/lib/hello-server.mjs`], {}, "/");
// The ceiling: only what any replica must do for a run request (bench/lib/run-floor-server.mjs),
// started as a replica is. Its startListening probe (a GET without the secret) gets a 401, so it
// is polled on a path it answers 401 on: ready means listening.
const floor = () => startListening("floor", [...REPLICA_NODE_OPTIONS, `${root}bench/lib/run-floor-server.mjs`], { ...REPLICA_ENV, FLOWPLANE_GATEWAY_SECRET: SECRET }, "/", { readyStatus: 401 });
// The floor with the native engine's run of the echo flow in between, called as a library
// (bench/lib/run-floor-server.mjs with a bundle): what a runtime whose own HTTP layer cost nothing would reach.
const engineFloor = () => startListening("engineFloor", [...REPLICA_NODE_OPTIONS, `${root}bench/lib/run-floor-server.mjs`], { ...REPLICA_ENV, FLOWPLANE_GATEWAY_SECRET: SECRET, FLOWPLANE_BUNDLE_PATH: fixture }, "/", { readyStatus: 401 });

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
/**
 * The RSS's file-backed part (/proc/<pid>/status RssFile): pages of the node binary and its
 * libraries, the same pages in every Node process on the machine (the page cache holds them once);
 * the rest (RssAnon, RssShmem) is the process's own.
 */
const fileMiB = (pid) => Number(/RssFile:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
/** User and system CPU time of a process so far, in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
const cpuTimes = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 };
};
const spread = (xs) => `${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}`;
const verdict = (ok) => (ok ? "met" : "NOT met");
/** How long after the load the settled RSS is read (none with --quick). */
const SETTLE_MS = size(12_000, 0);

/** One round for one target: a fresh process, its cold start, a warm-up, each level's rate, then its RSS. */
async function round(start, seconds) {
  const s = await start();
  try {
    let target;
    if (s.name === "hello") {
      target = { url: `${s.url}/`, method: "POST", headers: { "content-type": "application/json" } };
    } else if (s.name === "floor" || s.name === "engineFloor") {
      target = { url: `${s.url}/`, method: "POST", headers: { "content-type": "application/json", "x-flowplane-gateway-secret": SECRET } };
    } else {
      const flowId = (await (await fetch(`${s.url}/flows`, { headers: { "x-flowplane-gateway-secret": SECRET } })).json())[0].id;
      target = { url: `${s.url}/flows/${flowId}/run`, method: "POST", headers: { "content-type": "application/json", "x-flowplane-gateway-secret": SECRET } };
    }
    const body = JSON.stringify({ input_value: "bench" });
    const out = { coldMs: s.coldMs, rssReady: rssMiB(s.proc.pid) };
    await autocannon({ ...target, body, connections: 8, seconds: 1 }); // warm-up: JIT, sockets
    for (const c of LEVELS) {
      // CPU time per request too (the process's user + system time over the load): unlike the
      // rate, it barely moves when other work shares the machine.
      // The system part apart: the kernel's work for the process (the sockets' reads and writes,
      // waking the load generator, page faults of its heap), which the runtime's JavaScript moves
      // only indirectly (how many writes an answer takes, how its heap grows). Linux splits user
      // from system time by sampling at each tick: the sum is the scheduler's, the split an estimate.
      const cpu0 = cpuTimes(s.proc.pid);
      out[`c${c}`] = await autocannon({ ...target, body, connections: c, seconds });
      const cpu1 = cpuTimes(s.proc.pid);
      const n = Math.max(1, out[`c${c}`].total);
      out[`c${c}`].cpuMsPerReq = (cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) / n;
      out[`c${c}`].sysMsPerReq = (cpu1.sys - cpu0.sys) / n;
    }
    // The HTTP layer alone (routing, the secret check, a JSON answer; no run): GET /flows, or the hello server's GET.
    if (s.name !== "floor" && s.name !== "engineFloor") out.noRun = await autocannon({ url: s.name !== "hello" ? `${s.url}/flows` : `${s.url}/`, headers: s.name !== "hello" ? { "x-flowplane-gateway-secret": SECRET } : {}, connections: 16, seconds });
    out.rss = rssMiB(s.proc.pid);
    out.rssFile = fileMiB(s.proc.pid);
    // And once the load has been over a while: V8's memory reducer starts 8 s after allocation
    // slows (--gc-memory-reducer-start-delay-ms) and gives back what the load left. Printed
    // beside the goal's figure, which stays the one right after the load.
    if (s.name !== "floor" && s.name !== "engineFloor") {
      await sleep(SETTLE_MS);
      out.rssSettled = rssMiB(s.proc.pid);
    }
    return out;
  } finally {
    await stopChild(s.proc);
  }
}

export async function main() {
  // A stale bundle would be skipped by flowplane-runtime for the unbundled dist/main.js: another
  // start and another memory than a replica's, under this bench's name.
  const { bundleIsFresh } = await import("../apps/runtime/bin/bundle-fresh.js");
  if (!bundleIsFresh()) throw new Error("the runtime's bundle is older than its TypeScript build: run `npm run build` first");
  const seconds = size(4, 1);
  const rounds = size(3, 1);
  // Cold starts are short and noisy: a few extra spawns per round, interleaved too.
  const extraColds = size(4, 1);
  const targets = [["runtime", runtime], ...(BASELINE ? [["baseline", replica("baseline", BASELINE)]] : []), ["hello", hello], ["floor", floor], ["engineFloor", engineFloor]];
  const res = Object.fromEntries(targets.map(([name]) => [name, []]));
  const colds = Object.fromEntries(targets.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, start] of targets) {
      const x = await round(start, seconds);
      res[name].push(x);
      colds[name].push(x.coldMs);
    }
    for (let i = 0; i < extraColds; i++) {
      // The floors' starts are no goal's: only their rates are read.
      for (const [name, start] of targets.filter(([n]) => n !== "floor" && n !== "engineFloor")) {
        const s = await start();
        colds[name].push(s.coldMs);
        await stopChild(s.proc);
      }
    }
  }
  if (QUICK) console.log("[quick mode: sizes too small to mean anything]");
  const rows = [];
  const ratios = {};
  for (const c of LEVELS) {
    const rt = res.runtime.map((x) => x[`c${c}`].rps);
    const hl = res.hello.map((x) => x[`c${c}`].rps);
    // Per-round ratios (the two measured back to back), then their median and spread.
    const perRound = rt.map((v, i) => (hl[i] > 0 ? v / hl[i] : 0));
    ratios[c] = perRound;
    rows.push({
      concurrency: c,
      "runtime runs/s": fmt(med(res.runtime.map((x) => x[`c${c}`]), "rps")), "runtime spread": spread(rt),
      "hello req/s": fmt(med(res.hello.map((x) => x[`c${c}`]), "rps")), "hello spread": spread(hl),
      "ratio (median)": `${fmt(median(perRound), 2)}x`, "ratio spread": `${perRound.map((x) => x.toFixed(2)).join(" ")}`,
      "runtime p50/p99 ms": `${med(res.runtime.map((x) => x[`c${c}`]), "p50")}/${med(res.runtime.map((x) => x[`c${c}`]), "p99")}`,
      "hello p50/p99 ms": `${med(res.hello.map((x) => x[`c${c}`]), "p50")}/${med(res.hello.map((x) => x[`c${c}`]), "p99")}`,
      "socket errors": [...res.runtime, ...res.hello, ...res.floor, ...res.engineFloor].reduce((a, x) => a + x[`c${c}`].errors, 0),
    });
  }
  console.log(`runtime vs a bare node:http server: ${rounds} round(s) of ${seconds} s per level, interleaved, autocannon as the load`);
  console.table(rows);
  const cpuLine = (name) => LEVELS.map((c) => `c${c} ${fmt(median(res[name].map((x) => x[`c${c}`].cpuMsPerReq)) * 1000, 0)} us (system ${fmt(median(res[name].map((x) => x[`c${c}`].sysMsPerReq)) * 1000, 0)})`).join(", ");
  const cpuRatio = (name) => LEVELS.map((c) => `c${c} ${fmt(median(res[name].map((x, i) => res.hello[i][`c${c}`].cpuMsPerReq / x[`c${c}`].cpuMsPerReq)), 2)}x`).join(", ");
  console.log(`CPU time per request (medians; in parentheses its system part, the kernel's work for the process): runtime ${cpuLine("runtime")}; hello ${cpuLine("hello")}${BASELINE ? `; baseline ${cpuLine("baseline")}` : ""}`);
  console.log(`  the hello server's CPU per request as a share of the runtime's (the bound on the rate ratio when CPU is the limit; it includes V8's compiler and GC threads): runtime ${cpuRatio("runtime")}${BASELINE ? `; baseline ${cpuRatio("baseline")}` : ""}`);
  const noRun = res.runtime.map((x, i) => x.noRun.rps / res.hello[i].noRun.rps);
  console.log(`the HTTP layer alone (GET /flows with the secret checked vs the hello server's GET, c16): ${fmt(median(noRun), 2)}x (rounds ${noRun.map((x) => x.toFixed(2)).join(", ")}); the rest of the echo flow's gap is the engine's run`);
  const vsHello = (name, c) => res[name].map((x, i) => x[`c${c}`].rps / res.hello[i][`c${c}`].rps);
  console.log(`the floor (node:http doing only what a run request needs: the secret's check, the JSON body read and parsed, the same JSON answer, ended at the end of the loop's pass as the runtime's; the ceiling of any runtime on node:http): ${LEVELS.map((c) => `c${c} ${fmt(median(vsHello("floor", c)), 2)}x the hello server (rounds ${vsHello("floor", c).map((x) => x.toFixed(2)).join(", ")})`).join(", ")}; CPU per request ${cpuLine("floor")}; the runtime's rate as a share of the floor's: ${LEVELS.map((c) => `c${c} ${fmt(median(res.runtime.map((x, i) => x[`c${c}`].rps / res.floor[i][`c${c}`].rps)), 2)}x`).join(", ")}`);
  console.log(`the floor with the native engine's run of the echo flow in between, called as a library (no runtime HTTP layer; the ceiling of a runtime whose own layer cost nothing): ${LEVELS.map((c) => `c${c} ${fmt(median(vsHello("engineFloor", c)), 2)}x the hello server (rounds ${vsHello("engineFloor", c).map((x) => x.toFixed(2)).join(", ")})`).join(", ")}; CPU per request ${cpuLine("engineFloor")}`);
  const coldRt = median(colds.runtime);
  const coldHello = median(colds.hello);
  const coldRatio = coldRt / coldHello;
  console.log(`cold start (spawn -> first 200): runtime ${fmt(coldRt)} ms (spread ${spread(colds.runtime)}), hello ${fmt(coldHello)} ms (spread ${spread(colds.hello)}), ratio ${fmt(coldRatio, 2)}x over ${colds.runtime.length} starts each`);
  const rss = res.runtime.map((x) => x.rss);
  const rssReady = res.runtime.map((x) => x.rssReady);
  console.log(`RSS once ready: runtime ${fmt(median(rssReady))} MiB (spread ${spread(rssReady)}), hello ${fmt(median(res.hello.map((x) => x.rssReady)))} MiB`);
  console.log(`RSS after the load: runtime ${fmt(median(rss))} MiB (spread ${spread(rss)}), hello ${fmt(median(res.hello.map((x) => x.rss)))} MiB`);
  const settled = res.runtime.map((x) => x.rssSettled);
  console.log(`RSS ${SETTLE_MS / 1000} s after the load (V8's memory reducer has run; not the goal's figure): runtime ${fmt(median(settled))} MiB (spread ${spread(settled)}), hello ${fmt(median(res.hello.map((x) => x.rssSettled)))} MiB`);
  const own = (xs) => xs.map((x) => x.rss - x.rssFile);
  console.log(`  of which file-backed (the node binary's and its libraries' pages, shared by every Node process on the machine): runtime ${fmt(median(res.runtime.map((x) => x.rssFile)))} MiB, hello ${fmt(median(res.hello.map((x) => x.rssFile)))} MiB; the process's own (anonymous): runtime ${fmt(median(own(res.runtime)))} MiB (spread ${spread(own(res.runtime))}), hello ${fmt(median(own(res.hello)))} MiB`);
  if (BASELINE) {
    const b = res.baseline;
    const line = (c) => {
      const per = b.map((x, i) => x[`c${c}`].rps / res.hello[i][`c${c}`].rps);
      return `c${c} ${fmt(median(per), 2)}x (rounds ${per.map((x) => x.toFixed(2)).join(", ")})`;
    };
    console.log(`baseline (${BASELINE}), measured in the same rounds: echo-flow rate vs hello ${LEVELS.map(line).join(", ")}; cold start ${fmt(median(colds.baseline))} ms (spread ${spread(colds.baseline)}), ratio ${fmt(median(colds.baseline) / coldHello, 2)}x; RSS once ready ${fmt(median(b.map((x) => x.rssReady)))} MiB (spread ${spread(b.map((x) => x.rssReady))}), after the load ${fmt(median(b.map((x) => x.rss)))} MiB (spread ${spread(b.map((x) => x.rss))})`);
  }
  console.log("goals (issue #16):");
  for (const c of LEVELS) console.log(`  echo-flow rate >= ${GOALS.rate}x the hello server at c${c}: ${fmt(median(ratios[c]), 2)}x (rounds ${ratios[c].map((x) => x.toFixed(2)).join(", ")}) -> ${verdict(median(ratios[c]) >= GOALS.rate)}`);
  console.log(`  cold start <= ${GOALS.cold}x a bare Node start: ${fmt(coldRatio, 2)}x -> ${verdict(coldRatio <= GOALS.cold)}`);
  console.log(`  RSS <= ${GOALS.rssMiB} MiB: ${fmt(median(rss))} MiB (max ${fmt(Math.max(...rss))}) -> ${verdict(median(rss) <= GOALS.rssMiB)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
