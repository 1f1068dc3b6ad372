import { readdir, realpath, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { PGlite, type PGliteOptions, type Transaction } from "@electric-sql/pglite";
import { sparseFsBundle } from "./pglite-bundle.js";
import { createPgliteDir, pgliteTemplateTar } from "./pglite-template.js";
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

/** An error as words: PGlite's file-system errors are plain objects (`{errno}`), not Errors. */
function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  const errno = (e as { errno?: unknown } | null)?.errno;
  return typeof errno === "number" ? `file system error ${errno}` : String(e);
}

/** An empty database's files, made by initdb (which needs PGlite's whole file bundle), as a tar file. */
async function initdbTar(options: PGliteOptions): Promise<Blob> {
  const db = new PGlite(options);
  try {
    await db.waitReady; // dumpDataDir before it never settles
    return await db.dumpDataDir("none");
  } finally {
    await db.close();
  }
}

/** A SqlClient over an open PGlite instance. */
export const pgliteSqlClient = (db: PGlite): SqlClient => wrap(db, db);

const exists = (path: string) => stat(path).then(() => true, () => false);

/**
 * True for a folder a first start left half-written (killed while PGlite created the
 * database): it has files, but not the two every created database has. Nothing was ever
 * stored in it (the schema is written only once the database exists), so starting afresh
 * loses nothing; a folder with both markers is never touched.
 */
export async function isIncompletePgliteDir(dir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return false; // absent: PGlite creates it
  }
  if (entries.length === 0) return false;
  return !((await exists(join(dir, "PG_VERSION"))) && (await exists(join(dir, "global", "pg_control"))));
}

/**
 * `dataDir` undefined: in memory (tests). Otherwise a folder that persists across restarts.
 * A new database already has the current schema (it is copied from the template), unless
 * `o.empty` (in memory only: for tests of the migrations themselves).
 */
export async function createPgliteClient(given?: string, o: { empty?: boolean } = {}): Promise<SqlClient> {
  // PGlite's file system cannot open a folder through a symlink (ENOENT inside its WebAssembly):
  // a data folder linked to another disk is used where the link points.
  const dataDir = given ? await realpath(given).catch(() => given) : undefined;
  // Every MiB of shared buffers is resident for the process's life (PGlite zeroes them at start),
  // and a page missing from them is read back from the OS page cache by one read(): PostgreSQL's
  // default 128MB, and even 8MB, are far more than the control plane's working set needs.
  // PGlite serves one connection. PostgreSQL sizes its shared memory (each backend's slot, lock
  // and snapshot space) for max_connections, 100 by default: 4 MiB of PGlite's memory, all
  // touched at start. Two: one in use and one spare (measured: 13.7 -> 9.7 MiB in use once the
  // control plane idles). The lock table shrinks with it: one transaction can still lock about
  // 1,600 relations, where migrating an empty database, the most the product takes, locks 141.
  const options = { postgresqlconf: ["shared_buffers=1MB", "max_connections=2"] };
  if (dataDir && (await isIncompletePgliteDir(dataDir))) {
    // Kept aside, not deleted: an operator can still look at it.
    await rename(dataDir, `${dataDir}.incomplete-${Date.now()}`);
  }
  // A new database is copied from a template made out of process (pglite-template.ts says why).
  if (dataDir && !(await exists(join(dataDir, "PG_VERSION")))) await createPgliteDir(dataDir);
  // In memory (tests): loaded from the template's tar file rather than made by initdb; an empty
  // one (the migrations' tests) from initdb's files.
  const tar = dataDir ? undefined : o.empty ? await initdbTar(options) : await pgliteTemplateTar().then((t) => t && new Blob([t]));
  // A database that does not run initdb gets only the files it can read (pglite-bundle.ts: 5 MiB
  // less); an empty one too, so the migrations are tested as they run on a user's folder.
  const fsBundle = dataDir || tar ? await sparseFsBundle() : undefined;
  const db = dataDir
    ? new PGlite(dataDir, { ...options, fsBundle })
    : new PGlite({ ...options, ...(tar ? { loadDataDir: tar, fsBundle } : {}) });
  try {
    await db.waitReady;
  } catch (e) {
    // PGlite reports a database it cannot open as a bare "Aborted()": say which folder, and why it usually happens.
    if (!dataDir) throw e;
    throw new Error(`the PGlite database in ${dataDir} cannot be opened (${describe(e)}). ` +
      "Usual causes: another process has the folder open, or its disk filled up. Stop other processes using it and retry; restore a backup of the data folder if it still fails.");
  }
  return wrap(db, db);
}
