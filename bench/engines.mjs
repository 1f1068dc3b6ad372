#!/usr/bin/env node
// Native engine versus lfx (Langflow's executor), side by side in one run on the same flows and
// the same runtime binary: cold start (spawn to /ready 200), runs/s and p50/p99 latency at
// concurrency 1, 16 and 64, and RSS of the whole process tree (the runtime plus lfx serve and
// anything it started). Both runtimes run at once and are measured interleaved over rounds
// (native lfx native lfx ...), each load from autocannon in its own process (no client in this
// event loop); figures are ratios of the two engines in the same run. LLM calls go to the fake
// OpenAI server; all traffic stays on 127.0.0.1.
// Then, per Langflow 1.13 starter that native runs and that needs no outside service (the set the
// equivalence suite compares byte for byte), each engine on its own with that one flow, one after
// the other: cold start, p50/p99 of sequential /api/v1/run calls (digest fake model), RSS after.
// FLOWPLANE_BENCH_BASELINE=<another checkout, built> adds, per starter, that checkout's runtime on
// the native engine ("baseline"), before lfx, taking turns with native at going first: before
// and after in one run.
// Usage: node bench/engines.mjs [seconds-per-figure] [--quick] [--starters-only]
//   (default 4; quick: 1 s, 1 round, levels 1 and 16, 5 runs per starter)
// Needs the build (npx tsc -b) and lfx (scripts/setup-lfx.sh, or FLOWPLANE_LFX_BIN).
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { QUICK, autocannon, fmt, interleaved, med, median, ratio, root, size, startRuntime, stopChild } from "./lib/common.mjs";

const BASELINE = process.env.FLOWPLANE_BENCH_BASELINE ? `${process.env.FLOWPLANE_BENCH_BASELINE.replace(/\/$/, "")}/` : null;

const { startFakeOpenAI, fixturePath, loadStarters, startersDir } = await import(pathToFileURL(`${root}tools/testkit/dist/index.js`).href);
const core = await import(pathToFileURL(`${root}core/dist/index.js`).href);
const { outsideServices } = await import(pathToFileURL(`${root}apps/runtime/dist/conformance/starters.js`).href);
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


/** p-th percentile (nearest rank) of numbers. */
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};

/**
 * The starters the per-starter figures use: native runs them and they need no outside service
 * (the set the equivalence suite compares), each with its parsed flow and the parameters a
 * deployment of it gives (model choices included, as deploy writes them).
 */
export function localStarters() {
  const out = [];
  for (const { name, raw } of loadStarters()) {
    const flow = core.parseFlow(raw);
    if (!core.compatibilityReport([flow]).native.supported) continue;
    // The suites' own rule (apps/runtime/src/conformance/starters.ts); Read File needs a file this bench does not hand it.
    if (outsideServices(flow).length > 0) continue;
    out.push({ name, raw, flow });
  }
  return out;
}

/** What a deployment of these flows is given: the provider key, the fake model's URL, each model choice. */
export function starterParams(flows, fakeBaseUrl) {
  const params = { OPENAI_API_KEY: "sk-bench", OPENAI_BASE_URL: fakeBaseUrl };
  for (const p of core.extractParameters(flows)) params[p.name] ??= p.kind === "model" ? "OpenAI/gpt-4o-mini" : `unused-${p.name.toLowerCase()}`;
  return params;
}

