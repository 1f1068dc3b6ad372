import type { RunRetention } from "@flowplane/core";
import { setImmediate } from "node:timers/promises";
import type { SqlClient } from "./sql.js";

/**
 * The run history's retention pass (Store.pruneRuns) and a deployment's trim by count
 * (Store.trimRuns), in statements that each read one deployment's rows through its index, at
 * most DELETE_BATCH deleted at a time, the event loop given a turn between two.
 *
 * Why so: PGlite answers on the control plane's own thread, so one statement holds the API, the
 * reconciler and an in-process gateway for as long as it runs. The pass was a table-wide
 * `DELETE ... WHERE time < $1` and a `GROUP BY deployment_id` over every run, every 5 minutes:
 * at a million runs, 0.2-0.7 s with the event loop held (a sequential scan each, PGlite having
 * no statistics before its first maintenance), ten times that at ten million. Now the
 * deployments are found by a loose index scan (one index descent each), and each one's old and
 * surplus runs through its own index range, a few deployments a statement (Pace), reading at
 * most CUT_ENTRIES index entries for the count's cuts, and deleting at most a batch
 * (bench/retention.mjs prints both passes' longest hold).
 *
 * Deletes are batched by key within the deployment (`deployment_id = $1 AND key = ANY(ARRAY(...))`:
 * the batch's keys read once, an InitPlan, then found through the deployment's index), oldest
 * first, so a batch never depends on a join the planner could get wrong without statistics (the
 * 400-million-row plan pglite.test.ts guards against).
 */

/** Rows one DELETE removes at most. */
export const DELETE_BATCH = 5_000;
/** Deployment ids read per statement of the loose index scan. */
const PAGE = 500;

type Table = "runs" | "run_traces";

/**
 * Up to PAGE deployment ids with rows in `table`, in order, after `after` ("" for the first):
 * each is one descent of the index that leads with deployment_id (runs_deployment,
 * run_traces_bytes), never a pass over the rows.
 */
async function deploymentsAfter(sql: SqlClient, table: Table, after: string): Promise<string[]> {
  const r = await sql.query<{ id: string }>(
    `WITH RECURSIVE d(id, n) AS (
       (SELECT deployment_id, 1 FROM ${table} WHERE deployment_id > $1 ORDER BY deployment_id LIMIT 1)
       UNION ALL
       SELECT (SELECT t.deployment_id FROM ${table} t WHERE t.deployment_id > d.id ORDER BY t.deployment_id LIMIT 1), d.n + 1
         FROM d WHERE d.id IS NOT NULL AND d.n < $2)
     SELECT id FROM d WHERE id IS NOT NULL`,
    [after, PAGE]);
  return r.rows.map((row) => String(row.id));
}

/** Every deployment with rows in `table`, a page at a time, a turn between pages. */
async function* deploymentPages(sql: SqlClient, table: Table): AsyncGenerator<string[]> {
  let after = "";
  for (;;) {
    const page = await deploymentsAfter(sql, table, after);
    if (page.length > 0) yield page;
    if (page.length < PAGE) return;
    after = page[page.length - 1]!;
    await setImmediate();
  }
}

/**
 * How many deployments one statement covers: about what holds the event loop TARGET_MS. One
 * statement per deployment cost 1 ms of PGlite's own work each (35x the table-wide pass at
 * 2,000 deployments of 100 runs); one for all of them reads every run at once. So the count
 * starts at one (a deployment may hold 100,000 runs), doubles while statements run short, and
 * halves when one runs long.
 */
export class Pace {
  static readonly TARGET_MS = 10;
  static readonly MAX = 256;
  size = 1;
  /** `max`: the most deployments a statement may cover whatever the times (at least 1). */
  constructor(private readonly max: number = Pace.MAX) {}
  /** The statement over `size` deployments took `ms`. */
  took(ms: number): void {
    if (ms > 2 * Pace.TARGET_MS) this.size = Math.max(1, Math.floor(this.size / 2));
    else if (ms < Pace.TARGET_MS / 2) this.size = Math.min(Math.max(1, this.max), this.size * 2);
  }
}

/**
 * Index entries a statement of cuts may read at most: a cut reads up to maxPerDeployment of a
 * deployment's runs, so the pace alone, grown on small deployments, let one statement read a run
 * of large ones together (a reviewer: 129 ms for 112 deployments, 4 ms for one). At the default
 * count (100,000) that is ten deployments a statement: 0.1-0.2 s at worst once vacuumed, below
 * the table-wide GROUP BY it replaced, where a smaller cap made a statement per two small
 * deployments (1,000 statements for 2,000 of them, a second of PGlite's work a sweep).
 */
export const CUT_ENTRIES = 1_000_000;

/** Runs `statement` over `ids` in chunks sized by `pace`, timed, a turn between two. */
async function paced(ids: string[], pace: Pace, statement: (chunk: string[]) => Promise<void>): Promise<void> {
  for (let at = 0; at < ids.length;) {
    const chunk = ids.slice(at, at + pace.size);
    at += chunk.length;
    const t = performance.now();
    await statement(chunk);
    pace.took(performance.now() - t);
    await setImmediate();
  }
}

/** Runs `batch` (a DELETE of at most DELETE_BATCH rows) until it deletes fewer, a turn between two; answers the rows deleted. */
async function inBatches(batch: () => Promise<{ rowCount: number }>): Promise<number> {
  let deleted = 0;
  for (;;) {
    const n = (await batch()).rowCount;
    deleted += n;
    if (n < DELETE_BATCH) return deleted;
    await setImmediate();
  }
}

