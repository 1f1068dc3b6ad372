import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MIGRATIONS, migrate } from "./migrations.js";
import { createPgliteClient } from "./pglite.js";
import { createPostgresClient } from "./postgres.js";
import type { SqlClient } from "./sql.js";
import { createSqlStore } from "./store.js";
import { createTestDatabase, postgresSkipReason } from "./test-databases.js";

/**
 * Migration 4 on a database that already holds versions: project-access versions are given
 * their first allowed project as publishing project, global ones none (org owners manage them).
 */
function backfillCase(name: string, open: () => Promise<{ sql: SqlClient; cleanup: () => Promise<void> }>, skip: string | false = false): void {
  describe(`migration 4 backfill: ${name}`, { skip }, () => {
    it("records the publishing project of existing versions", async () => {
      const { sql, cleanup } = await open();
      try {
        await migrate(sql, MIGRATIONS.filter((m) => m.version < 4));
        await sql.exec("INSERT INTO projects (id, name) VALUES ('pa', 'a'), ('pb', 'b')");
        const insert = (tag: string, access: string, projects: string[]) => sql.query(
          `INSERT INTO bundle_versions (name, version_tag, description, access_level, allowed_projects, digest, parameters, flows, compatibility, created_by)
           VALUES ('b', $1, '', $2, $3::text[], 'sha256:x', '[]', '[]', '{}', 'u')`, [tag, access, projects]);
        await insert("shared", "project", ["pb", "pa"]);
        await insert("gone", "project", ["deleted-project"]);
        await insert("global", "global", []);
        assert.deepEqual(await migrate(sql), [4]);
        const store = createSqlStore({ sql });
        assert.equal((await store.getVersion("b", "shared", null))?.projectId, "pb");
        assert.equal((await store.getVersion("b", "gone", null))?.projectId, null, "a project that no longer exists is not referenced");
        assert.equal((await store.getVersion("b", "global", null))?.projectId, null);
      } finally {
        await cleanup();
      }
    });
  });
}

backfillCase("PGlite", async () => {
  const sql = await createPgliteClient(undefined, { empty: true });
  return { sql, cleanup: () => sql.close() };
});
backfillCase("PostgreSQL", async () => {
  const db = await createTestDatabase();
  const sql = await createPostgresClient(db.url);
  return { sql, cleanup: async () => { await sql.close(); await db.drop(); } };
}, postgresSkipReason());
