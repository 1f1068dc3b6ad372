import type { SqlClient } from "./sql.js";

/**
 * Versioned schema migrations, applied in order at start. Append only: a migration that has
 * shipped is never edited; a change is a new entry. Each runs in its own transaction under
 * an advisory lock, so two control-plane processes starting together apply each once.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "identity, projects, asset library, deployments",
    sql: `
CREATE TABLE users (
  id text PRIMARY KEY,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('human', 'machine')),
  org_owner boolean NOT NULL DEFAULT false,
  seq bigserial UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE access_keys (
  id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key_hash text NOT NULL UNIQUE,
  prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX access_keys_user ON access_keys (user_id);
CREATE TABLE projects (
  id text PRIMARY KEY,
  name text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE project_members (
  project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
  PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id);
CREATE TABLE bundle_versions (
  name text NOT NULL,
  version_tag text NOT NULL,
  seq bigserial UNIQUE,
  description text NOT NULL,
  access_level text NOT NULL CHECK (access_level IN ('project', 'global')),
  allowed_projects text[] NOT NULL,
  digest text NOT NULL,
  parameters jsonb NOT NULL,
  flows jsonb NOT NULL,
  compatibility jsonb NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version_tag)
);
CREATE INDEX bundle_versions_newest ON bundle_versions (name, seq DESC);
CREATE TABLE bundle_flows (
  name text NOT NULL,
  version_tag text NOT NULL,
  flows jsonb NOT NULL,
  PRIMARY KEY (name, version_tag),
  FOREIGN KEY (name, version_tag) REFERENCES bundle_versions (name, version_tag) ON DELETE CASCADE
);
CREATE TABLE deployments (
  id text PRIMARY KEY,
  seq bigserial UNIQUE,
  project_id text NOT NULL REFERENCES projects(id),
  display_name text NOT NULL,
  resource_name text NOT NULL UNIQUE,
  app_id text NOT NULL UNIQUE,
  route_http text NOT NULL UNIQUE,
  route_mcp text NOT NULL UNIQUE,
  bundle_name text NOT NULL,
  bundle_version text NOT NULL,
  bundle_digest text NOT NULL,
  network_access text NOT NULL CHECK (network_access IN ('public', 'private')),
  runtime jsonb NOT NULL,
  parameters jsonb NOT NULL,
  parameter_overrides jsonb NOT NULL,
  credential_names jsonb NOT NULL,
  resources jsonb NOT NULL,
  generation integer NOT NULL,
  status jsonb NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deletion_requested_at timestamptz,
  deleted_at timestamptz
);
CREATE INDEX deployments_project ON deployments (project_id, seq DESC);
CREATE INDEX deployments_bundle ON deployments (bundle_name, bundle_version) WHERE deleted_at IS NULL;
CREATE TABLE deployment_credentials (
  deployment_id text PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
  sealed bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE deployment_events (
  id bigserial PRIMARY KEY,
  deployment_id text NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  time timestamptz NOT NULL,
  type text NOT NULL,
  reason text NOT NULL,
  message text NOT NULL
);
CREATE INDEX deployment_events_deployment ON deployment_events (deployment_id, id);
`,
  },
  {
    version: 2,
    name: "reconciler leases",
    sql: `
CREATE TABLE leases (
  deployment_id text PRIMARY KEY,
  holder text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX deployments_active ON deployments (seq) WHERE deleted_at IS NULL;
`,
  },
  {
    version: 3,
    name: "published runtime endpoints",
    sql: `
CREATE TABLE runtime_endpoints (
  resource_name text PRIMARY KEY,
  urls jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runtime_endpoints_updated ON runtime_endpoints (updated_at);
`,
  },
  {
    version: 4,
    name: "the project that published a bundle version",
    // Its owners and editors manage the version. Existing project-access versions take their
    // first allowed project (the one the old rules already required editor rights in); global
    // ones stay NULL: only org owners manage them until one re-publishes.
    sql: `
ALTER TABLE bundle_versions ADD COLUMN project_id text REFERENCES projects(id) ON DELETE SET NULL;
UPDATE bundle_versions SET project_id = allowed_projects[1]
  WHERE access_level = 'project' AND cardinality(allowed_projects) > 0
    AND EXISTS (SELECT 1 FROM projects p WHERE p.id = allowed_projects[1]);
`,
  },
  {
    version: 5,
    name: "kill switch",
    // NULL: enabled. Otherwise {at, by, stopReplicas}: the gateway answers 503 for it.
    sql: `ALTER TABLE deployments ADD COLUMN disabled jsonb;`,
  },
  {
    version: 6,
    name: "deactivated users, last use of access keys",
    sql: `
ALTER TABLE users ADD COLUMN deactivated_at timestamptz;
ALTER TABLE access_keys ADD COLUMN last_used_at timestamptz;
`,
  },
  {
    version: 7,
    name: "deployment revisions",
    // One immutable row per revision, written in the transaction that changes the deployment.
    // Its credentials are sealed exactly as the deployment's own (for the deployment's id); undeploy
    // clears them (sealed NULL) with the deployment's. Every existing deployment gets its current
    // state as revision 1, cause 'adopted' (what ran before is not known).
    sql: `
ALTER TABLE deployments ADD COLUMN revision integer NOT NULL DEFAULT 1;
CREATE TABLE deployment_revisions (
  deployment_id text NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  revision integer NOT NULL CHECK (revision >= 1),
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  cause text NOT NULL CHECK (cause IN ('deploy', 'edit', 'rollback', 'adopted')),
  rolled_back_to integer,
  changes jsonb NOT NULL,
  bundle_name text NOT NULL,
  bundle_version text NOT NULL,
  bundle_digest text NOT NULL,
  runtime jsonb NOT NULL,
  parameters jsonb NOT NULL,
  parameter_overrides jsonb NOT NULL,
  credential_names jsonb NOT NULL,
  resources jsonb NOT NULL,
  sealed bytea,
  PRIMARY KEY (deployment_id, revision)
);
INSERT INTO deployment_revisions (deployment_id, revision, created_at, created_by, cause, rolled_back_to, changes, bundle_name, bundle_version,
    bundle_digest, runtime, parameters, parameter_overrides, credential_names, resources, sealed)
  SELECT d.id, 1, d.updated_at, d.created_by, 'adopted', NULL, '[]'::jsonb, d.bundle_name, d.bundle_version, d.bundle_digest, d.runtime,
    d.parameters, d.parameter_overrides, d.credential_names, jsonb_build_object('cpu', d.resources->'cpu', 'memory', d.resources->'memory'), c.sealed
  FROM deployments d LEFT JOIN deployment_credentials c ON c.deployment_id = d.id;
`,
  },
  {
    version: 8,
    name: "run history",
    // One row per call through the gateway (core's RunRecord), written in batches by the
    // server's recorder. Kept cheap to insert (bench/runs.mjs): a serial key, one btree (a
    // deployment's runs, newest first: lists, pages, session filters) and a BRIN index on time
    // (rows arrive in time order; retention by age reads it). No foreign key to deployments: a
    // batch never fails for one row, and retention (pruneRuns) removes rows, not the
    // deployment's removal. `revision` stays NULL until revisions are recorded.
    sql: `
CREATE TABLE runs (
  id bigserial PRIMARY KEY,
  time timestamptz NOT NULL,
  deployment_id text NOT NULL,
  project_id text NOT NULL,
  revision integer,
  flow_id text,
  route_kind text NOT NULL CHECK (route_kind IN ('http', 'mcp')),
  tool text,
  user_id text,
  key_id text,
  session_id text,
  request_id text NOT NULL,
  method text NOT NULL,
  status integer NOT NULL,
  latency_ms double precision NOT NULL,
  tokens jsonb,
  error_code text
);
CREATE INDEX runs_deployment ON runs (deployment_id, id DESC);
CREATE INDEX runs_time ON runs USING brin (time);
`,
  },
  {
    // 7 and 8 are taken by work landing in parallel; the runner applies by number, gaps allowed.
    version: 9,
    name: "scale to zero",
    // NULL: awake. Otherwise {since}: no replica runs (phase Idle) until a request wakes it.
    sql: `ALTER TABLE deployments ADD COLUMN sleeping jsonb;`,
  },
  {
    version: 10,
    name: "live revisions",
    // NULL: only the current revision runs. Otherwise core's DeploymentTraffic: the revision the
    // current replicas are started for, a canary's stable revision and share, the warm revision.
    sql: `ALTER TABLE deployments ADD COLUMN traffic jsonb;`,
  },
  {
    version: 11,
    name: "run traces",
    // One row per traced run (core's RunTrace), sent by the replica that ran it and joined to its
    // run by (deployment, request id): the replica never knows the run's id, and a trace may
    // arrive before or after the gateway's recorder writes the run. Its token counts fill the
    // run's. Retention prunes it with the runs (by age and per-deployment count).
    sql: `
CREATE TABLE run_traces (
  deployment_id text NOT NULL,
  request_id text NOT NULL,
  time timestamptz NOT NULL,
  flow_id text NOT NULL,
  revision integer,
  engine text NOT NULL,
  duration_ms double precision NOT NULL,
  status text NOT NULL CHECK (status IN ('ok', 'error')),
  error text,
  tokens jsonb,
  spans jsonb NOT NULL,
  PRIMARY KEY (deployment_id, request_id)
);
CREATE INDEX run_traces_time ON run_traces (deployment_id, time DESC);
`,
  },
  {
    version: 12,
    name: "run metrics",
    // The metrics endpoint aggregates one deployment's runs over a time window (runStats). With
    // only runs_deployment (deployment_id, id) it read every run the deployment keeps (up to
    // FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT) to find the last hour's; this one reads just the
    // window, and carries what the aggregate reads, so PostgreSQL can answer from the index
    // alone. Figures: bench/metrics.mjs.
    sql: `CREATE INDEX runs_deployment_time ON runs (deployment_id, time) INCLUDE (revision, status, latency_ms);`,
  },
  {
    version: 13,
    name: "run inputs and outputs",
    // The run's own input and answer, `{input, output}` as text, when the deployment keeps inputs
    // and outputs (runtime.io); NULL otherwise. Each component's are in its span (spans jsonb).
    // In the trace's row, so the trace's retention deletes them with it.
    sql: `ALTER TABLE run_traces ADD COLUMN io jsonb;`,
  },
  {
    version: 14,
    name: "a project's live deployments, newest first",
    // A page of a project's deployments (listDeployments: project_id, deleted_at IS NULL, seq
    // descending) was planned on deployments_active (seq, partial on deleted_at IS NULL), the
    // project a filter: at 10,000 deployments in 20 projects a page of 50 read ~1,000 rows, and a
    // small project's page the whole table. This index answers it in the page's own rows; the
    // index it replaces had no other query (projects are never deleted, so its foreign key is
    // never checked from that side).
    sql: `
CREATE INDEX deployments_project_live ON deployments (project_id, seq DESC) WHERE deleted_at IS NULL;
DROP INDEX deployments_project;
`,
  },
  {
    version: 15,
    name: "a deployment's traces by bytes",
    // Each trace's size as counted against its deployment's byte budget (core traceBytes: its
    // JSON in UTF-8 plus a row's overhead), written with the row; the control plane deletes a
    // deployment's oldest traces past the budget (trimTraces). Without it retention bounded
    // traces by age and count only, and a replica (its team's code) could keep ~10 MiB per run
    // for 100,000 runs. Rows from before: their stored text's length, near enough. The index
    // replaces run_traces_time (same leading columns) and carries the bytes, so the trim's
    // running total reads the index alone.
    sql: `
ALTER TABLE run_traces ADD COLUMN bytes bigint NOT NULL DEFAULT 0;
UPDATE run_traces SET bytes = 200 + octet_length(request_id) + octet_length(flow_id) + octet_length(spans::text)
  + coalesce(octet_length(error), 0) + coalesce(octet_length(tokens::text), 0) + coalesce(octet_length(io::text), 0);
CREATE INDEX run_traces_bytes ON run_traces (deployment_id, time DESC, request_id DESC) INCLUDE (bytes);
DROP INDEX run_traces_time;
`,
  },
  {
    version: 16,
    name: "published runtime endpoints' listeners",
    // Each published URL's listener (core's listenerId, the local driver's), so that a gateway in
    // another process checks each new connection against it (gateway/forward.ts): a dead
    // replica's port is anyone's to bind long before that gateway reads the new set.
    sql: `
ALTER TABLE runtime_endpoints ADD COLUMN listeners jsonb NOT NULL DEFAULT '{}'::jsonb;
`,
  },
];

export async function migrate(sql: SqlClient, migrations: Migration[] = MIGRATIONS): Promise<number[]> {
  await sql.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(7241)");
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  const applied: number[] = [];
  for (const m of migrations) {
    await sql.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(7241)");
      const done = await tx.query("SELECT 1 FROM schema_migrations WHERE version = $1", [m.version]);
      if (done.rows.length > 0) return;
      await tx.exec(m.sql);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      applied.push(m.version);
    });
  }
  return applied;
}
