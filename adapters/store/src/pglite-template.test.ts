import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { migrate } from "./migrations.js";
import { createPgliteClient } from "./pglite.js";
import { createPgliteDir, preparePgliteTemplate } from "./pglite-template.js";

describe("PGlite template: new databases are copied, never made by initdb in this process", { timeout: 240_000 }, () => {
  let root: string;
  let template: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "flowplane-pglite-template-"));
    template = join(root, "template");
    assert.equal(await preparePgliteTemplate(template), template);
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("a complete template is reused as it is; one made with another PGlite or other migrations is made again", async () => {
    const marker = join(template, ".flowplane-template");
    const key = await readFile(marker, "utf8");
    assert.match(key, /^format \d+ pglite \S+ migrations [0-9a-f]{16}$/);
    for (const e of await readdir(template, { recursive: true, withFileTypes: true }).then((es) => es.filter((x) => !x.name.startsWith(".flowplane-template")))) {
      const mode = (await stat(join(e.parentPath, e.name))).mode & 0o777;
      assert.equal(mode, e.isDirectory() ? 0o700 : 0o600, `${e.name} is private to this user`);
    }
    const before = (await stat(join(template, "PG_VERSION"))).mtimeMs;
    await preparePgliteTemplate(template);
    assert.equal((await stat(join(template, "PG_VERSION"))).mtimeMs, before, "reused, not rebuilt");

    await writeFile(marker, "format 2 pglite 0.0.1 migrations 0000000000000000");
    await preparePgliteTemplate(template);
    assert.equal(await readFile(marker, "utf8"), key, "rebuilt for the current key");
    assert.deepEqual((await readdir(root)).filter((e) => e.includes(".tmp-")), [], "no staging folder left");
  });

  it("a new data folder holds a database with the current schema, without the marker or any staging folder", async () => {
    const dir = join(root, "data", "pglite");
    await mkdir(dir, { recursive: true }); // an empty folder, as the server makes it
    await createPgliteDir(dir, template);
    assert.deepEqual((await readdir(join(root, "data"))), ["pglite"]);
    await assert.rejects(stat(join(dir, ".flowplane-template")));
    const sql = await createPgliteClient(dir);
    try {
      assert.deepEqual(await migrate(sql), [], "every migration was already applied in the template");
      await sql.exec("CREATE TABLE mine (x int); INSERT INTO mine VALUES (1)");
    } finally {
      await sql.close();
    }
    // The copy is the folder's own: what was written there is not in the template.
    await createPgliteDir(join(root, "second"), template);
    const second = await createPgliteClient(join(root, "second"));
    try {
      await assert.rejects(second.query("SELECT * FROM mine"), /does not exist/);
    } finally {
      await second.close();
    }
  });

  it("refuses a folder that already holds files", async () => {
    const dir = join(root, "busy");
    await mkdir(dir);
    await writeFile(join(dir, "something"), "x");
    await assert.rejects(createPgliteDir(dir, template), /not empty/);
  });
});
