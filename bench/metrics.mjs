// Metrics benchmark (issue #19 item 4): what the metrics endpoint's aggregate (RunStore.runStats:
// per-bucket counts and p50/p95/p99 per revision) costs at the run history's retention limit,
// FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT's default of 100,000 runs per deployment. The measured
// deployment holds 100,000 runs; four others hold 100,000 each beside it (500,000 rows). Two
// shapes: the runs spread over the last day (a steady 1.2/s), and all of them in the last hour
// (a burst: 28/s, the worst case for the hour's window). Each figure with the index of migration
// 12 (runs_deployment_time) and without it (only migration 8's indexes), interleaved, medians.
// On PGlite in a temporary folder, and on PostgreSQL when FLOWPLANE_TEST_DATABASE_URL is set
// (scripts/with-postgres.sh, as `npm run bench` does).
//
// Usage: npx tsc -b && node bench/metrics.mjs [--quick]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createPgliteClient, createPostgresClient, createSqlStore, createTestDatabase } from "@flowplane/store";
import { QUICK, size } from "./lib/common.mjs";

const PER_DEPLOYMENT = size(100_000, 5_000);
const OTHERS = 4;
const SAMPLES = size(7, 2);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `n` runs of `deployment` over the `span` ms before `now`, revisions 1..3, 2% 5xx, latencies 20..~2000 ms. */
async function fill(sql, deployment, n, span, now) {
  await sql.query(
    `INSERT INTO runs (time, deployment_id, project_id, revision, flow_id, route_kind, request_id, method, status, latency_ms)
     SELECT $2::timestamptz - (i * $3::double precision / $4) * interval '1 millisecond', $1, 'p', 1 + i % 3, 'f', 'http', 'r' || i, 'POST',
            CASE WHEN i % 50 = 0 THEN 500 WHEN i % 40 = 0 THEN 404 ELSE 200 END, 20 + (i * 7919 % 1000) * (1 + i % 3)
     FROM generate_series(0, $4 - 1) AS i`,
    [deployment, new Date(now).toISOString(), span, n]);
}

async function measure(label, sql) {
  const store = createSqlStore({ sql });
  await store.migrate();
  const now = Date.now();
  const t0 = performance.now();
  await fill(sql, "steady", PER_DEPLOYMENT, DAY, now);
  await fill(sql, "burst", PER_DEPLOYMENT, HOUR, now);
  for (let i = 0; i < OTHERS - 1; i++) await fill(sql, `other-${i}`, PER_DEPLOYMENT, DAY, now);
  await sql.query("ANALYZE runs");
  console.log(`${label}: ${(PER_DEPLOYMENT * (OTHERS + 1)).toLocaleString("en")} runs written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const cases = [
    ["steady, 1h window (30 s steps, ~4,200 runs)", "steady", HOUR, 30_000],
    ["steady, 24h window (10 min steps, 100,000 runs)", "steady", DAY, 600_000],
    ["burst, 1h window (30 s steps, 100,000 runs)", "burst", HOUR, 30_000],
    ["top: burst, 5m window (10 s steps, ~8,300 runs)", "burst", 300_000, 10_000],
  ];
  const time = async ([, dep, span, step]) => {
    const t = performance.now();
    await store.runStats(dep, { from: new Date(now - span), to: new Date(now), stepMs: step });
    return performance.now() - t;
  };
  const results = new Map(cases.map((c) => [c[0], { with: [], without: [] }]));
  for (let round = 0; round < SAMPLES; round++) {
    // The index toggled inside a transaction that rolls back: the "without" figures run on migration 8's indexes alone.
    for (const c of cases) results.get(c[0]).with.push(await time(c));
    await sql.transaction(async (tx) => {
      await tx.exec("DROP INDEX runs_deployment_time");
      const txStore = createSqlStore({ sql: tx });
      for (const c of cases) {
        const t = performance.now();
        await txStore.runStats(c[1], { from: new Date(now - c[2]), to: new Date(now), stepMs: c[3] });
        results.get(c[0]).without.push(performance.now() - t);
      }
      throw Object.assign(new Error("rollback"), { rollback: true });
    }).catch((e) => { if (!e.rollback) throw e; });
  }
  for (const [name, r] of results) {
    const w = med(r.with), wo = med(r.without);
    console.log(`  ${name.padEnd(50)} with index ${w.toFixed(1).padStart(7)} ms   without ${wo.toFixed(1).padStart(7)} ms   (${(wo / w).toFixed(1)}x)`);
  }
  const plan = await sql.query(
    `EXPLAIN SELECT count(*) FROM runs WHERE deployment_id = 'steady' AND time >= $1::timestamptz AND time < $2::timestamptz`,
    [new Date(now - HOUR).toISOString(), new Date(now).toISOString()]);
  console.log(`  plan of the 1h window: ${plan.rows.map((r) => Object.values(r)[0]).filter((l) => /Scan/.test(l)).map((l) => l.trim()).join(" / ")}`);
}

export async function main() {
  if (QUICK) console.log("(quick: 5,000 runs per deployment; figures not meaningful)");
  const dir = mkdtempSync(join(tmpdir(), "fp-bench-metrics-"));
  try {
    const pg = await createPgliteClient(join(dir, "pglite"));
    try {
      await measure("PGlite", pg);
    } finally {
      await pg.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const url = process.env.FLOWPLANE_TEST_DATABASE_URL;
  if (url) {
    const db = await createTestDatabase();
    const sql = await createPostgresClient(db.url);
    try {
      await measure("PostgreSQL", sql);
    } finally {
      await sql.close();
      await db.drop();
    }
  } else console.log("PostgreSQL: skipped (set FLOWPLANE_TEST_DATABASE_URL, or run through scripts/with-postgres.sh)");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
