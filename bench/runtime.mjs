#!/usr/bin/env node
// Runtime benchmark over the built dist: cold start (spawn to /ready 200), runs/s and p50/p99
// latency of a no-LLM flow at concurrency 1, 16 and 64 (autocannon, its own process), and RSS
// after the runs. The levels are measured interleaved over rounds (1 16 64 1 16 64 ...), and
// each is shown as a ratio to concurrency 1 measured in the same run.
// Usage: node bench/runtime.mjs [--quick]   (build first: npx tsc -b; FLOWPLANE_BENCH_QUICK=1 = --quick)
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { QUICK, autocannon, fmt, interleaved, med, ratio, root, size, startRuntime, stopChild } from "./lib/common.mjs";

const fixture = `${root}../shared/fixtures/langflow/simple-chat-no-llm.json`;
const LEVELS = [1, 16, 64];

export async function main() {
  const seconds = size(4, 1);
  const rounds = size(3, 1);
  const rt = await startRuntime({ FLOWPLANE_BUNDLE_PATH: fixture });
  try {
    const flowId = (await (await fetch(`${rt.url}/flows`)).json())[0].id;
    const target = (c) => ({ name: `c${c}`, c, url: `${rt.url}/flows/${flowId}/run`, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input_value: "bench" }) });
    console.log(`runtime: cold start (spawn -> /ready 200) ${fmt(rt.coldMs)} ms${QUICK ? "  [quick mode: sizes too small to mean anything]" : ""}`);
    await autocannon({ ...target(8), connections: 8, seconds: 1 }); // warm-up: JIT, sockets
    const res = await interleaved(LEVELS.map(target), rounds, (t) => autocannon({ ...t, connections: t.c, seconds }));
    const base = med(res.c1, "rps");
    console.table(LEVELS.map((c) => {
      const r = res[`c${c}`];
      return { concurrency: c, "runs/s": fmt(med(r, "rps")), "runs/s vs c1": ratio(med(r, "rps"), base), "p50 ms": med(r, "p50"), "p99 ms": med(r, "p99"), "socket errors": r.reduce((a, x) => a + x.errors, 0) };
    }));
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${rt.proc.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
    console.log(`RSS after the runs: ${fmt(rss)} MiB  (${rounds} round(s) of ${seconds} s per level, medians)`);
  } finally {
    await stopChild(rt.proc);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
