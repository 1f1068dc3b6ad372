#!/usr/bin/env node
// Native engine versus lfx (Langflow's executor), side by side in one run on the same flows and
// the same runtime binary: cold start (spawn to /ready 200), runs/s and p50/p99 latency at
// concurrency 1, 16 and 64 (each level bounded by a request count and a time limit), and RSS of
// the whole process tree (the runtime plus lfx serve and anything it started). LLM calls go to
// the fake OpenAI server; all traffic stays on 127.0.0.1.
// Usage: node bench/engines.mjs [max-requests-per-level] [max-seconds-per-level]
// Needs the build (npx tsc -b) and lfx (scripts/setup-lfx.sh, or FLOWPLANE_LFX_BIN).
import { spawn } from "node:child_process";
import { mkdtempSync, copyFileSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const { startFakeOpenAI, fixturePath } = await import(pathToFileURL(`${root}tools/testkit/dist/index.js`).href);
const FLOWS = [
  { fixture: "simple-chat-no-llm", label: "chat echo (no LLM)" },
  { fixture: "memory-chatbot", label: "memory chatbot (LLM, fake OpenAI)" },
];
const LEVELS = [1, 16, 64];
const GOALS = { cold: 10, throughput: 5, rss: 3 };

async function startRuntime(engine, bundleDir, env) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [`${root}apps/runtime/dist/main.js`], {
    env: { PATH: process.env.PATH, ...env, FLOWPLANE_PARAMETER_NAMES: JSON.stringify(Object.keys(env)), FLOWPLANE_ENGINE: engine, FLOWPLANE_BUNDLE_PATH: bundleDir, FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_LOG_LEVEL: "info", ...(process.env.FLOWPLANE_LFX_BIN ? { FLOWPLANE_LFX_BIN: process.env.FLOWPLANE_LFX_BIN } : {}) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (c) => {
      if (buf.length > 4096) return; // only the first lines matter; the rest is read and dropped
      buf += c;
      const m = /"url":"([^"]+)"/.exec(buf);
      if (m) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`the ${engine} runtime exited with ${code}`)));
  });
  while ((await fetch(`${url}/ready`).catch(() => null))?.status !== 200) {
    if (child.exitCode !== null) throw new Error(`the ${engine} runtime exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { child, url, coldMs: performance.now() - t0 };
}

/** RSS in MiB of a process and all its descendants. */
function treeRssMiB(pid) {
  const children = new Map();
  for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch { /* gone */ }
  }
  let kib = 0;
  const walk = (p) => {
    try { kib += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0); } catch { /* gone */ }
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return kib / 1024;
}

async function level(url, flowId, concurrency, maxRequests, maxSeconds) {
  const lat = [];
  let next = 0;
  const deadline = performance.now() + maxSeconds * 1000;
  const body = JSON.stringify({ input_value: "bench" });
  const worker = async () => {
    while (next++ < maxRequests && performance.now() < deadline) {
      const t = performance.now();
      const res = await fetch(`${url}/flows/${flowId}/run`, { method: "POST", headers: { "content-type": "application/json" }, body });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      lat.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return { requests: lat.length, runsPerSec: lat.length / secs, p50: q(0.5), p99: q(0.99) };
}

const fmt = (n, d = 1) => (n >= 100 ? n.toFixed(0) : n.toFixed(d));
const ratio = (a, b) => `${fmt(a / b)}x`;

export async function main(maxRequests = 400, maxSeconds = 8) {
  const fake = await startFakeOpenAI();
  const bundle = mkdtempSync(join(tmpdir(), "fp-bench-engines-"));
  for (const f of FLOWS) copyFileSync(fixturePath(f.fixture), join(bundle, `${f.fixture}.json`));
  const env = { OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: "sk-bench" };
  const results = {};
  try {
    for (const engine of ["native", "lfx"]) {
      const rt = await startRuntime(engine, bundle, env);
      try {
        const flows = await (await fetch(`${rt.url}/flows`)).json();
        const r = { coldMs: rt.coldMs, flows: {} };
        for (const f of FLOWS) {
          const id = flows.find((x) => x.name === JSON.parse(readFileSync(fixturePath(f.fixture), "utf8")).name)?.id;
          await level(rt.url, id, 8, 50, 5); // warm-up
          r.flows[f.fixture] = {};
          for (const c of LEVELS) r.flows[f.fixture][c] = await level(rt.url, id, c, maxRequests, maxSeconds);
        }
        r.rssMiB = treeRssMiB(rt.child.pid);
        results[engine] = r;
      } finally {
        rt.child.kill("SIGTERM");
        await new Promise((res) => (rt.child.exitCode !== null ? res() : rt.child.once("exit", res)));
      }
    }
  } finally {
    await fake.close();
  }

  const { native, lfx } = results;
  const ok = (met) => (met ? "goal met" : "goal MISSED");
  console.log(`engines: native vs lfx, the same flows through the same runtime binary (max ${maxRequests} requests or ${maxSeconds} s per level)`);
  const cold = lfx.coldMs / native.coldMs;
  console.log(`cold start (spawn -> /ready 200): native ${fmt(native.coldMs)} ms, lfx ${fmt(lfx.coldMs)} ms -> native ${fmt(cold)}x faster (goal >= ${GOALS.cold}x: ${ok(cold >= GOALS.cold)})`);
  const rows = [];
  let worstThroughput = Infinity;
  for (const f of FLOWS) {
    for (const c of LEVELS) {
      const [n, l] = [native.flows[f.fixture][c], lfx.flows[f.fixture][c]];
      worstThroughput = Math.min(worstThroughput, n.runsPerSec / l.runsPerSec);
      rows.push({
        flow: f.label,
        conc: c,
        "native runs/s": fmt(n.runsPerSec),
        "lfx runs/s": fmt(l.runsPerSec),
        "runs/s ratio": ratio(n.runsPerSec, l.runsPerSec),
        "native p50/p99 ms": `${fmt(n.p50, 2)} / ${fmt(n.p99, 2)}`,
        "lfx p50/p99 ms": `${fmt(l.p50, 2)} / ${fmt(l.p99, 2)}`,
        "p50 ratio": ratio(l.p50, n.p50),
        "p99 ratio": ratio(l.p99, n.p99),
        "requests n/l": `${n.requests}/${l.requests}`,
      });
    }
  }
  console.table(rows);
  console.log(`throughput: native is ${fmt(worstThroughput)}x lfx at worst (goal >= ${GOALS.throughput}x: ${ok(worstThroughput >= GOALS.throughput)})`);
  const rss = lfx.rssMiB / native.rssMiB;
  console.log(`RSS of the process tree after the runs: native ${fmt(native.rssMiB)} MiB, lfx ${fmt(lfx.rssMiB)} MiB -> native uses 1/${fmt(rss)} (goal <= 1/${GOALS.rss}: ${ok(rss >= GOALS.rss)})`);
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(Number(process.argv[2] ?? 400), Number(process.argv[3] ?? 8));
}
