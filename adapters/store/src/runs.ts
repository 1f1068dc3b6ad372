import type { NewRun, RunFilter, RunRecord, RunStore } from "@flowplane/core";
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
    tokens: r.tokens === null || r.tokens === undefined ? null : (typeof r.tokens === "string" ? JSON.parse(r.tokens) : r.tokens) as RunRecord["tokens"],
    errorCode: textOrNull(r.error_code),
  };
}

function values(r: NewRun): unknown[] {
  return [r.time, r.deploymentId, r.projectId, r.revision, r.flowId, r.route, r.tool, r.caller.userId, r.caller.keyId, r.sessionId,
    r.requestId, r.method, r.status, r.latencyMs, r.tokens ? JSON.stringify(r.tokens) : null, r.errorCode];
}

export function runStore(sql: SqlClient): RunStore {
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
      const before = decodeCursor(cursor);
      const [lo, hi] = filter.statusClass ? STATUS_RANGE[filter.statusClass] : [null, null];
      const r = await sql.query(
        `SELECT *, id::text AS id_text FROM runs
         WHERE deployment_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
           AND ($3::timestamptz IS NULL OR time >= $3::timestamptz)
           AND ($4::int IS NULL OR status BETWEEN $4::int AND $5::int)
           AND ($6::text IS NULL OR session_id = $6::text)
         ORDER BY id DESC LIMIT $7`,
        [deploymentId, before, filter.since?.toISOString() ?? null, lo, hi, filter.sessionId ?? null, limit + 1]);
      const rows = r.rows.slice(0, limit);
      const last = rows[rows.length - 1];
      return { items: rows.map(toRun), nextCursor: r.rows.length > limit && last ? encodeCursor(String(last.id_text)) : null };
    },

    async getRun(deploymentId, runId) {
      if (!/^[1-9]\d{0,17}$/.test(runId)) return null; // not an id this store gives
      const r = await sql.query("SELECT *, id::text AS id_text FROM runs WHERE deployment_id = $1 AND id = $2::bigint", [deploymentId, runId]);
      return r.rows[0] ? toRun(r.rows[0]) : null;
    },

    async pruneRuns({ maxAgeMs, maxPerDeployment }, now) {
      const old = await sql.query("DELETE FROM runs WHERE time < $1", [new Date(now.getTime() - maxAgeMs).toISOString()]);
      // Per deployment over its count: everything at or below the id of its (max+1)-th newest run.
      const over = await sql.query(
        `WITH cut AS (
           SELECT c.deployment_id,
             (SELECT id FROM runs r2 WHERE r2.deployment_id = c.deployment_id ORDER BY id DESC OFFSET $1 LIMIT 1) AS id
           FROM (SELECT deployment_id FROM runs GROUP BY deployment_id HAVING count(*) > $1) c)
         DELETE FROM runs r USING cut WHERE r.deployment_id = cut.deployment_id AND r.id <= cut.id`,
        [maxPerDeployment]);
      return old.rowCount + over.rowCount;
    },
  };
}
