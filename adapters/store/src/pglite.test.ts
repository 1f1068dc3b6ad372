import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { createPgliteClient, isIncompletePgliteDir } from "./pglite.js";
import { MAINTAINED_TABLES } from "./maintenance.js";
import type { Store } from "@flowplane/core";
import type { SqlClient } from "./sql.js";
import { createSqlStore } from "./store.js";
import { pruneRuns } from "./retention.js";
import { storeCases } from "./store.cases.js";

storeCases("PGlite (in memory)", async () => {
  const sql = await createPgliteClient();
  return { store: createSqlStore({ sql }), cleanup: () => sql.close() };
});

it("PGlite: a folder a killed first start left half-written is set aside and the database is created afresh; a created one is kept", { timeout: 180_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), "flowplane-pglite-"));
  try {
    const dir = join(root, "pglite");
    await mkdir(join(dir, "base"), { recursive: true });
    await writeFile(join(dir, "PG_VERSION"), "17\n"); // no global/pg_control: initdb never finished
    assert.equal(await isIncompletePgliteDir(dir), true);
    let sql = await createPgliteClient(dir);
    await sql.exec("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)");
    await sql.close();
    assert.equal(await isIncompletePgliteDir(dir), false);
    assert.ok((await readdir(root)).some((e) => e.startsWith("pglite.incomplete-")), "the half-written folder is kept aside");
    sql = await createPgliteClient(dir);
    assert.deepEqual((await sql.query<{ x: number }>("SELECT x FROM kept")).rows, [{ x: 7 }]);
    await sql.close();
    assert.equal(await isIncompletePgliteDir(join(root, "absent")), false);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

it("PGlite keeps 1MB of shared buffers and room for 2 connections: PGlite zeroes its shared memory at start, so every MiB is resident for the process's life", async () => {
  const sql = await createPgliteClient();
  try {
    assert.deepEqual((await sql.query<{ shared_buffers: string }>("SHOW shared_buffers")).rows, [{ shared_buffers: "1MB" }]);
    assert.deepEqual((await sql.query<{ max_connections: string }>("SHOW max_connections")).rows, [{ max_connections: "2" }]);
  } finally {
    await sql.close();
  }
});

/** Rows of `runs` read so far, by scans and index fetches (this session's statistics, flushed). */
async function runsRowsRead(sql: SqlClient): Promise<number> {
  await sql.query("SELECT pg_stat_force_next_flush()");
  await sql.query("SELECT pg_stat_clear_snapshot()");
  const r = await sql.query<{ n: string }>("SELECT (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::text AS n FROM pg_stat_user_tables WHERE relname = 'runs'");
  return Number(r.rows[0]!.n);
}

/** An in-memory PGlite store, migrated, for `fn`; closed after. */
async function withStore(fn: (store: Store, sql: SqlClient) => Promise<void>): Promise<void> {
  const sql = await createPgliteClient();
  try {
    const store = createSqlStore({ sql });
    await store.migrate();
    await fn(store, sql);
  } finally {
    await sql.close();
  }
}

const NOW = Date.parse("2026-06-01T12:00:00Z");
/** Counts the turns the event loop gives other tasks (setImmediate callbacks) until `stop`, which answers the count. */
function countTurns(): { stop: () => number } {
  let turns = 0;
  let ticking = true;
  const tick = () => {
    if (!ticking) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return { stop: () => ((ticking = false), turns) };
}

const newRun = (i: number, deploymentId: string, time = new Date(NOW - 1_000).toISOString()) => ({
  time, deploymentId, projectId: "p", revision: 1, flowId: "f", route: "http" as const, tool: null,
  caller: { userId: "u", keyId: "k" }, sessionId: `s-${i % 50}`, requestId: `r-${i}`, method: "POST", status: 200, latencyMs: 5, tokens: null, errorCode: null,
});

it("PGlite: retention's pass over a deployment far over its count reads its runs a few times, not once per run (no statistics: PGlite has no autovacuum)", { timeout: 180_000 }, async () => {
  // One statement joining each deployment's cut (a correlated subquery) to its runs was planned,
  // without statistics, as a join that ran the cut again for every run: about 400 million rows
  // read for this pass, 150 s with the control plane's event loop held (PGlite runs on it).
  await withStore(async (store, sql) => {
    for (let i = 0; i < 20_000; i += 1_000) await store.insertRuns(Array.from({ length: 1_000 }, (_, k) => newRun(i + k, "big")));
    const before = await runsRowsRead(sql);
    assert.equal(await store.pruneRuns({ maxAgeMs: 3_600_000, maxPerDeployment: 10_000 }, new Date(NOW)), 10_000);
    const read = (await runsRowsRead(sql)) - before;
    assert.ok(read < 200_000, `rows read by the pass: ${read} (the table held 20,000)`);
  });
});

it("PGlite: retention's pass over many deployments keeps each one's newest, takes traces by age and count, and gives the event loop turns throughout (PGlite holds it for each statement)", { timeout: 180_000 }, async () => {
  await withStore(async (store, sql) => {
    // 20 deployments of 600 runs and 60 traces, a third of each past the age; no statistics yet
    // (PGlite has no autovacuum), the planner's worst case.
    for (let d = 0; d < 20; d++) {
      await store.insertRuns(Array.from({ length: 600 }, (_, i) => newRun(i, `d-${d}`, new Date(NOW - (i < 200 ? 7_200_000 : 1_000)).toISOString())));
      await store.insertTraces(`d-${d}`, Array.from({ length: 60 }, (_, i) => ({
        requestId: `t-${i}`, flowId: "f", revision: 1, engine: "native" as const, start: new Date(NOW - (i < 20 ? 7_200_000 : 1_000) + i).toISOString(),
        durationMs: 1, status: "ok" as const, error: null, tokens: null, spans: [],
      })));
    }
    const turns = countTurns();
    assert.equal(await store.pruneRuns({ maxAgeMs: 3_600_000, maxPerDeployment: 300 }, new Date(NOW)), 20 * (200 + 100));
    const turned = turns.stop();
    const count = async (q: string, params: unknown[] = []) => (await sql.query<{ n: number }>(q, params)).rows[0]!.n;
    assert.equal(await count("SELECT count(*)::int AS n FROM runs"), 20 * 300);
    assert.equal(await count("SELECT count(*)::int AS n FROM runs WHERE time < $1 OR request_id IN ('r-200', 'r-299')", [new Date(NOW - 3_600_000).toISOString()]), 0, "the age's and the count's oldest gone");
    assert.equal(await count("SELECT count(*)::int AS n FROM run_traces"), 20 * 40, "traces past the age went too");
    assert.ok(turned >= 6, `turns the event loop got during the pass: ${turned}`);
  });
});

it("PGlite: retention's statements of cuts cover as many deployments as their read allows: ten at the default count, more at a small one", { timeout: 180_000 }, async () => {
  await withStore(async (store, sql) => {
    for (let d = 0; d < 60; d++) await store.insertRuns(Array.from({ length: 10 }, (_, i) => newRun(i, `d-${d}`)));
    /** The number of deployments each statement of cuts named (its first parameter, the chunk). */
    const chunks = async (maxPerDeployment: number) => {
      const seen: number[] = [];
      const recording: SqlClient = {
        ...sql, kind: sql.kind,
        query: (text, params) => {
          if (/OFFSET \$2 LIMIT 1\) AS cut/.test(text) && Array.isArray(params?.[0])) seen.push((params[0] as unknown[]).length);
          return sql.query(text, params);
        },
      };
      await pruneRuns(recording, { maxAgeMs: 3_600_000, maxPerDeployment }, new Date(NOW));
      return seen;
    };
    const atDefault = await chunks(100_000);
    assert.ok(atDefault.length > 0 && Math.max(...atDefault) <= 10, `deployments per statement at 100,000: ${atDefault.join(", ")}`);
    const atSmall = await chunks(10_000);
    assert.ok(Math.max(...atSmall) > 10, `grown past ten where each cut reads at most 10,000: ${atSmall.join(", ")}`);
  });
});

it("PGlite: a deployment's many old runs go in batches, the event loop given turns between them", { timeout: 180_000 }, async () => {
  await withStore(async (store, sql) => {
    const old = new Date(NOW - 7_200_000).toISOString();
    for (let i = 0; i < 12_000; i += 2_000) await store.insertRuns(Array.from({ length: 2_000 }, (_, k) => newRun(i + k, "old", old)));
    const turns = countTurns();
    const deleted = await store.pruneRuns({ maxAgeMs: 3_600_000, maxPerDeployment: 100_000 }, new Date(NOW));
    const turned = turns.stop();
    assert.equal(deleted, 12_000);
    assert.equal((await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM runs")).rows[0]!.n, 0);
    // 12,000 rows at most 5,000 a statement: three deletes, a turn after each.
    assert.ok(turned >= 3, `turns the event loop got during the pass: ${turned}`);
  });
});

it("PGlite: maintain() lets a table use the space of its deleted rows again, and gives the planner statistics (PGlite has no autovacuum)", { timeout: 180_000 }, async () => {
  await withStore(async (store, sql) => {
    const heapBytes = async () => Number((await sql.query<{ b: string }>("SELECT pg_relation_size('runs')::text AS b")).rows[0]!.b);
    const sizes: number[] = [];
    let n = 0;
    // Six rounds of 5,000 runs in, all but 1,000 deleted by retention: without maintain(), each
    // round's runs went to new pages, and the table grew by a round's worth each time (measured:
    // 1.0, 2.1, 3.1 MiB ... for 10,000 a round), whatever retention kept.
    for (let round = 0; round < 6; round++) {
      for (let b = 0; b < 10; b++) {
        await store.insertRuns(Array.from({ length: 500 }, () => newRun(n++, "d")));
      }
      await store.pruneRuns({ maxAgeMs: 3_600_000, maxPerDeployment: 1_000 }, new Date(NOW));
      await store.maintain();
      sizes.push(await heapBytes());
    }
    assert.ok(sizes[5]! < 2 * sizes[0]!, `the table's pages after each round (bytes): ${sizes.join(", ")}`);
    const stats = (await sql.query<{ v: unknown; a: unknown }>("SELECT last_vacuum AS v, last_analyze AS a FROM pg_stat_user_tables WHERE relname = 'runs'")).rows[0];
    assert.ok(stats?.v && stats.a, "vacuumed and analysed");
  });
});

it("PGlite: maintain() vacuums and analyzes the tables that changed enough, and leaves the others alone", { timeout: 120_000 }, async () => {
  await withStore(async (store, sql) => {
    /** Each maintained table's VACUUM and ANALYZE counts so far (statistics flushed first). */
    const counts = async () => {
      await sql.query("SELECT pg_stat_force_next_flush()");
      const r = await sql.query<{ t: string; v: string; a: string }>(
        `SELECT relname AS t, vacuum_count::text AS v, analyze_count::text AS a FROM pg_stat_user_tables WHERE relname = ANY($1::text[])`, [MAINTAINED_TABLES]);
      return Object.fromEntries(r.rows.map((x) => [x.t, `${x.v}/${x.a}`]));
    };
    for (let b = 0; b < 10; b++) await store.insertRuns(Array.from({ length: 500 }, (_, i) => newRun(b * 500 + i, "d")));
    await store.maintain();
    const first = await counts();
    assert.equal(first.runs, "1/1", "5,000 runs inserted: runs vacuumed and analyzed");
    assert.equal(first.run_traces, "0/0", "no traces: run_traces left alone");
    await store.maintain();
    assert.deepEqual(await counts(), first, "nothing changed since: no table vacuumed or analyzed again");
    await store.insertRuns([newRun(99_999, "d")]);
    await store.maintain();
    assert.deepEqual(await counts(), first, "one run more: below every threshold");
    await store.trimRuns("d", 1_000); // 4,001 of 5,001 deleted
    await store.maintain();
    assert.deepEqual(await counts(), { ...first, runs: "2/2" }, "runs vacuumed and analyzed again, and only runs");
  });
});

it("PGlite: retention's pass and maintain() give the event loop a turn between their statements (PGlite answers on it)", { timeout: 120_000 }, async () => {
  await withStore(async (store) => {
    // 40 deployments of 30 runs, over a count of 10: 40 statements in the pass.
    await store.insertRuns(Array.from({ length: 1_200 }, (_, i) => newRun(i, `d-${i % 40}`)));
    for (const pass of [() => store.pruneRuns({ maxAgeMs: 3_600_000, maxPerDeployment: 10 }, new Date(NOW)), () => store.maintain()]) {
      const order: string[] = [];
      setImmediate(() => order.push("another task"));
      await pass();
      order.push("pass done");
      assert.deepEqual(order, ["another task", "pass done"], "a task queued before the pass ran during it");
    }
  });
});
