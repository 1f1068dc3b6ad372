import { traceBytes, type NewRun, type RunFilter, type RunRecord, type RunStatsRow, type RunStore, type RunTrace } from "@flowplane/core";
import { pruneRuns, trimRuns as trimDeploymentRuns } from "./retention.js";
import { decodeCursor, encodeCursor } from "./rows.js";
import type { SqlClient } from "./sql.js";

/**
 * The run history (migration 8) on either SQL client. Lists are newest first, paged on the
 * row's id (its insertion order), so a page never skips or repeats a run that arrives meanwhile.
 */
const COLUMNS = ["time", "deployment_id", "project_id", "revision", "flow_id", "route_kind", "tool", "user_id", "key_id", "session_id", "request_id", "method", "status", "latency_ms", "tokens", "error_code"] as const;

/** Each column's type, in COLUMNS' order. */
const COLUMN_TYPES = ["timestamptz", "text", "text", "integer", "text", "text", "text", "text", "text", "text", "text", "text", "integer", "double precision", "jsonb", "text"] as const;

const STATUS_RANGE: Record<NonNullable<RunFilter["statusClass"]>, [number, number]> = {
  "2xx": [200, 299], "3xx": [300, 399], "4xx": [400, 499], "5xx": [500, 599], error: [400, 999],
};

type Row = Record<string, unknown>;
const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
const textOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toRun(r: Row): RunRecord {
  return {
    id: String(r.id_text ?? r.id),
    time: iso(r.time),
    deploymentId: String(r.deployment_id),
    projectId: String(r.project_id),
    revision: r.revision === null || r.revision === undefined ? null : Number(r.revision),
    flowId: textOrNull(r.flow_id),
    route: r.route_kind === "mcp" ? "mcp" : "http",
    tool: textOrNull(r.tool),
    caller: { userId: textOrNull(r.user_id), keyId: textOrNull(r.key_id) },
    sessionId: textOrNull(r.session_id),
    requestId: String(r.request_id),
    method: String(r.method),
    status: Number(r.status),
    latencyMs: Number(r.latency_ms),
    // The run's own counts, else its trace's (the replica reports them there, migration 11).
    tokens: json(r.tokens ?? r.trace_tokens) as RunRecord["tokens"],
    errorCode: textOrNull(r.error_code),
  };
}

const json = (v: unknown): unknown => (v === null || v === undefined ? null : typeof v === "string" ? JSON.parse(v) : v);

/** Runs with their trace's token counts: a lookup by the trace's primary key per run shown. */
const RUNS_WITH_TOKENS = `SELECT r.*, r.id::text AS id_text,
  (SELECT t.tokens FROM run_traces t WHERE t.deployment_id = r.deployment_id AND t.request_id = r.request_id) AS trace_tokens
  FROM runs r`;

function toTrace(r: Row): RunTrace {
  const io = json(r.io) as { input?: string | null; output?: string | null } | null;
  return {
    ...(io ? { input: io.input ?? null, output: io.output ?? null } : {}),
    requestId: String(r.request_id),
    flowId: String(r.flow_id),
    revision: r.revision === null || r.revision === undefined ? null : Number(r.revision),
    engine: r.engine === "lfx" ? "lfx" : "native",
    start: iso(r.time),
    durationMs: Number(r.duration_ms),
    status: r.status === "error" ? "error" : "ok",
    error: textOrNull(r.error),
    tokens: json(r.tokens) as RunTrace["tokens"],
    spans: json(r.spans) as RunTrace["spans"],
  };
}

function values(r: NewRun): unknown[] {
  return [r.time, r.deploymentId, r.projectId, r.revision, r.flowId, r.route, r.tool, r.caller.userId, r.caller.keyId, r.sessionId,
    r.requestId, r.method, r.status, r.latencyMs, r.tokens ? JSON.stringify(r.tokens) : null, r.errorCode];
}

