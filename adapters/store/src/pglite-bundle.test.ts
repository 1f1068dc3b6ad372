import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CHECKED_PGLITE_VERSION, isUnusedAtRunTime, keptRanges, loadSparseBundle, magicHolds, parseBundleIndex, sparseFsBundle, type BundleFile } from "./pglite-bundle.js";
import { pgliteDist, pgliteVersion } from "./pglite-package.js";
import { createPgliteClient } from "./pglite.js";

const dist = pgliteDist();
const realIndex = async () => {
  const data = await readFile(join(dist, "pglite.data"));
  const files = parseBundleIndex(await readFile(join(dist, "pglite.js"), "utf8"), data.length);
  assert.ok(files, "the pinned PGlite's loader lists files that tile its bundle");
  return { data, files };
};
const sum = (files: BundleFile[]) => files.reduce((n, f) => n + f.end - f.start, 0);

describe("PGlite's sparse file bundle", () => {
  it("reads the pinned PGlite's index, whose kept files carry their magic; it keeps what a database reads and drops more than 5 MB", async () => {
    const { data, files } = await realIndex();
    assert.ok(magicHolds(files, data));
    const dropped = files.filter((f) => isUnusedAtRunTime(f.path));
    assert.ok(sum(dropped) > 5_000_000, `dropped ${sum(dropped)} bytes`);
    for (const kept of ["/pglite/lib/postgresql/plpgsql.so", "/pglite/share/postgresql/timezone/GMT", "/pglite/share/postgresql/timezone/Europe/Paris", "/pglite/share/postgresql/timezonesets/Default", "/pglite/share/postgresql/extension/plpgsql--1.0.sql"]) {
      assert.ok(files.some((f) => f.path === kept), `${kept} is in the bundle`);
      assert.equal(isUnusedAtRunTime(kept), false, kept);
    }
    for (const gone of ["/pglite/share/postgresql/postgres.bki", "/pglite/share/postgresql/information_schema.sql", "/pglite/lib/postgresql/utf8_and_sjis.so", "/pglite/lib/postgresql/dict_snowball.so"]) {
      assert.equal(isUnusedAtRunTime(gone), true, gone);
    }
    const ranges = keptRanges(files);
    assert.equal(ranges.reduce((n, [a, b]) => n + b - a, 0), data.length - sum(dropped));
    assert.ok(ranges.length < files.length / 5, `${ranges.length} reads`);
  });

  it("is used for the PGlite it was checked against only; that is the installed one, and every copy of its loader lists the same files", async () => {
    assert.equal(await pgliteVersion(), CHECKED_PGLITE_VERSION,
      "PGlite was upgraded: check which of its bundle's files its PostgreSQL reads (pglite-bundle.ts UNUSED_AT_RUN_TIME), then set CHECKED_PGLITE_VERSION");
    const { data, files } = await realIndex();
    // The loader PGlite runs is bundled into a chunk its index.js imports; pglite.js is the same loader under a stable name.
    const copies = [];
    for (const name of await readdir(dist)) {
      if (!/\.(c?js)$/.test(name)) continue;
      const text = await readFile(join(dist, name), "utf8");
      if (text.includes("remote_package_size")) copies.push({ name, files: parseBundleIndex(text, data.length) });
    }
    assert.ok(copies.length >= 2, copies.map((c) => c.name).join(", "));
    for (const c of copies) assert.deepEqual(c.files, files, c.name);
    const bundle = await sparseFsBundle();
    assert.equal(bundle?.size, data.length);
    const elsewhere = await mkdtemp(join(tmpdir(), "flowplane-bundle-"));
    try {
      assert.equal(await sparseFsBundle(elsewhere), undefined, "a build of no known version: PGlite's own whole bundle");
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it("refuses an index that does not tile the bundle, and offsets that moved", async () => {
    const { data, files } = await realIndex();
    const src = (fs: BundleFile[]) => fs.map((f) => `{filename:"${f.path}",start:${f.start},end:${f.end}}`).join(",");
    assert.deepEqual(parseBundleIndex(src(files), data.length), files);
    assert.equal(parseBundleIndex(src(files), data.length + 1), undefined, "another bundle's size");
    assert.equal(parseBundleIndex(src(files.slice(1)), data.length), undefined, "a gap at the start");
    assert.equal(parseBundleIndex(src(files.filter((_, i) => i !== 10)), data.length), undefined, "a gap inside");
    assert.equal(parseBundleIndex("", data.length), undefined, "a loader without an index");
    assert.equal(magicHolds(files, data.subarray(1)), false, "every offset one byte off");
  });

  it("loads kept files' bytes in place and zeros elsewhere; the whole bundle when the index or a magic fails", async () => {
    const { data, files } = await realIndex();
    const dir = await mkdtemp(join(tmpdir(), "flowplane-bundle-"));
    try {
      await copyFile(join(dist, "pglite.js"), join(dir, "pglite.js"));
      await copyFile(join(dist, "pglite.data"), join(dir, "pglite.data"));
      const sparse = new Uint8Array(await loadSparseBundle(dir));
      assert.equal(sparse.length, data.length);
      for (const f of files) {
        const got = Buffer.from(sparse.subarray(f.start, f.end));
        if (isUnusedAtRunTime(f.path)) assert.ok(got.every((b) => b === 0), `${f.path} is zeros`);
        else assert.ok(got.equals(data.subarray(f.start, f.end)), `${f.path} is its bytes`);
      }

      // A bundle whose plpgsql.so does not start where the index says: the whole bundle.
      const plpgsql = files.find((f) => f.path.endsWith("/plpgsql.so"))!;
      const shifted = Buffer.from(data);
      shifted[plpgsql.start] = 0x7f;
      await writeFile(join(dir, "pglite.data"), shifted);
      assert.ok(Buffer.from(await loadSparseBundle(dir)).equals(shifted));

      // A loader whose index cannot be read: the whole bundle.
      await writeFile(join(dir, "pglite.data"), data);
      await writeFile(join(dir, "pglite.js"), "// another build\n");
      assert.ok(Buffer.from(await loadSparseBundle(dir)).equals(data));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  for (const where of ["in memory", "in a folder", "empty, in memory (the migrations' tests)"] as const) {
    it(`a database ${where} reads the sparse bundle: a dropped file is zeros, and what it uses works (time zones, PL/pgSQL)`, { timeout: 120_000 }, async () => {
      const root = await mkdtemp(join(tmpdir(), "flowplane-bundle-db-"));
      const sql = await createPgliteClient(where === "in a folder" ? join(root, "db") : undefined, { empty: where.startsWith("empty") });
      try {
        const head = async (path: string) => (await sql.query<{ b: Uint8Array }>("SELECT pg_read_binary_file($1, 0, 4) AS b", [path])).rows[0]!.b;
        assert.deepEqual([...(await head("/pglite/share/postgresql/postgres.bki"))], [0, 0, 0, 0], "a dropped file");
        assert.equal(Buffer.from(await head("/pglite/share/postgresql/timezone/GMT")).toString("latin1"), "TZif", "a kept file");
        const tz = await sql.query<{ t: string }>("SELECT (timestamptz '2026-07-01 12:00:00+00' AT TIME ZONE 'Europe/Paris')::text AS t");
        assert.deepEqual(tz.rows, [{ t: "2026-07-01 14:00:00" }]);
        await sql.exec("CREATE TEMP TABLE t (x int); DO $$ BEGIN INSERT INTO t VALUES (41 + 1); END $$;");
        assert.deepEqual((await sql.query<{ x: number }>("SELECT x FROM t")).rows, [{ x: 42 }]);
      } finally {
        await sql.close();
        await rm(root, { recursive: true, force: true });
      }
    });
  }
});
