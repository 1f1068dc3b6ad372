import { setImmediate } from "node:timers/promises";
import type { SqlClient } from "./sql.js";

/**
 * Store.maintain on PGlite: the work PostgreSQL's autovacuum does on a server, which PGlite has
 * not. PostgreSQL needs nothing of this (autovacuum runs there).
 *
 * Which tables: those whose rows are deleted or updated as the product runs (every table but the
 * insert-only ones), not the whole database: the catalogs' pass cost 0.2 s and 4-5 MiB of
 * PGlite's memory, which it never gives back.
 *
 * When: by autovacuum's own rules and default settings, from PostgreSQL's statistics of each
 * table. VACUUM when the dead rows pass 50 + 20% of the table's rows (its space is then used
 * again), or the rows inserted since the last VACUUM pass 1,000 + 20% (its visibility map
 * brought up to date); ANALYZE when the rows changed since the last ANALYZE pass 50 + 10% (the
 * planner's statistics; without any, PGlite planned retention's trim as a join that read 400
 * million rows). A pass over tables that did not change is one query, where VACUUM (ANALYZE) of
 * each table on every pass cost 0.2-0.3 s of the event loop on a large database, mostly
 * ANALYZE's sampling.
 */
export const MAINTAINED_TABLES: readonly string[] = ["runs", "run_traces", "deployments", "runtime_endpoints", "leases", "access_keys", "deployment_credentials",
  "deployment_revisions", "bundle_versions", "project_members", "users"];

/** A table's counters, from pg_stat_user_tables and pg_class. */
export interface TableActivity {
  /** Rows as of the last VACUUM or ANALYZE (0 before the first). */
  rows: number;
  deadRows: number;
  insertedSinceVacuum: number;
  changedSinceAnalyze: number;
}

/** What autovacuum would run on the table now: its default thresholds (see above). */
export function maintenanceDue(t: TableActivity): { vacuum: boolean; analyze: boolean } {
  return {
    vacuum: t.deadRows > 50 + 0.2 * t.rows || t.insertedSinceVacuum > 1_000 + 0.2 * t.rows,
    analyze: t.changedSinceAnalyze > 50 + 0.1 * t.rows,
  };
}

export async function maintainPglite(sql: SqlClient): Promise<void> {
  // Statistics are flushed when the connection goes idle, at most once a second: this statement's
  // end flushes what the last second's statements counted, so the next one reads it all.
  await sql.query("SELECT pg_stat_force_next_flush()");
  const r = await sql.query<{ table: string; rows: number; dead: string; inserted: string; changed: string }>(
    `SELECT s.relname AS table, greatest(c.reltuples, 0)::float8 AS rows, s.n_dead_tup::text AS dead,
            s.n_ins_since_vacuum::text AS inserted, s.n_mod_since_analyze::text AS changed
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
      WHERE s.schemaname = current_schema() AND s.relname = ANY($1::text[])`, [MAINTAINED_TABLES]);
  for (const row of r.rows) {
    const due = maintenanceDue({ rows: Number(row.rows), deadRows: Number(row.dead), insertedSinceVacuum: Number(row.inserted), changedSinceAnalyze: Number(row.changed) });
    if (!due.vacuum && !due.analyze) continue;
    // A table at a time, the event loop given a turn between them (PGlite answers on it).
    await setImmediate();
    await sql.exec(due.vacuum ? `VACUUM${due.analyze ? " (ANALYZE)" : ""} ${quoteIdent(row.table)}` : `ANALYZE ${quoteIdent(row.table)}`);
  }
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