export function runStore(sql: SqlClient): RunStore {
  /** A deployment's runs past its `maxRuns` newest (retention.ts). */
  const trimRuns = (deploymentId: string, maxRuns: number): Promise<number> => trimDeploymentRuns(sql, deploymentId, maxRuns);
  return {
    async insertRuns(runs) {
      if (runs.length === 0) return;
      // One statement per batch, one array parameter per column (unnest): 17 parameters whatever
      // the batch size, far cheaper to bind than one per value. Ids follow the batch's order.
      const rows = runs.map(values);
      const columns = COLUMN_TYPES.map((_, i) => rows.map((r) => r[i]));
      await sql.query(
        `INSERT INTO runs (${COLUMNS.join(", ")}) SELECT * FROM unnest(${COLUMN_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(", ")})`,
        columns);
    },

    async listRuns(deploymentId, filter, { limit, cursor }) {
      const before = decodeCursor(cursor, "integer");
      const [lo, hi] = filter.statusClass ? STATUS_RANGE[filter.statusClass] : [null, null];
      const r = await sql.query(
        `${RUNS_WITH_TOKENS}
         WHERE r.deployment_id = $1 AND ($2::bigint IS NULL OR r.id < $2::bigint)
           AND ($3::timestamptz IS NULL OR r.time >= $3::timestamptz)
           AND ($4::int IS NULL OR r.status BETWEEN $4::int AND $5::int)
           AND ($6::text IS NULL OR r.session_id = $6::text)
         ORDER BY r.id DESC LIMIT $7`,
        [deploymentId, before, filter.since?.toISOString() ?? null, lo, hi, filter.sessionId ?? null, limit + 1]);
      const rows = r.rows.slice(0, limit);
      const last = rows[rows.length - 1];
      return { items: rows.map(toRun), nextCursor: r.rows.length > limit && last ? encodeCursor(String(last.id_text)) : null };
    },

    async getRun(deploymentId, runId) {
      if (!/^[1-9]\d{0,17}$/.test(runId)) return null; // not an id this store gives
      const r = await sql.query(`${RUNS_WITH_TOKENS} WHERE r.deployment_id = $1 AND r.id = $2::bigint`, [deploymentId, runId]);
      return r.rows[0] ? toRun(r.rows[0]) : null;
    },

    trimRuns,

    // Per deployment, through its index, in batches (retention.ts says why).
    pruneRuns: (retention, now) => pruneRuns(sql, retention, now),

    async runStats(deploymentId, { from, to, stepMs }) {
      // One pass over the window's runs (index runs_deployment_time, migration 12): per bucket,
      // once per revision and once for all of them, and once for the whole window (GROUPING SETS), the three percentiles in one
      // sort per group (percentile_cont over an array). Cost: bench/metrics.mjs.
      const r = await sql.query(
        `SELECT floor(extract(epoch FROM time - $2::timestamptz) * 1000 / $4::double precision)::int AS bucket,
                revision, GROUPING(revision) AS all_revisions,
                count(*)::int AS requests,
                count(*) FILTER (WHERE status >= 400)::int AS errors,
                count(*) FILTER (WHERE status >= 500)::int AS server_errors,
                percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS p
         FROM runs
         WHERE deployment_id = $1 AND time >= $2::timestamptz AND time < $3::timestamptz
         GROUP BY GROUPING SETS ((bucket), (bucket, revision), ())
         ORDER BY 1, 3 DESC, 2`,
        [deploymentId, from.toISOString(), to.toISOString(), stepMs]);
      // The empty grouping set answers a row even for no runs: left out, as the contract says.
      return r.rows.filter((row) => Number(row.requests) > 0).map((row): RunStatsRow => {
        const p = (Array.isArray(row.p) ? row.p : []) as unknown[];
        return {
          bucket: row.bucket === null || row.bucket === undefined ? null : Number(row.bucket),
          revision: Number(row.all_revisions) !== 0 ? "all" : row.revision === null || row.revision === undefined ? null : Number(row.revision),
          requests: Number(row.requests), errors: Number(row.errors), serverErrors: Number(row.server_errors),
          p50: Number(p[0]), p95: Number(p[1]), p99: Number(p[2]),
        };
      });
    },

    async insertTraces(deploymentId, traces) {
      if (traces.length === 0) return [];
      const cols = [
        traces.map((t) => t.requestId), traces.map((t) => t.start), traces.map((t) => t.flowId), traces.map((t) => t.revision),
        traces.map((t) => t.engine), traces.map((t) => t.durationMs), traces.map((t) => t.status), traces.map((t) => t.error),
        traces.map((t) => (t.tokens ? JSON.stringify(t.tokens) : null)), traces.map((t) => JSON.stringify(t.spans)),
        // Kept only when the replica sent them (the deployment keeps inputs and outputs).
        traces.map((t) => (t.input !== undefined || t.output !== undefined ? JSON.stringify({ input: t.input ?? null, output: t.output ?? null }) : null)),
        // What the row counts against the deployment's byte budget (trimTraces), measured here, never taken from the replica.
        traces.map(traceBytes),
      ];
      const r = await sql.query(
        `INSERT INTO run_traces (deployment_id, request_id, time, flow_id, revision, engine, duration_ms, status, error, tokens, spans, io, bytes)
         SELECT $1, * FROM unnest($2::text[], $3::timestamptz[], $4::text[], $5::integer[], $6::text[], $7::double precision[], $8::text[], $9::text[], $10::jsonb[], $11::jsonb[], $12::jsonb[], $13::bigint[])
         ON CONFLICT (deployment_id, request_id) DO NOTHING
         RETURNING request_id`,
        [deploymentId, ...cols]);
      const stored = new Set(r.rows.map((row) => String(row.request_id)));
      // Batch order, each id once (a batch may name one twice: only one row went in).
      return traces.map((t) => t.requestId).filter((id) => stored.delete(id));
    },

    async trimTraces(deploymentId, maxBytes) {
      // The total first (the index alone, ~4x cheaper than the window below: 75 ms against 260 ms
      // for 200,000 traces on PGlite, which runs on the control plane's own thread): under the
      // budget, as most checks are, nothing more is read.
      const total = await sql.query("SELECT coalesce(sum(bytes), 0) AS b FROM run_traces WHERE deployment_id = $1", [deploymentId]);
      if (Number(total.rows[0]?.b ?? 0) <= maxBytes) return 0;
      // Newest first, each row's running total of bytes: every row from the one that passes the
      // budget on is deleted (request id breaks ties in start, so the order is total). One pass
      // over the deployment's rows in index run_traces_bytes (migration 15), none over others'.
      const r = await sql.query(
        `DELETE FROM run_traces t USING (
           SELECT request_id FROM (
             SELECT request_id, sum(bytes) OVER (ORDER BY time DESC, request_id DESC ROWS UNBOUNDED PRECEDING) AS upto
             FROM run_traces WHERE deployment_id = $1) w
           WHERE upto > $2::bigint) old
         WHERE t.deployment_id = $1 AND t.request_id = old.request_id`,
        [deploymentId, maxBytes]);
      return r.rowCount;
    },

    async getTrace(deploymentId, requestId) {
      const r = await sql.query("SELECT * FROM run_traces WHERE deployment_id = $1 AND request_id = $2", [deploymentId, requestId]);
      return r.rows[0] ? toTrace(r.rows[0]) : null;
    },
  };
}
