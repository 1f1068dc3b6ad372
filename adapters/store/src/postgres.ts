import pg from "pg";
import type { SqlClient } from "./sql.js";

// int8 (bigserial) as string by default is right: cursors carry it opaquely. Timestamps and
// jsonb are parsed by pg's defaults (Date, object), matching PGlite.

function client(q: pg.Pool | pg.PoolClient, pool: pg.Pool, inTx: boolean): SqlClient {
  return {
    kind: "postgres",
    async query(text, params) {
      const r = await q.query(text, params);
      return { rows: r.rows, rowCount: r.rowCount ?? r.rows.length };
    },
    async exec(text) {
      await q.query(text);
    },
    async transaction(fn) {
      if (inTx) return fn(client(q, pool, true));
      const c = await pool.connect();
      try {
        await c.query("BEGIN");
        const out = await fn(client(c, pool, true));
        await c.query("COMMIT");
        return out;
      } catch (e) {
        await c.query("ROLLBACK").catch(() => undefined);
        throw e;
      } finally {
        c.release();
      }
    },
    close: () => pool.end(),
  };
}

export async function createPostgresClient(url: string, options: { max?: number } = {}): Promise<SqlClient> {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
  // A pool error on an idle client (server restart) must not crash the process; the next query reconnects.
  pool.on("error", () => undefined);
  await pool.query("SELECT 1");
  return client(pool, pool, false);
}
