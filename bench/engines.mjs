#!/usr/bin/env node
// Native engine versus lfx (Langflow's executor), side by side in one run on the same flows and
// the same runtime binary: cold start (spawn to /ready 200), runs/s and p50/p99 latency at
// concurrency 1, 16 and 64, and RSS of the whole process tree (the runtime plus lfx serve and
// anything it started). Both runtimes run at once and are measured interleaved over rounds
// (native lfx native lfx ...), each load from autocannon in its own process (no client in this
// event loop); figures are ratios of the two engines in the same run. LLM calls go to the fake
// OpenAI server; all traffic stays on 127.0.0.1.
// Usage: node bench/engines.mjs [seconds-per-figure] [--quick]   (default 4; quick: 1 s, 1 round, levels 1 and 16)
// Needs the build (npx tsc -b) and lfx (scripts/setup-lfx.sh, or FLOWPLANE_LFX_BIN).
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { QUICK, autocannon, fmt, interleaved, med, ratio, root, size, startRuntime, stopChild } from "./lib/common.mjs";

const { startFakeOpenAI, fixturePath } = await import(pathToFileURL(`${root}tools/testkit/dist/index.js`).href);
const FLOWS = [
  { fixture: "simple-chat-no-llm", label: "chat echo (no LLM)" },
  { fixture: "memory-chatbot", label: "memory chatbot (LLM, fake OpenAI)" },
];
const LEVELS = QUICK ? [1, 16] : [1, 16, 64];
const ENGINES = ["native", "lfx"];
const GOALS = { cold: 10, throughput: 5, rss: 3 };

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

export async function main() {
  const seconds = Number(process.argv.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? size(4, 1));
  const rounds = size(3, 1);
  const fake = await startFakeOpenAI();
  const bundle = mkdtempSync(join(tmpdir(), "fp-bench-engines-"));
  for (const f of FLOWS) copyFileSync(fixturePath(f.fixture), join(bundle, `${f.fixture}.json`));
  const env = { OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: "sk-bench", FLOWPLANE_BUNDLE_PATH: bundle, ...(process.env.FLOWPLANE_LFX_BIN ? { FLOWPLANE_LFX_BIN: process.env.FLOWPLANE_LFX_BIN } : {}) };
  const rts = {};
  const results = {};
  try {
    for (const engine of ENGINES) rts[engine] = await startRuntime({ ...env, FLOWPLANE_ENGINE: engine });
    for (const engine of ENGINES) results[engine] = { coldMs: rts[engine].coldMs, flows: {} };
    const body = JSON.stringify({ input_value: "bench" });
    for (const f of FLOWS) {
      const name = JSON.parse(readFileSync(fixturePath(f.fixture), "utf8")).name;
      const targets = [];
      for (const engine of ENGINES) {
        const id = (await (await fetch(`${rts[engine].url}/flows`)).json()).find((x) => x.name === name)?.id;
        const url = `${rts[engine].url}/flows/${id}/run`;
        await autocannon({ url, method: "POST", headers: { "content-type": "application/json" }, body, connections: 8, amount: 50 }); // warm-up
        for (const c of LEVELS) targets.push({ name: `${engine}/${c}`, engine, c, url });
      }
      // Level by level, the engines alternate: native/1 lfx/1 native/16 lfx/16 ... then again.
      targets.sort((a, b) => a.c - b.c);
      const res = await interleaved(targets, rounds, (t) =>
        autocannon({ url: t.url, method: "POST", headers: { "content-type": "application/json" }, body, connections: t.c, seconds }));
      for (const engine of ENGINES) {
        results[engine].flows[f.fixture] = Object.fromEntries(LEVELS.map((c) => {
          const r = res[`${engine}/${c}`];
          return [c, { requests: r.reduce((a, x) => a + x.total, 0), runsPerSec: med(r, "rps"), p50: med(r, "p50"), p99: med(r, "p99") }];
        }));
      }
    }
    for (const engine of ENGINES) results[engine].rssMiB = treeRssMiB(rts[engine].proc.pid);
  } finally {
    for (const engine of ENGINES) await stopChild(rts[engine]?.proc);
    await fake.close();
    rmSync(bundle, { recursive: true, force: true });
  }

  const { native, lfx } = results;
  const ok = (met) => (met ? "goal met" : "goal MISSED");
  console.log(`engines: native vs lfx, the same flows through the same runtime binary (${rounds} round(s) of ${seconds} s per figure, interleaved, medians)${QUICK ? "  [quick mode: sizes too small to mean anything]" : ""}`);
  const cold = lfx.coldMs / native.coldMs;
  console.log(`cold start (spawn -> /ready 200): native ${fmt(native.coldMs)} ms, lfx ${fmt(lfx.coldMs)} ms -> native ${fmt(cold)}x faster (goal >= ${GOALS.cold}x: ${ok(cold >= GOALS.cold)})`);
  const rows = [];
  let worstThroughput = Infinity;
  for (const f of FLOWS) {
    for (const c of LEVELS) {
      const [n, l] = [native.flows[f.fixture][c], lfx.flows[f.fixture][c]];
      if (l.runsPerSec > 0) worstThroughput = Math.min(worstThroughput, n.runsPerSec / l.runsPerSec);
      rows.push({
        flow: f.label,
        conc: c,
        "native runs/s": fmt(n.runsPerSec),
        "lfx runs/s": fmt(l.runsPerSec),
        "runs/s ratio": ratio(n.runsPerSec, l.runsPerSec),
        "native p50/p99 ms": `${n.p50} / ${n.p99}`,
        "lfx p50/p99 ms": `${l.p50} / ${l.p99}`,
        "p50 ratio": ratio(Math.max(l.p50, 1), Math.max(n.p50, 1)),
        "p99 ratio": ratio(Math.max(l.p99, 1), Math.max(n.p99, 1)),
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

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
