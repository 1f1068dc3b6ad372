import type { ComponentDef, NodeContext } from "../component.js";
import { DataFrame } from "../values.js";

/**
 * Langflow 1.13's SQL Database (`SQLComponent`, the code the SaaS Pricing starter carries): its
 * one output, `run_sql_query`, runs the query and gives the rows as a DataFrame (lfx:
 * `DataFrame([row._asdict() for row in cursor.fetchall()])`), also as an agent's tool. The
 * database is PostgreSQL through `pg` (services.sql); other dialects fail the call with a
 * clear message. Values are JSON-shaped: dates as ISO text, where lfx holds Python datetimes.
 */

const jsonCell = (v: unknown): unknown => (v instanceof Date ? v.toISOString() : Buffer.isBuffer(v) ? v.toString("base64") : v);

async function runSqlQuery(ctx: NodeContext): Promise<DataFrame> {
  const url = ctx.text("database_url");
  if (!url) throw new Error("An error occurred while connecting to the database: no Database URL is set");
  const result = await ctx.run.services.sql(url, ctx.text("query"), ctx.run.signal);
  return new DataFrame(result.rows.map((row) => Object.fromEntries(result.columns.map((c) => [c, jsonCell(row[c])]))));
}

const sql: ComponentDef = { methods: { run_sql_query: runSqlQuery } };

export const sqlComponents: Record<string, ComponentDef> = { SQLComponent: sql };
