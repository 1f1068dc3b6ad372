import type { Store } from "@flowplane/core";
import { createPgliteClient } from "./pglite.js";
import { createPostgresClient } from "./postgres.js";
import type { SqlClient } from "./sql.js";
import { createSqlStore } from "./store.js";

export interface OpenStoreOptions {
  /** A real PostgreSQL; when absent, PGlite in `pgliteDir` (or in memory when that is absent too). */
  databaseUrl?: string | undefined;
  pgliteDir?: string | undefined;
}

/** Opens the system of record and brings its schema up to date. */
export async function openStore(o: OpenStoreOptions): Promise<{ store: Store; sql: SqlClient }> {
  const sql = o.databaseUrl ? await createPostgresClient(o.databaseUrl) : await createPgliteClient(o.pgliteDir);
  const store = createSqlStore({ sql });
  try {
    await store.migrate();
  } catch (e) {
    await sql.close().catch(() => undefined);
    throw e;
  }
  return { store, sql };
}
