#!/usr/bin/env node
// A native replica's cold start (spawn -> /ready 200) over bundles of Langflow 1.13 starters, as
// a driver starts it (the runtime's bin with the drivers' Node options), against a bare
// `node:http` server (bench/lib/hello-server.mjs: spawn -> first 200) and, with
// FLOWPLANE_BENCH_BASELINE=<another checkout, built>, that checkout's replica: before and after
// in one run. bench/engines.mjs --starters-only takes one start per engine and starter (lfx's
// take tens of seconds); this one repeats the native starts, interleaved (bare, native,
// baseline, bare, ...), so a change to the replica's start shows above the machine's noise.
// Bundles: the smallest and the largest starter alone, then every starter native runs that needs
// no outside service in one replica (what the equivalence suite loads); model choices given as
// deploy gives them. Figures: medians with the spread (min-max) over the starts.
// Usage: node bench/replica-start.mjs [--quick]   (build first: npm run build; quick: 3 starts each)
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { QUICK, REPLICA_NODE_OPTIONS, fmt, interleaved, median, ratio, root, size, startListening, stopChild } from "./lib/common.mjs";
import { localStarters, starterParams } from "./engines.mjs";

const BASELINE = process.env.FLOWPLANE_BENCH_BASELINE ? `${process.env.FLOWPLANE_BENCH_BASELINE.replace(/\/$/, "")}/` : null;
const entry = (dir) => (existsSync(`${dir}apps/runtime/bin/flowplane-runtime.js`) ? `${dir}apps/runtime/bin/flowplane-runtime.js` : `${dir}apps/runtime/dist/main.js`);

/** One start of a target: the time to ready, the process stopped at once. */
async function once(start) {
  const rt = await start();
  try {
    return rt.coldMs;
  } finally {
    await stopChild(rt.proc);
  }
}

export async function main() {
  const starts = size(9, 3);
  const starters = localStarters();
  if (starters.length === 0) {
    console.log("replica-start: the starters are not fetched (scripts/fetch-starters.sh); skipped");
    return {};
  }
  const bySize = [...starters].sort((a, b) => JSON.stringify(a.raw).length - JSON.stringify(b.raw).length);
  const bundles = [
    { label: `${bySize[0].name} alone`, flows: [bySize[0]] },
    { label: `${bySize.at(-1).name} alone`, flows: [bySize.at(-1)] },
    { label: `all ${starters.length} in one replica`, flows: starters },
  ];
  const rows = [];
  const out = {};
  for (const b of bundles) {
    const dir = mkdtempSync(join(tmpdir(), "fp-bench-replica-start-"));
    b.flows.forEach((f, i) => writeFileSync(join(dir, `flow-${i}.json`), JSON.stringify(f.raw)));
    // No model is called: the replica only loads. The URL is loopback's discard port.
    const params = starterParams(b.flows.map((f) => f.flow), "http://127.0.0.1:9/v1");
    const env = {
      ...params, FLOWPLANE_PARAMETER_NAMES: JSON.stringify(Object.keys(params)), FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_ENGINE: "native",
      FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_RUNTIME_HOST: "127.0.0.1", FLOWPLANE_LOG_LEVEL: "info", FLOWPLANE_MODEL_HOSTS: "127.0.0.1",
    };
    const targets = [
      { name: "bare", start: () => startListening("hello", [`${root}bench/lib/hello-server.mjs`], {}, "/") },
      { name: "native", start: () => startListening("the runtime", [...REPLICA_NODE_OPTIONS, entry(root)], env, "/ready") },
      ...(BASELINE ? [{ name: "baseline", start: () => startListening("the baseline runtime", [...REPLICA_NODE_OPTIONS, entry(BASELINE)], env, "/ready") }] : []),
    ];
    try {
      const res = await interleaved(targets, starts, (t) => once(t.start));
      const mib = b.flows.reduce((n, f) => n + JSON.stringify(f.raw).length, 0) / 2 ** 20;
      const cell = (xs) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))})`;
      out[b.label] = Object.fromEntries(Object.entries(res).map(([k, xs]) => [k, median(xs)]));
      rows.push({
        bundle: b.label,
        "export MiB": fmt(mib, 2),
        "bare node ms": cell(res.bare),
        "native ms": cell(res.native),
        "native / bare": ratio(median(res.native), median(res.bare)),
        ...(BASELINE ? { "baseline ms": cell(res.baseline), "baseline / native": ratio(median(res.baseline), median(res.native)) } : {}),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`replica start: spawn -> /ready 200 of a native replica (bare node:http server: spawn -> first 200), ${starts} starts each, interleaved; medians (min-max)${QUICK ? "  [quick mode]" : ""}`);
  console.table(rows);
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
