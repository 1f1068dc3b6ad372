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
        assert.deepEqual((await migrate(sql))[0], 4);
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

/**
 * Migration 7 on a database that already holds deployments: each gets its current state as
 * revision 1 (cause `adopted`), its sealed credentials copied beside it.
 */
function revisionsBackfillCase(name: string, open: () => Promise<{ sql: SqlClient; cleanup: () => Promise<void> }>, skip: string | false = false): void {
  describe(`migration 7 backfill: ${name}`, { skip }, () => {
    it("adopts each existing deployment's state as its revision 1", async () => {
      const { sql, cleanup } = await open();
      try {
        await migrate(sql, MIGRATIONS.filter((m) => m.version < 7));
        await sql.exec("INSERT INTO users (id, name, kind) VALUES ('u1', 'ann', 'human'); INSERT INTO projects (id, name) VALUES ('p1', 'p')");
        await sql.query(
          `INSERT INTO deployments (id, project_id, display_name, resource_name, app_id, route_http, route_mcp, bundle_name, bundle_version, bundle_digest,
             network_access, runtime, parameters, parameter_overrides, credential_names, resources, generation, status, created_by)
           VALUES ('d1', 'p1', 'D', 'd-1', 'a1', 'h1', 'm1', 'b', 'v3', 'sha256:x', 'public', '{"engine":"auto","logLevel":"info","requestTimeoutSeconds":60}',
             '{"MODE":"fast"}', '{"MODE":"fast"}', '["KEY"]', '{"replicas":2,"cpu":{"request":"1","limit":"2"},"memory":{"request":"1Gi","limit":"2Gi"}}', 5, '{}', 'u1')`);
        await sql.query("INSERT INTO deployment_credentials (deployment_id, sealed) VALUES ('d1', $1)", [Buffer.from("sealed")]);
        assert.deepEqual(await migrate(sql, MIGRATIONS.filter((m) => m.version <= 7)), [7]);
        await migrate(sql); // the later ones, which the store's queries need
        const store = createSqlStore({ sql });
        assert.equal((await store.getDeployment("d1"))?.revision, 1);
        const r = await store.getRevision("d1", 1);
        assert.deepEqual({ cause: r?.cause, by: r?.createdBy, version: r?.bundle.version, params: r?.parameters, creds: r?.credentialNames, resources: r?.resources },
          { cause: "adopted", by: { userId: "u1", name: "ann" }, version: "v3", params: { MODE: "fast" }, creds: ["KEY"], resources: { cpu: { request: "1", limit: "2" }, memory: { request: "1Gi", limit: "2Gi" } } });
        assert.deepEqual(await store.getRevisionCredentials("d1", 1), Buffer.from("sealed"));
      } finally {
        await cleanup();
      }
    });
  });
}

revisionsBackfillCase("PGlite", async () => {
  const sql = await createPgliteClient(undefined, { empty: true });
  return { sql, cleanup: () => sql.close() };
});
revisionsBackfillCase("PostgreSQL", async () => {
  const db = await createTestDatabase();
  const sql = await createPostgresClient(db.url);
  return { sql, cleanup: async () => { await sql.close(); await db.drop(); } };
}, postgresSkipReason());
