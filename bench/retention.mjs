#!/usr/bin/env node
// Run-history retention on the embedded store (PGlite answers on the control plane's own thread,
// so each statement holds the API, the reconciler and an in-process gateway while it runs).
// A history of N runs and N/10 traces over D deployments, in a temporary folder; then, taking
// turns over the rounds (A B A B ...), a sweep as the control plane runs it (Store.pruneRuns:
// per deployment, through its index, batches of DELETE_BATCH; adapters/store/src/retention.ts)
// against the table-wide statements the sweep ran before (a DELETE by age and a GROUP BY over
// every deployment, runs and traces: the comparison). The history is kept, as in the steady
// state: every run recent, no deployment over its count, so neither deletes anything and both
// do the reading a sweep does every 5 minutes.
// Printed per target: the sweep's time and the longest hold of the event loop meanwhile (the
// largest gap between ticks of a 2 ms timer), medians with the spread, before the table's first
// VACUUM (a restarted PGlite: no statistics, no visibility map) and after it.
// Usage: node bench/retention.mjs [runs] [deployments] [--quick]   (default 1,000,000 and 20; build first)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { QUICK, fmt, median, root, size } from "./lib/common.mjs";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const RUNS = Number(args[0] ?? size(1_000_000, 20_000));
const DEPLOYMENTS = Number(args[1] ?? 20);
const ROUNDS = size(3, 1);
const RETENTION = { maxAgeMs: 7 * 24 * 3_600_000, maxPerDeployment: 100_000 };

const { openStore } = await import(pathToFileURL(`${root}adapters/store/dist/index.js`).href);
const dir = mkdtempSync(join(tmpdir(), "flowplane-bench-retention-"));
try {
  const { store, sql } = await openStore({ pgliteDir: dir });
  const started = performance.now();
  // Generated in the database: the history's shape, not its insertion, is what is measured.
  await sql.query(`INSERT INTO runs (time, deployment_id, project_id, revision, route_kind, request_id, method, status, latency_ms)
    SELECT now() - (g || ' ms')::interval, 'dep-' || (g % ${DEPLOYMENTS}), 'p', 1, 'http', 'r-' || g, 'POST', 200, 1.5 FROM generate_series(1, ${RUNS}) g`);
  await sql.query(`INSERT INTO run_traces (deployment_id, request_id, time, flow_id, revision, engine, duration_ms, status, spans, bytes)
    SELECT 'dep-' || (g % ${DEPLOYMENTS}), 'r-' || g, now() - (g || ' ms')::interval, 'f', 1, 'native', 1, 'ok', '[]'::jsonb, 300 FROM generate_series(1, ${Math.floor(RUNS / 10)}) g`);
  console.log(`history: ${RUNS.toLocaleString("en")} runs and ${Math.floor(RUNS / 10).toLocaleString("en")} traces over ${DEPLOYMENTS} deployments (${((performance.now() - started) / 1000).toFixed(1)} s to make)${QUICK ? " (quick: figures mean nothing)" : ""}`);

  const before = new Date(Date.now() - RETENTION.maxAgeMs).toISOString();
  const targets = {
    "sweep (per deployment)": () => store.pruneRuns(RETENTION, new Date()),
    "table-wide statements (before)": async () => {
      for (const table of ["runs", "run_traces"]) {
        await sql.query(`DELETE FROM ${table} WHERE time < $1`, [before]);
        await sql.query(`SELECT deployment_id FROM ${table} GROUP BY deployment_id HAVING count(*) > $1`, [RETENTION.maxPerDeployment]);
      }
    },
  };

  /** The pass's time and the longest gap between ticks of a 2 ms timer while it ran, in ms. */
  const measure = async (pass) => {
    let last = performance.now();
    let hold = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      hold = Math.max(hold, now - last);
      last = now;
    }, 2);
    await new Promise((r) => setTimeout(r, 20));
    last = performance.now();
    const t0 = performance.now();
    await pass();
    const ms = performance.now() - t0;
    // The last statement's hold ends with the pass: one more tick sees it.
    await new Promise((r) => setTimeout(r, 5));
    clearInterval(timer);
    return { ms, hold };
  };

  const phase = async (label) => {
    const res = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
    for (let r = 0; r < ROUNDS; r++) for (const [k, pass] of Object.entries(targets)) res[k].push(await measure(pass));
    const spread = (xs) => `${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}`;
    console.log(`\n${label} (${ROUNDS} rounds, taking turns):`);
    for (const [k, xs] of Object.entries(res)) {
      const holds = xs.map((x) => x.hold);
      const times = xs.map((x) => x.ms);
      console.log(`  ${k}: longest hold of the event loop ${fmt(median(holds))} ms (spread ${spread(holds)}), the pass ${fmt(median(times))} ms (spread ${spread(times)})`);
    }
    const [a, b] = Object.values(res).map((xs) => median(xs.map((x) => x.hold)));
    console.log(`  the sweep's longest hold as a share of the table-wide statements': ${fmt(a / b, 2)}x`);
  };

  await phase("before the first VACUUM (a restarted PGlite: no statistics, no visibility map)");
  await sql.exec("VACUUM (ANALYZE) runs");
  await sql.exec("VACUUM (ANALYZE) run_traces");
  await phase("after VACUUM (ANALYZE), as the sweep's maintenance leaves the tables");
  await sql.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
