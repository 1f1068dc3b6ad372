import {
  ConflictError,
  NotFoundError,
  ValidationError,
  type AccessKey,
  type BundleSummary,
  type BundleVersion,
  type Deployment,
  type DeploymentChange,
  type DeploymentEvent,
  type DeploymentRevision,
  type Member,
  type NewAccessKey,
  type NewBundleVersion,
  type NewUser,
  type RevisionNote,
  type Page,
  type Project,
  type Store,
  type User,
  revisionSpecOf,
} from "@flowplane/core";
import { maintainPglite } from "./maintenance.js";
import { migrate } from "./migrations.js";
import { runStore } from "./runs.js";
import { decodeCursor, encodeCursor, iso, toDeployment, toEvent, toKey, toProject, toRevision, toRole, toRoles, toUser, toVersion } from "./rows.js";
import type { SqlClient } from "./sql.js";

export interface SqlStoreOptions {
  sql: SqlClient;
}

const UNIQUE_VIOLATION = "23505";
const isUniqueViolation = (e: unknown): boolean => (e as { code?: string } | null)?.code === UNIQUE_VIOLATION;

/** Versions visible to a set of projects; `$n` null means no filter. */
const visible = (n: number, alias = "") => `($${n}::text[] IS NULL OR ${alias}access_level = 'global' OR ${alias}allowed_projects && $${n}::text[])`;

/** How far back `endpointsSince` looks before its cursor: longer than any publish transaction lasts. */
const ENDPOINTS_OVERLAP_SECONDS = 10;

const VERSION_COLUMNS = "name, version_tag, description, access_level, allowed_projects, digest, parameters, flows, compatibility, created_by, created_at, project_id";

function page<T>(rows: T[], limit: number, key: (t: T) => string): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(key(last)) : null };
}