/** Per starter: each engine alone with that flow (cold start, sequential run latency, RSS), native then lfx. */
export async function starters() {
  if (!startersDir()) {
    console.log("starters: not fetched (scripts/fetch-starters.sh); per-starter figures skipped");
    return {};
  }
  const runs = size(20, 5);
  const fake = await startFakeOpenAI({ digest: true });
  const rows = [];
  const out = {};
  try {
    for (const [index, { name, raw, flow }] of localStarters().entries()) {
      const bundle = mkdtempSync(join(tmpdir(), "fp-bench-starter-"));
      writeFileSync(join(bundle, "flow.json"), JSON.stringify(raw));
      const params = starterParams([flow], fake.baseUrl);
      const fig = {};
      // With a baseline, native and baseline take turns at going first (the first start follows
      // the previous starter's lfx, whose exit may still weigh on the machine), lfx last.
      for (const engine of BASELINE ? (index % 2 ? ["baseline", "native", "lfx"] : ["native", "baseline", "lfx"]) : ENGINES) {
        const rt = await startRuntime({ ...params, FLOWPLANE_BUNDLE_PATH: bundle, FLOWPLANE_ENGINE: engine === "baseline" ? "native" : engine, FLOWPLANE_MODEL_HOSTS: "127.0.0.1", ...(process.env.FLOWPLANE_LFX_BIN ? { FLOWPLANE_LFX_BIN: process.env.FLOWPLANE_LFX_BIN } : {}) },
          ...(engine === "baseline" ? [existsSync(`${BASELINE}apps/runtime/bin/flowplane-runtime.js`) ? `${BASELINE}apps/runtime/bin/flowplane-runtime.js` : `${BASELINE}apps/runtime/dist/main.js`] : []));
        try {
          const times = [];
          for (let i = 0; i <= runs; i++) {
            const t0 = performance.now();
            const res = await fetch(`${rt.url}/api/v1/run/${flow.id}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input_value: "bench", session_id: `bench-${i}` }) });
            await res.text();
            if (res.status !== 200) throw new Error(`${name} on ${engine}: HTTP ${res.status}`);
            if (i > 0) times.push(performance.now() - t0); // the first run warms up
          }
          fig[engine] = { coldMs: rt.coldMs, p50: pct(times, 50), p99: pct(times, 99), rssMiB: treeRssMiB(rt.proc.pid) };
        } finally {
          await stopChild(rt.proc);
        }
      }
      rmSync(bundle, { recursive: true, force: true });
      out[name] = fig;
      const [n, l] = [fig.native, fig.lfx];
      rows.push({
        starter: name,
        "cold native/lfx ms": `${fmt(n.coldMs)} / ${fmt(l.coldMs)}`,
        "cold ratio": ratio(l.coldMs, n.coldMs),
        "p50 native/lfx ms": `${fmt(n.p50)} / ${fmt(l.p50)}`,
        "p99 native/lfx ms": `${fmt(n.p99)} / ${fmt(l.p99)}`,
        "RSS native/lfx MiB": `${fmt(n.rssMiB)} / ${fmt(l.rssMiB)}`,
        "RSS ratio": ratio(l.rssMiB, n.rssMiB),
        ...(fig.baseline ? { "baseline cold ms": fmt(fig.baseline.coldMs), "baseline cold ratio": ratio(l.coldMs, fig.baseline.coldMs), "baseline RSS MiB": fmt(fig.baseline.rssMiB), "baseline RSS ratio": ratio(l.rssMiB, fig.baseline.rssMiB) } : {}),
      });
    }
  } finally {
    await fake.close();
  }
  console.log(`starters: each engine alone with one Langflow 1.13 starter (native runs it, no outside service), ${runs} sequential runs after one warm-up, digest fake model${QUICK ? "  [quick mode]" : ""}`);
  console.table(rows);
  const vals = Object.values(out);
  const worst = (f) => Math.min(...vals.map(f));
  if (vals.length) {
    console.log(`worst over starters: cold start native ${fmt(worst((v) => v.lfx.coldMs / v.native.coldMs))}x faster (goal >= 20x), RSS native 1/${fmt(worst((v) => v.lfx.rssMiB / v.native.rssMiB))} of lfx (goal <= 1/4)`);
    const met = (f, goal) => vals.filter((v) => f(v) >= goal).length;
    console.log(`goals met on: cold start >= 20x ${met((v) => v.lfx.coldMs / v.native.coldMs, 20)}/${vals.length} starters, RSS <= 1/4 ${met((v) => v.lfx.rssMiB / v.native.rssMiB, 4)}/${vals.length}`);
    if (BASELINE) console.log(`baseline (${BASELINE}) in the same run: cold start >= 20x ${met((v) => v.lfx.coldMs / v.baseline.coldMs, 20)}/${vals.length}, RSS <= 1/4 ${met((v) => v.lfx.rssMiB / v.baseline.rssMiB, 4)}/${vals.length}; medians native ${fmt(median(vals.map((v) => v.native.coldMs)))} ms / ${fmt(median(vals.map((v) => v.native.rssMiB)))} MiB, baseline ${fmt(median(vals.map((v) => v.baseline.coldMs)))} ms / ${fmt(median(vals.map((v) => v.baseline.rssMiB)))} MiB, lfx ${fmt(median(vals.map((v) => v.lfx.coldMs)))} ms / ${fmt(median(vals.map((v) => v.lfx.rssMiB)))} MiB`);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!process.argv.includes("--starters-only")) await main();
  await starters();
}