/** A deployment's runs but its `maxRuns` newest (by id): the cut read once from index runs_deployment, then everything at or below it. */
export async function trimRuns(sql: SqlClient, deploymentId: string, maxRuns: number): Promise<number> {
  // Named apart from the column: ORDER BY id would sort by an output column named id, the text.
  const cut = await sql.query<{ cut: string }>("SELECT id::text AS cut FROM runs WHERE deployment_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1", [deploymentId, maxRuns]);
  const id = cut.rows[0]?.cut;
  if (id === undefined) return 0;
  return trimRunsAt(sql, deploymentId, id);
}

/** A deployment's runs at or below the run `cut`, oldest first, a batch at a time. */
const trimRunsAt = (sql: SqlClient, deploymentId: string, cut: string): Promise<number> =>
  inBatches(() => sql.query(
    `DELETE FROM runs WHERE deployment_id = $1 AND id = ANY(ARRAY(
       SELECT id FROM runs WHERE deployment_id = $1 AND id <= $2::bigint ORDER BY id LIMIT $3))`,
    [deploymentId, cut, DELETE_BATCH]));

/** A deployment's traces at or below the cut (start, request id): start times come from the replica, and traces sharing the cut's start must not all go with it. */
const trimTracesAt = (sql: SqlClient, deploymentId: string, time: string, requestId: string): Promise<number> =>
  inBatches(() => sql.query(
    `DELETE FROM run_traces WHERE deployment_id = $1 AND request_id = ANY(ARRAY(
       SELECT request_id FROM run_traces WHERE deployment_id = $1 AND (time, request_id) <= ($2::timestamptz, $3::text)
       ORDER BY time, request_id LIMIT $4))`,
    [deploymentId, time, requestId, DELETE_BATCH]));

/**
 * Deletes what retention no longer keeps at `now`: the runs and traces older than the age, then
 * each deployment's past the count, newest kept. Answers how many runs went. Idempotent, and
 * safe beside another pass or the recorder's trims: each statement deletes only rows that are
 * still past the rule when it runs.
 */
export async function pruneRuns(sql: SqlClient, { maxAgeMs, maxPerDeployment }: RunRetention, now: Date): Promise<number> {
  const before = new Date(now.getTime() - maxAgeMs).toISOString();
  // A pace per kind of statement: a DELETE by age that finds nothing is quick where the count's
  // cut over the same deployments reads up to maxPerDeployment runs of each.
  const cuts = Math.floor(CUT_ENTRIES / Math.max(1, maxPerDeployment));
  const pace = { runsAge: new Pace(), runsCut: new Pace(cuts), tracesAge: new Pace(), tracesCut: new Pace(cuts) };
  let deleted = 0;
  for await (const page of deploymentPages(sql, "runs")) {
    await paced(page, pace.runsAge, async (chunk) => {
      // By age, through index runs_deployment_time (deployment_id, time).
      deleted += await inBatches(() => sql.query(
        "DELETE FROM runs WHERE id = ANY(ARRAY(SELECT id FROM runs WHERE deployment_id = ANY($1::text[]) AND time < $2 LIMIT $3))",
        [chunk, before, DELETE_BATCH]));
    });
    // By count: each deployment's cut, through index runs_deployment; only those over it are trimmed.
    const over: { d: string; cut: string }[] = [];
    await paced(page, pace.runsCut, async (chunk) => {
      const r = await sql.query<{ d: string; cut: string | null }>(
        `SELECT d.id AS d, (SELECT r.id::text FROM runs r WHERE r.deployment_id = d.id ORDER BY r.id DESC OFFSET $2 LIMIT 1) AS cut
           FROM unnest($1::text[]) AS d(id)`, [chunk, maxPerDeployment]);
      for (const row of r.rows) if (row.cut !== null) over.push({ d: String(row.d), cut: String(row.cut) });
    });
    for (const { d, cut } of over) {
      deleted += await trimRunsAt(sql, d, cut);
      await setImmediate();
    }
  }
  for await (const page of deploymentPages(sql, "run_traces")) {
    await paced(page, pace.tracesAge, async (chunk) => {
      // By age, through index run_traces_bytes (deployment_id, time DESC, request_id DESC).
      await inBatches(() => sql.query(
        // Found again by key (index run_traces_pkey): a request id two of the chunk's
        // deployments share goes from both only where both are past the age.
        `DELETE FROM run_traces WHERE deployment_id = ANY($1::text[]) AND time < $2 AND request_id = ANY(ARRAY(
           SELECT request_id FROM run_traces WHERE deployment_id = ANY($1::text[]) AND time < $2 LIMIT $3))`,
        [chunk, before, DELETE_BATCH]));
    });
    const over: { d: string; t: string; r: string }[] = [];
    await paced(page, pace.tracesCut, async (chunk) => {
      // The cut as text, read back as it was stored (a Date would lose the start's microseconds).
      const r = await sql.query<{ d: string; t: string | null; r: string | null }>(
        `SELECT d.id AS d, c.t, c.r FROM unnest($1::text[]) AS d(id) CROSS JOIN LATERAL (
           SELECT time::text AS t, request_id AS r FROM run_traces WHERE deployment_id = d.id
           ORDER BY time DESC, request_id DESC OFFSET $2 LIMIT 1) c`, [chunk, maxPerDeployment]);
      for (const row of r.rows) if (row.t !== null && row.r !== null) over.push({ d: String(row.d), t: row.t, r: row.r });
    });
    for (const { d, t, r } of over) {
      await trimTracesAt(sql, d, t, r);
      await setImmediate();
    }
  }
  return deleted;
}