export function createSqlStore({ sql }: SqlStoreOptions): Store {
  // The row version is PostgreSQL's xmin: the transaction that wrote this version of the row.
  // Every UPDATE writes a new version with its own transaction's id, so a record cannot change
  // and keep its xmin (a freeze may rewrite it, which only reads as a change).
  const versionedDeployment = async (id: string): Promise<{ deployment: Deployment; version: string } | null> => {
    const r = await sql.query("SELECT *, xmin::text AS row_version FROM deployments WHERE id = $1", [id]);
    const row = r.rows[0];
    return row ? { deployment: toDeployment(row), version: String(row.row_version) } : null;
  };
  const deploymentParams = (d: Deployment) => [
    d.id, d.projectId, d.displayName, d.resourceName, d.appId, d.routes.http, d.routes.mcp,
    d.bundle.name, d.bundle.version, d.bundle.digest, d.networkAccess,
    JSON.stringify(d.runtime), JSON.stringify(d.parameters), JSON.stringify(d.parameterOverrides),
    JSON.stringify(d.credentialNames), JSON.stringify(d.resources), d.generation, JSON.stringify(d.status),
    d.createdBy, d.createdAt, d.updatedAt, d.deletedAt, d.deletionRequestedAt,
    d.disabled ? JSON.stringify(d.disabled) : null, d.revision,
    d.sleeping ? JSON.stringify(d.sleeping) : null,
    d.traffic ? JSON.stringify(d.traffic) : null,
  ];

  // The deployment's spec as it now stands, as an immutable revision (same transaction as the change).
  const insertRevision = async (q: SqlClient, d: Deployment, note: Omit<RevisionNote, "cause"> & { cause: DeploymentRevision["cause"] }, sealed: Buffer | null) => {
    const spec = revisionSpecOf(d);
    await q.query(
      `INSERT INTO deployment_revisions (deployment_id, revision, created_at, created_by, cause, rolled_back_to, changes, bundle_name, bundle_version,
         bundle_digest, runtime, parameters, parameter_overrides, credential_names, resources, sealed)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11::jsonb, $12::jsonb, $13::jsonb, $14::jsonb, $15::jsonb, $16)`,
      [d.id, d.revision, d.updatedAt, note.createdBy, note.cause, note.rolledBackTo, JSON.stringify(note.changes), spec.bundle.name, spec.bundle.version,
        spec.bundle.digest, JSON.stringify(spec.runtime), JSON.stringify(spec.parameters), JSON.stringify(spec.parameterOverrides),
        JSON.stringify(spec.credentialNames), JSON.stringify(spec.resources), sealed]);
  };
  const REVISION_SELECT = "SELECT r.*, u.name AS author_name FROM deployment_revisions r LEFT JOIN users u ON u.id = r.created_by";

  const insertEvent = (q: SqlClient, id: string, e: DeploymentEvent) =>
    q.query("INSERT INTO deployment_events (deployment_id, time, type, reason, message) VALUES ($1, $2, $3, $4, $5)", [id, e.time, e.type, e.reason, e.message]);

  /**
   * The version a deployment is about to pin, locked against its delete until the commit
   * (deleteVersion locks it before counting its pins), or a ValidationError on `bundle.version`
   * (as for a version that never was) when it is gone: the caller read it before this
   * transaction, and a delete may have come in between.
   */
  const holdVersion = async (tx: SqlClient, name: string, tag: string): Promise<void> => {
    const r = await tx.query("SELECT 1 FROM bundle_versions WHERE name = $1 AND version_tag = $2 FOR KEY SHARE", [name, tag]);
    if (!r.rows[0]) throw new ValidationError([{ field: "bundle.version", message: `${name}@${tag} was deleted meanwhile: choose another version` }]);
  };

  const store: Store = {
    ...runStore(sql),
    async migrate() {
      await migrate(sql);
    },
    async maintain() {
      // PostgreSQL's autovacuum does this on a server; PGlite has none (maintenance.ts).
      if (sql.kind === "pglite") await maintainPglite(sql);
    },
    close: () => sql.close(),

    async createUser(u: NewUser): Promise<User> {
      const r = await sql.query("INSERT INTO users (id, name, kind, org_owner) VALUES ($1, $2, $3, $4) RETURNING *", [u.id, u.name, u.kind, u.orgOwner]);
      return toUser(r.rows[0]!);
    },
    async getUser(id) {
      const r = await sql.query("SELECT * FROM users WHERE id = $1", [id]);
      return r.rows[0] ? toUser(r.rows[0]) : null;
    },
    async findOrgOwner() {
      const r = await sql.query("SELECT * FROM users WHERE org_owner ORDER BY seq LIMIT 1");
      return r.rows[0] ? toUser(r.rows[0]) : null;
    },
    async listUsers({ limit, cursor }) {
      const after = decodeCursor(cursor, "integer");
      const r = await sql.query("SELECT *, seq::text AS seq_text FROM users WHERE ($1::bigint IS NULL OR seq > $1::bigint) ORDER BY seq LIMIT $2", [after, limit + 1]);
      const keyed = r.rows.map((row) => ({ user: toUser(row), key: String(row.seq_text) }));
      const p = page(keyed, limit, (x) => x.key);
      return { items: p.items.map((x) => x.user), nextCursor: p.nextCursor };
    },

    async deactivateUser(id, at) {
      const r = await sql.query("UPDATE users SET deactivated_at = COALESCE(deactivated_at, $2) WHERE id = $1 RETURNING *", [id, at.toISOString()]);
      return r.rows[0] ? toUser(r.rows[0]) : null;
    },

    async createKey(k: NewAccessKey, maxLive: number): Promise<AccessKey> {
      return sql.transaction(async (tx) => {
        // The user row lock serialises concurrent key creation for one user, so the limit holds.
        const u = await tx.query("SELECT id, deactivated_at FROM users WHERE id = $1 FOR UPDATE", [k.userId]);
        if (u.rows.length === 0) throw new ConflictError(`user ${k.userId} does not exist`);
        if (u.rows[0]!.deactivated_at !== null) throw new ConflictError(`user ${k.userId} is deactivated: no key can be created for them`);
        const live = await tx.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM access_keys WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()", [k.userId]);
        if ((live.rows[0]?.n ?? 0) >= maxLive) {
          throw new ConflictError(`this user already has ${maxLive} live access key${maxLive > 1 ? "s" : ""}, the most allowed: revoke one first`);
        }
        const r = await tx.query("INSERT INTO access_keys (id, user_id, key_hash, prefix, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING *",
          [k.id, k.userId, k.hash, k.prefix, k.expiresAt.toISOString()]);
        return toKey(r.rows[0]!);
      });
    },
    async findLiveKey(hash, now) {
      // The key, its user and the user's roles in one round trip (one index probe each: the
      // key's hash, the user's id, project_members_user): every authenticated API call runs it.
      const r = await sql.query(
        `SELECT k.*, u.id AS u_id, u.name AS u_name, u.kind AS u_kind, u.org_owner AS u_org_owner, u.created_at AS u_created_at,
           (SELECT COALESCE(json_agg(json_build_array(m.project_id, m.role)), '[]'::json) FROM project_members m WHERE m.user_id = u.id) AS u_roles
         FROM access_keys k JOIN users u ON u.id = k.user_id
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND k.expires_at > $2 AND u.deactivated_at IS NULL`, [hash, now.toISOString()]);
      const row = r.rows[0];
      if (!row) return null;
      return {
        key: toKey(row),
        user: toUser({ id: row.u_id, name: row.u_name, kind: row.u_kind, org_owner: row.u_org_owner, created_at: row.u_created_at, deactivated_at: null }),
        roles: toRoles(row.u_roles),
      };
    },
    async touchKey(id, at, granularitySeconds) {
      // Conditional, so a busy key costs one write a minute rather than one per call.
      await sql.query(
        "UPDATE access_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - make_interval(secs => $3))",
        [id, at.toISOString(), granularitySeconds]);
    },
    async getKey(id) {
      const r = await sql.query("SELECT * FROM access_keys WHERE id = $1", [id]);
      return r.rows[0] ? toKey(r.rows[0]) : null;
    },
    async listKeys(userId) {
      const r = await sql.query("SELECT * FROM access_keys WHERE user_id = $1 ORDER BY created_at, id", [userId]);
      return r.rows.map(toKey);
    },
    async revokeKey(id, at) {
      const r = await sql.query("UPDATE access_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING *", [id, at.toISOString()]);
      return r.rows[0] ? toKey(r.rows[0]) : null;
    },

    async createProject(p): Promise<Project> {
      try {
        const r = await sql.query("INSERT INTO projects (id, name) VALUES ($1, $2) RETURNING *", [p.id, p.name]);
        return toProject(r.rows[0]!);
      } catch (e) {
        if (isUniqueViolation(e)) throw new ConflictError(`a project named "${p.name}" already exists`);
        throw e;
      }
    },
    async getProject(id) {
      const r = await sql.query("SELECT * FROM projects WHERE id = $1", [id]);
      return r.rows[0] ? toProject(r.rows[0]) : null;
    },
    async listProjects(projectIds, { limit, cursor }) {
      const after = decodeCursor(cursor, "text");
      const r = await sql.query(
        "SELECT * FROM projects WHERE ($1::text[] IS NULL OR id = ANY($1::text[])) AND ($2::text IS NULL OR name > $2) ORDER BY name LIMIT $3",
        [projectIds, after, limit + 1]);
      return page(r.rows.map(toProject), limit, (p) => p.name);
    },
    async setMember(projectId, userId, role) {
      await sql.query(
        "INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role",
        [projectId, userId, role]);
    },
    async removeMember(projectId, userId) {
      const r = await sql.query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2", [projectId, userId]);
      return r.rowCount > 0;
    },
    async listMembers(projectId): Promise<Member[]> {
      const r = await sql.query(
        "SELECT m.project_id, m.user_id, m.role, u.name FROM project_members m JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 ORDER BY u.name",
        [projectId]);
      return r.rows.map((row) => ({ projectId: String(row.project_id), userId: String(row.user_id), userName: String(row.name), role: toRole(row.role) }));
    },

    async insertVersion(v: NewBundleVersion, mayAdd?: (first: BundleVersion | null) => void): Promise<BundleVersion> {
      try {
        return await sql.transaction(async (tx) => {
          if (mayAdd) {
            // One publish of a name at a time until commit (a name has no row to lock before its
            // first version): the first version read next is the one the name's owner published.
            await tx.query("SELECT pg_advisory_xact_lock(7242, hashtext($1))", [v.name]);
            const first = await tx.query(`SELECT ${VERSION_COLUMNS} FROM bundle_versions WHERE name = $1 ORDER BY seq LIMIT 1`, [v.name]);
            mayAdd(first.rows[0] ? toVersion(first.rows[0]) : null);
          }
          const r = await tx.query(
            `INSERT INTO bundle_versions (name, version_tag, description, access_level, allowed_projects, digest, parameters, flows, compatibility, created_by, project_id)
             VALUES ($1, $2, $3, $4, $5::text[], $6, $7::jsonb, $8::jsonb, $9::jsonb, $10, $11) RETURNING ${VERSION_COLUMNS}`,
            [v.name, v.versionTag, v.description, v.accessLevel, v.allowedProjects, v.digest,
              JSON.stringify(v.parameters), JSON.stringify(v.flows), JSON.stringify(v.compatibility), v.createdBy, v.projectId]);
          await tx.query("INSERT INTO bundle_flows (name, version_tag, flows) VALUES ($1, $2, $3::jsonb)", [v.name, v.versionTag, v.rawFlowsJson ?? JSON.stringify(v.rawFlows)]);
          return toVersion(r.rows[0]!);
        });
      } catch (e) {
        if (isUniqueViolation(e)) throw new ConflictError(`${v.name} already has a version "${v.versionTag}": versions are immutable, publish a new tag`);
        throw e;
      }
    },
    async getVersion(name, tag, visibleTo) {
      const r = await sql.query(`SELECT ${VERSION_COLUMNS} FROM bundle_versions WHERE name = $1 AND version_tag = $2 AND ${visible(3)}`, [name, tag, visibleTo]);
      return r.rows[0] ? toVersion(r.rows[0]) : null;
    },
    async latestVersion(name, visibleTo) {
      const r = await sql.query(`SELECT ${VERSION_COLUMNS} FROM bundle_versions WHERE name = $1 AND ${visible(2)} ORDER BY seq DESC LIMIT 1`, [name, visibleTo]);
      return r.rows[0] ? toVersion(r.rows[0]) : null;
    },
    async listVersions(name, visibleTo) {
      const r = await sql.query(`SELECT ${VERSION_COLUMNS} FROM bundle_versions WHERE name = $1 AND ${visible(2)} ORDER BY seq DESC`, [name, visibleTo]);
      return r.rows.map(toVersion);
    },
    async listBundles(visibleTo, { limit, cursor }): Promise<Page<BundleSummary>> {
      const after = decodeCursor(cursor, "text");
      const r = await sql.query(
        `SELECT v.*, (SELECT count(*)::int FROM bundle_versions b WHERE b.name = v.name AND ${visible(1, "b.")}) AS version_count
         FROM (SELECT DISTINCT ON (name) ${VERSION_COLUMNS} FROM bundle_versions
               WHERE ${visible(1)} AND ($2::text IS NULL OR name > $2) ORDER BY name, seq DESC) v
         ORDER BY v.name LIMIT $3`,
        [visibleTo, after, limit + 1]);
      const items = r.rows.map((row) => ({ name: String(row.name), latest: toVersion(row), versionCount: Number(row.version_count) }));
      return page(items, limit, (b) => b.name);
    },
    async updateVersion(v) {
      const r = await sql.query(
        `UPDATE bundle_versions SET description = $3, access_level = $4, allowed_projects = $5::text[], parameters = $6::jsonb
         WHERE name = $1 AND version_tag = $2 RETURNING ${VERSION_COLUMNS}`,
        [v.name, v.versionTag, v.description, v.accessLevel, v.allowedProjects, JSON.stringify(v.parameters)]);
      // Deleted since it was read (an edit and a delete at once): there is nothing to edit.
      if (!r.rows[0]) throw new NotFoundError(`version ${v.versionTag} of bundle ${v.name} not found`);
      return toVersion(r.rows[0]);
    },
    async deleteVersion(name, tag, now) {
      return sql.transaction(async (tx) => {
        // Locked before its pins are counted: a deployment made or moved onto it meanwhile holds
        // it (holdVersion) until its commit, and is then counted.
        const v = await tx.query("SELECT 1 FROM bundle_versions WHERE name = $1 AND version_tag = $2 FOR UPDATE", [name, tag]);
        if (!v.rows[0]) return false;
        // Pinned by a deployment's current revision, or by another of its live revisions: a
        // canary's stable one (most of the calls) or the one kept warm for an instant rollback.
        // Their replicas fetch the version at each start, and an abort or rollback restores it.
        const used = await tx.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM deployments d WHERE d.deleted_at IS NULL AND (
             (d.bundle_name = $1 AND d.bundle_version = $2)
             OR EXISTS (SELECT 1 FROM deployment_revisions r WHERE r.deployment_id = d.id AND r.bundle_name = $1 AND r.bundle_version = $2
               AND (r.revision = (d.traffic->'canary'->'stable'->>'revision')::int
                 OR (r.revision = (d.traffic->'warm'->>'revision')::int AND (d.traffic->'warm'->>'until')::timestamptz > $3::timestamptz))))`,
          [name, tag, now.toISOString()]);
        const n = used.rows[0]?.n ?? 0;
        if (n > 0) throw new ConflictError(`${name}@${tag} is pinned by ${n} deployment${n > 1 ? "s" : ""}: change their version or undeploy them first`);
        const r = await tx.query("DELETE FROM bundle_versions WHERE name = $1 AND version_tag = $2", [name, tag]);
        return r.rowCount > 0;
      });
    },
    async getRawFlows(name, tag) {
      const r = await sql.query<{ flows: unknown }>("SELECT flows FROM bundle_flows WHERE name = $1 AND version_tag = $2", [name, tag]);
      const f = r.rows[0]?.flows;
      return f === undefined ? null : ((typeof f === "string" ? JSON.parse(f) : f) as unknown[]);
    },
    async getRawFlow(name, tag, index) {
      // The one element picked in the database: reading the whole column sent up to 10 MiB of
      // flows to be decoded on the control plane's thread for a graph that needs one of them.
      const r = await sql.query<{ flow: unknown }>("SELECT flows -> $3::int AS flow FROM bundle_flows WHERE name = $1 AND version_tag = $2", [name, tag, index]);
      const f = r.rows[0]?.flow;
      return f === undefined || f === null ? null : typeof f === "string" ? JSON.parse(f) : f;
    },

    async createDeployment(d, sealedCredentials, event) {
      return sql.transaction(async (tx) => {
        await holdVersion(tx, d.bundle.name, d.bundle.version);
        const r = await tx.query(
          `INSERT INTO deployments (id, project_id, display_name, resource_name, app_id, route_http, route_mcp, bundle_name, bundle_version, bundle_digest,
             network_access, runtime, parameters, parameter_overrides, credential_names, resources, generation, status, created_by, created_at, updated_at, deleted_at,
             deletion_requested_at, disabled, revision, sleeping, traffic)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb, $14::jsonb, $15::jsonb, $16::jsonb, $17, $18::jsonb, $19, $20, $21, $22, $23, $24::jsonb, $25, $26::jsonb, $27::jsonb)
           RETURNING *`, deploymentParams(d));
        if (d.revision !== 1) throw new ConflictError("a new deployment starts at revision 1");
        await tx.query("INSERT INTO deployment_credentials (deployment_id, sealed) VALUES ($1, $2)", [d.id, sealedCredentials]);
        await insertRevision(tx, d, { createdBy: d.createdBy, cause: "deploy", rolledBackTo: null, changes: [] }, sealedCredentials);
        await insertEvent(tx, d.id, event);
        return toDeployment(r.rows[0]!);
      });
    },
    getDeployment: async (id) => (await versionedDeployment(id))?.deployment ?? null,
    getVersionedDeployment: versionedDeployment,
    async findDeploymentByResourceName(resourceName) {
      const r = await sql.query("SELECT * FROM deployments WHERE resource_name = $1 AND deleted_at IS NULL", [resourceName]);
      return r.rows[0] ? toDeployment(r.rows[0]) : null;
    },
    async findDeploymentByRoute(routeId) {
      const r = await sql.query("SELECT * FROM deployments WHERE (route_http = $1 OR route_mcp = $1) AND deleted_at IS NULL", [routeId]);
      return r.rows[0] ? toDeployment(r.rows[0]) : null;
    },
    async listActiveDeployments() {
      const r = await sql.query<{ id: string; resource_name: string; asleep: boolean; row_version: string }>(
        "SELECT id, resource_name, (sleeping IS NOT NULL AND status->>'phase' = 'Idle') AS asleep, xmin::text AS row_version FROM deployments WHERE deleted_at IS NULL ORDER BY seq");
      return r.rows.map((x) => ({ id: x.id, resourceName: x.resource_name, asleep: x.asleep === true, version: String(x.row_version) }));
    },
    async listScaleToZero() {
      const r = await sql.query<{ id: string; resource_name: string; idle_minutes: string; sleeping: boolean; updated_at: unknown }>(
        `SELECT id, resource_name, runtime->'scaleToZero'->>'idleMinutes' AS idle_minutes, sleeping IS NOT NULL AS sleeping, updated_at
           FROM deployments
          WHERE deleted_at IS NULL AND deletion_requested_at IS NULL AND disabled IS NULL
            AND jsonb_typeof(runtime->'scaleToZero'->'idleMinutes') = 'number'
          ORDER BY seq`);
      return r.rows.map((x) => ({ id: x.id, resourceName: x.resource_name, idleMinutes: Number(x.idle_minutes), sleeping: x.sleeping, updatedAt: iso(x.updated_at) }));
    },
    async countDeploymentsByPhase() {
      const r = await sql.query<{ phase: string; n: number }>(
        "SELECT status->>'phase' AS phase, count(*)::int AS n FROM deployments WHERE deleted_at IS NULL GROUP BY 1");
      return Object.fromEntries(r.rows.map((x) => [x.phase, x.n]));
    },
    async acquireLease(deploymentId, holder, ttlMs) {
      // One statement: insert, or take over an expired lease, or renew our own; otherwise no row.
      const r = await sql.query(
        `INSERT INTO leases (deployment_id, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (deployment_id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < now()
         RETURNING holder`, [deploymentId, holder, ttlMs]);
      return r.rows.length === 1;
    },
    async releaseLease(deploymentId, holder) {
      await sql.query("DELETE FROM leases WHERE deployment_id = $1 AND holder = $2", [deploymentId, holder]);
    },
    async publishEndpoints(resourceName, urls, listeners = {}) {
      await sql.query(
        `INSERT INTO runtime_endpoints (resource_name, urls, listeners, updated_at) VALUES ($1, $2::jsonb, $3::jsonb, now())
         ON CONFLICT (resource_name) DO UPDATE SET urls = EXCLUDED.urls, listeners = EXCLUDED.listeners, updated_at = now()`, [resourceName, JSON.stringify(urls), JSON.stringify(listeners)]);
    },
    async endpointsSince(cursor) {
      // The cursor is the database's clock, read before the rows (no clock skew between
      // processes). A row's time is its writer's transaction start: a write that started before
      // the cursor but committed after this read is answered again next time, thanks to the overlap.
      const now = await sql.query<{ now: string }>("SELECT now()::text AS now");
      const r = await sql.query<{ resource_name: string; urls: string[]; listeners: Record<string, string> }>(
        `SELECT resource_name, urls, listeners FROM runtime_endpoints
         WHERE $1::timestamptz IS NULL OR updated_at > $1::timestamptz - interval '${ENDPOINTS_OVERLAP_SECONDS} seconds'`, [cursor]);
      return { items: r.rows.map((x) => ({ resourceName: x.resource_name, urls: x.urls, listeners: x.listeners })), cursor: now.rows[0]!.now };
    },
    async listDeployments(projectId, { limit, cursor }) {
      const after = decodeCursor(cursor, "integer");
      // The page comes back as one json value (one field) rather than ~28 fields a row: PGlite
      // decodes each field of a result on its own (a copy and a decode each), which made a page
      // of 50 cost it ~4 ms at 10,000 deployments against ~2 ms this way; PostgreSQL is
      // unaffected. Timestamps arrive as text, jsonb columns as objects: toDeployment takes both.
      const r = await sql.query<{ page: unknown }>(
        `SELECT COALESCE(json_agg(d ORDER BY d.seq DESC), '[]'::json) AS page FROM (
           SELECT *, seq::text AS seq_text FROM deployments WHERE project_id = $1 AND deleted_at IS NULL AND ($2::bigint IS NULL OR seq < $2::bigint)
           ORDER BY seq DESC LIMIT $3) d`, [projectId, after, limit + 1]);
      const rows = r.rows[0]?.page;
      const keyed = (typeof rows === "string" ? JSON.parse(rows) as Record<string, unknown>[] : rows as Record<string, unknown>[])
        .map((row) => ({ d: toDeployment(row), key: String(row.seq_text) }));
      const p = page(keyed, limit, (x) => x.key);
      return { items: p.items.map((x) => x.d), nextCursor: p.nextCursor };
    },
    async updateDeployment(id, change) {
      return sql.transaction(async (tx) => {
        const cur = await tx.query("SELECT * FROM deployments WHERE id = $1 FOR UPDATE", [id]);
        if (!cur.rows[0]) return null;
        const before = toDeployment(cur.rows[0]);
        const out: DeploymentChange = await change(before);
        const d = out.deployment;
        if (d.bundle.name !== before.bundle.name || d.bundle.version !== before.bundle.version) await holdVersion(tx, d.bundle.name, d.bundle.version);
        // A revision number moves only with its record, one at a time.
        if (d.revision !== before.revision + (out.revision ? 1 : 0)) {
          throw new ConflictError(out.revision ? `the new revision must be ${before.revision + 1}` : "the revision moves only with a new revision record");
        }
        // Sealed credentials change only with a new generation: readers keep them per generation
        // (the reconciler reads them once per generation).
        if (out.sealedCredentials && d.generation <= before.generation) throw new ConflictError("a deployment's credentials change only with a new generation");
        const r = await tx.query(
          `UPDATE deployments SET display_name = $3, bundle_name = $8, bundle_version = $9, bundle_digest = $10, network_access = $11,
             runtime = $12::jsonb, parameters = $13::jsonb, parameter_overrides = $14::jsonb, credential_names = $15::jsonb, resources = $16::jsonb,
             generation = $17, status = $18::jsonb, updated_at = $21, deleted_at = $22, deletion_requested_at = $23, disabled = $24::jsonb, revision = $25, sleeping = $26::jsonb, traffic = $27::jsonb
           WHERE id = $1 AND project_id = $2 AND resource_name = $4 AND app_id = $5 AND route_http = $6 AND route_mcp = $7
             AND created_by = $19 AND created_at = $20 RETURNING *`, deploymentParams(d));
        // The identity columns are in the WHERE clause: a change may never move a deployment to
        // another project or give it new ids; if it tried, nothing is written.
        if (!r.rows[0]) throw new ConflictError("a deployment's project and ids never change");
        if (out.sealedCredentials) {
          await tx.query(
            `INSERT INTO deployment_credentials (deployment_id, sealed, updated_at) VALUES ($1, $2, now())
             ON CONFLICT (deployment_id) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = now()`, [id, out.sealedCredentials]);
        }
        if (out.revision) {
          const sealed = out.sealedCredentials
            ?? (await tx.query<{ sealed: Uint8Array }>("SELECT sealed FROM deployment_credentials WHERE deployment_id = $1", [id])).rows[0]?.sealed;
          await insertRevision(tx, d, out.revision, sealed ? Buffer.from(sealed) : null);
        }
        for (const e of out.events ?? []) await insertEvent(tx, id, e);
        return toDeployment(r.rows[0]);
      });
    },
    async writeStatus(seen, status, event) {
      // One statement, so atomic without a transaction: the event goes in only with the update.
      // The guards are the columns as the pass read them; jsonb compares by value. updated_at
      // stays: it is the record's last change by someone (an edit, a wake), which scale to zero
      // counts its idle window from; a status follows the cluster, not anyone's change.
      const r = await sql.query<{ n: number }>(
        `WITH u AS (
           UPDATE deployments SET status = $2::jsonb
            WHERE id = $1 AND generation = $4 AND deletion_requested_at IS NULL AND disabled IS NOT DISTINCT FROM $5::jsonb
              AND (resources->>'replicas')::int = $6 AND (sleeping IS NOT NULL) = $7 AND status->>'phase' = $8
           RETURNING id),
         e AS (INSERT INTO deployment_events (deployment_id, time, type, reason, message) SELECT id, $3, $9, $10, $11 FROM u WHERE $9::text IS NOT NULL RETURNING 1)
         SELECT count(*)::int AS n FROM u`,
        [seen.id, JSON.stringify(status), event?.time ?? null, seen.generation, seen.disabled ? JSON.stringify(seen.disabled) : null,
          seen.resources.replicas, Boolean(seen.sleeping), seen.status.phase, event?.type ?? null, event?.reason ?? null, event?.message ?? null]);
      return Number(r.rows[0]?.n ?? 0) === 1;
    },
    async getSealedCredentials(id) {
      const r = await sql.query<{ sealed: Uint8Array }>("SELECT sealed FROM deployment_credentials WHERE deployment_id = $1", [id]);
      const s = r.rows[0]?.sealed;
      return s ? Buffer.from(s) : null;
    },
    async deleteCredentials(id) {
      await sql.transaction(async (tx) => {
        await tx.query("DELETE FROM deployment_credentials WHERE deployment_id = $1", [id]);
        await tx.query("UPDATE deployment_revisions SET sealed = NULL WHERE deployment_id = $1", [id]);
      });
    },
    async listRevisions(deploymentId, { limit, cursor }) {
      const after = decodeCursor(cursor, "integer");
      if (after !== null && !/^[0-9]{1,9}$/.test(after)) throw new ValidationError([{ field: "cursor", message: "the cursor is not one this server issued" }]);
      const r = await sql.query(
        `${REVISION_SELECT} WHERE r.deployment_id = $1 AND ($2::int IS NULL OR r.revision < $2::int) ORDER BY r.revision DESC LIMIT $3`,
        [deploymentId, after === null ? null : Number(after), limit + 1]);
      return page(r.rows.map(toRevision), limit, (x) => String(x.revision));
    },
    async getRevision(deploymentId, revision) {
      const r = await sql.query(`${REVISION_SELECT} WHERE r.deployment_id = $1 AND r.revision = $2`, [deploymentId, revision]);
      return r.rows[0] ? toRevision(r.rows[0]) : null;
    },
    async getRevisionCredentials(deploymentId, revision) {
      const r = await sql.query<{ sealed: Uint8Array | null }>("SELECT sealed FROM deployment_revisions WHERE deployment_id = $1 AND revision = $2", [deploymentId, revision]);
      const s = r.rows[0]?.sealed;
      return s ? Buffer.from(s) : null;
    },
    async appendEvent(deploymentId, e) {
      await insertEvent(sql, deploymentId, e);
    },
    async listEvents(deploymentId, { limit, cursor }) {
      const after = decodeCursor(cursor, "integer");
      const r = await sql.query(
        "SELECT *, id::text AS id_text FROM deployment_events WHERE deployment_id = $1 AND ($2::bigint IS NULL OR id > $2::bigint) ORDER BY id LIMIT $3",
        [deploymentId, after, limit + 1]);
      const keyed = r.rows.map((row) => ({ e: toEvent(row), key: String(row.id_text) }));
      const p = page(keyed, limit, (x) => x.key);
      return { items: p.items.map((x) => x.e), nextCursor: p.nextCursor };
    },
  };
  return store;
}
