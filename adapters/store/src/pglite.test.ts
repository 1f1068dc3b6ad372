import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { createPgliteClient, isIncompletePgliteDir } from "./pglite.js";
import { createSqlStore } from "./store.js";
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

it("PGlite keeps 1MB of shared buffers: PGlite zeroes them at start, so every MiB is resident for the process's life", async () => {
  const sql = await createPgliteClient();
  try {
    assert.deepEqual((await sql.query<{ shared_buffers: string }>("SHOW shared_buffers")).rows, [{ shared_buffers: "1MB" }]);
  } finally {
    await sql.close();
  }
});
