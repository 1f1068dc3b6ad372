import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { SqlClient } from "./sql.js";

type Queryable = PGlite | Transaction;

function wrap(db: Queryable, root: PGlite): SqlClient {
  return {
    kind: "pglite",
    async query(text, params) {
      const r = await db.query(text, params as unknown[] | undefined);
      return { rows: r.rows as never[], rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(text) {
      await db.exec(text);
    },
    // PGlite is one connection: its transaction() holds the connection exclusively, so other
    // callers queue behind it instead of interleaving statements into the open transaction.
    transaction: (fn) => (db === root ? root.transaction((tx) => fn(wrap(tx, root))) : fn(wrap(db, root))),
    close: () => root.close(),
  };
}

/** `dataDir` undefined: in memory (tests). Otherwise a folder that persists across restarts. */
export async function createPgliteClient(dataDir?: string): Promise<SqlClient> {
  // PostgreSQL's default 128MB of shared buffers is far more than one control plane's working
  // set; 32MB keeps ~100MB of resident memory for the rest of the process.
  const options = { postgresqlconf: ["shared_buffers=32MB"] };
  const db = dataDir ? new PGlite(dataDir, options) : new PGlite(options);
  await db.waitReady;
  return wrap(db, db);
}
