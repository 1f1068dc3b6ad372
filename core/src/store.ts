import type { Role, UserKind } from "./access.js";
import type { BundleVersion, NewBundleVersion } from "./bundle.js";
import type { Deployment } from "./deployment.js";
import type { DeploymentRevision, RevisionNote } from "./revision.js";
import type { NewRun, RunFilter, RunRecord, RunRetention, RunStatsQuery, RunStatsRow } from "./runs.js";
import type { RunTrace } from "./traces.js";
import type { DeploymentEvent, DeploymentStatus } from "./status.js";

/**
 * The system of record (PostgreSQL, or PGlite on one machine). One interface, one SQL
 * implementation over two clients; the shared suite in adapters/store runs against both.
 * Every method is atomic: it either does all it says or nothing.
 */
export interface Store extends RunStore {
  /** Applies pending schema migrations; safe to call from several processes at once. */
  migrate(): Promise<void>;
  /**
   * What the database does not do for itself, run after deletes (the run history's retention):
   * PGlite has no autovacuum, so without this the space of deleted rows is never used again (a
   * table grows by all it ever held, whatever retention keeps) and the planner has no statistics.
   * On PostgreSQL, autovacuum does it: nothing here.
   */
  maintain(): Promise<void>;
  close(): Promise<void>;

  createUser(u: NewUser): Promise<User>;
  getUser(id: string): Promise<User | null>;
  findOrgOwner(): Promise<User | null>;
  listUsers(page: PageRequest): Promise<Page<User>>;
  /** Marks the user deactivated (first time wins); null when there is no such user. */
  deactivateUser(id: string, at: Date): Promise<User | null>;

  /** Inserts a key unless the user already holds `maxLive` live keys or is deactivated (then ConflictError). */
  createKey(k: NewAccessKey, maxLive: number): Promise<AccessKey>;
  /** Records a use of the key at `at`, unless one was recorded less than `granularitySeconds` before. */
  touchKey(id: string, at: Date, granularitySeconds: number): Promise<void>;
  /**
   * The live (unrevoked, unexpired at `now`, of a user not deactivated) key with this hash, its
   * user and the user's project roles, in one query: every authenticated API call asks for it.
   */
  findLiveKey(hash: string, now: Date): Promise<{ key: AccessKey; user: User; roles: Map<string, Role> } | null>;
  getKey(id: string): Promise<AccessKey | null>;
  listKeys(userId: string): Promise<AccessKey[]>;
  revokeKey(id: string, at: Date): Promise<AccessKey | null>;

  createProject(p: { id: string; name: string }): Promise<Project>;
  getProject(id: string): Promise<Project | null>;
  /** `projectIds` null lists all projects. */
  listProjects(projectIds: string[] | null, page: PageRequest): Promise<Page<Project>>;
  setMember(projectId: string, userId: string, role: Role): Promise<void>;
  removeMember(projectId: string, userId: string): Promise<boolean>;
  listMembers(projectId: string): Promise<Member[]>;

  /**
   * ConflictError when the name already has this tag. `mayAdd`, when given, is called in the
   * insert's transaction, with the name locked, with the bundle's first version (null for a new
   * name), and throws to refuse: a check of who owns the name holds against a publish at the
   * same moment (two first publishes of one name must not both see none).
   */
  insertVersion(v: NewBundleVersion, mayAdd?: (first: BundleVersion | null) => void): Promise<BundleVersion>;
  /** `visibleTo` null: no filter (org owner); otherwise versions global or shared with one of these projects. */
  getVersion(name: string, tag: string, visibleTo: string[] | null): Promise<BundleVersion | null>;
  /** The newest version visible under the same filter. */
  latestVersion(name: string, visibleTo: string[] | null): Promise<BundleVersion | null>;
  listVersions(name: string, visibleTo: string[] | null): Promise<BundleVersion[]>;
  listBundles(visibleTo: string[] | null, page: PageRequest): Promise<Page<BundleSummary>>;
  /** NotFoundError when the version is gone (deleted since it was read). */
  updateVersion(v: BundleVersion): Promise<BundleVersion>;
  /** ConflictError while a live deployment pins it, by its current revision or another live one (a canary's stable revision, the warm one until `now` passes its end). */
  deleteVersion(name: string, tag: string, now: Date): Promise<boolean>;
  getRawFlows(name: string, tag: string): Promise<unknown[] | null>;
  /** The version's raw flow at `index` (publish order) alone; null when the version or the index is not there. */
  getRawFlow(name: string, tag: string, index: number): Promise<unknown | null>;

  /**
   * Inserts the deployment, its sealed credentials, its revision 1 (made by `d.createdBy`, the
   * same sealed credentials) and its first event in one transaction. `d.revision` must be 1.
   */
  createDeployment(d: Deployment, sealedCredentials: Buffer, event: DeploymentEvent): Promise<Deployment>;
  getDeployment(id: string): Promise<Deployment | null>;
  /**
   * The record and its row version (see `listActiveDeployments`), read together: the reconciler
   * keeps the record with it, and skips the read when a resync lists the same version.
   */
  getVersionedDeployment(id: string): Promise<{ deployment: Deployment; version: string } | null>;
  /** The not yet removed deployment with this resource name (namespace / folder). */
  findDeploymentByResourceName(resourceName: string): Promise<Deployment | null>;
  /** The live (not undeployed) deployment that owns this route id, HTTP or MCP. */
  findDeploymentByRoute(routeId: string): Promise<Deployment | null>;
  /**
   * Every deployment not yet fully removed (deletedAt null), for the reconciler's resync and
   * orphan sweep. `asleep`: scaled to zero and already Idle (nothing runs; a wake or an edit
   * enqueues it at once), which the resync looks at less often. `version`: the record's row
   * version, which every write of the record changes (an update writes a new row version, even
   * one that sets the same values); an equal version means an identical record. Opaque.
   */
  listActiveDeployments(): Promise<{ id: string; resourceName: string; asleep: boolean; version: string }[]>;
  /**
   * Deployments with scale to zero on (runtime.scaleToZero.idleMinutes set), live and not
   * disabled, for the idle sweep: one query, whatever the fleet's size.
   */
  listScaleToZero(): Promise<{ id: string; resourceName: string; idleMinutes: number; sleeping: boolean; updatedAt: string }[]>;
  /**
   * Takes or renews the lease on a deployment for `holder` until `ttlMs` from now; false when
   * another holder's lease is still valid. Two control planes never reconcile one deployment at once.
   */
  /** How many active deployments are in each phase (for metrics). */
  countDeploymentsByPhase(): Promise<Record<string, number>>;
  acquireLease(deploymentId: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(deploymentId: string, holder: string): Promise<void>;
  listDeployments(projectId: string, page: PageRequest): Promise<Page<Deployment>>;

  /**
   * Records the base URLs of a runtime's ready replicas, as the reconciler last saw them, for
   * gateways that run in other processes (FLOWPLANE_ROLES split). An empty list: none ready,
   * or removed.
   */
  publishEndpoints(resourceName: string, urls: string[], listeners?: Record<string, string>): Promise<void>;
  /**
   * The endpoint sets published since `cursor` (null: all of them), and the cursor to pass next
   * time. Sets published shortly before the cursor are answered again, so one committed late
   * by a concurrent writer is never missed: callers apply the answer as plain assignments.
   */
  endpointsSince(cursor: string | null): Promise<{ items: PublishedEndpoints[]; cursor: string }>;
  /**
   * Read-modify-write under a row lock: `change` sees the current record and returns the new
   * one, optionally new sealed credentials (replacing the old) and events to append. With
   * `revision`, the new record's `revision` must be the current one plus one, and that
   * revision (the new record's spec, its sealed credentials) is written in the same transaction;
   * without, the revision may not move (ConflictError either way).
   * Returns null when the deployment does not exist. `change` must not call the store: it runs
   * inside the transaction (on PGlite, one connection, such a call would wait forever).
   */
  updateDeployment(id: string, change: (current: Deployment) => DeploymentChange | Promise<DeploymentChange>): Promise<Deployment | null>;
  /**
   * A reconcile pass's status write, in one statement (updateDeployment takes five round trips
   * and rewrites every column). Written only while the record is still, in all a status follows
   * from, the one the pass read as `seen`: the same generation, no undeploy asked, the same kill
   * switch, replicas and sleep, and the same phase. Else nothing is written (false): a newer
   * change's own pass writes the status. `event` (the phase's change) is appended with it.
   * `updatedAt` does not move: it is the record's last change by someone (an edit, a wake).
   */
  writeStatus(seen: Deployment, status: DeploymentStatus, event: DeploymentEvent | null): Promise<boolean>;
  getSealedCredentials(id: string): Promise<Buffer | null>;
  /** Deletes the deployment's sealed credentials and those of every one of its revisions (undeploy). */
  deleteCredentials(id: string): Promise<void>;
  /** The deployment's revisions, newest first. */
  listRevisions(deploymentId: string, page: PageRequest): Promise<Page<DeploymentRevision>>;
  getRevision(deploymentId: string, revision: number): Promise<DeploymentRevision | null>;
  /** The credentials sealed with that revision (sealed for the deployment's id); null once deleted or when there is no such revision. */
  getRevisionCredentials(deploymentId: string, revision: number): Promise<Buffer | null>;
  appendEvent(deploymentId: string, e: DeploymentEvent): Promise<void>;
  listEvents(deploymentId: string, page: PageRequest): Promise<Page<DeploymentEvent>>;
}

/** The run history's part of the Store (adapters/store implements both on one schema; runs.ts holds its types). */
export interface RunStore {
  /** Inserts a batch in one statement, in order (later runs get larger ids). */
  insertRuns(runs: NewRun[]): Promise<void>;
  /** A deployment's runs, newest first. */
  listRuns(deploymentId: string, filter: RunFilter, page: PageRequest): Promise<Page<RunRecord>>;
  getRun(deploymentId: string, runId: string): Promise<RunRecord | null>;
  /** Deletes a deployment's runs but its `maxRuns` newest (by id); answers how many went. Other deployments' are untouched. */
  trimRuns(deploymentId: string, maxRuns: number): Promise<number>;
  /** Deletes what retention no longer keeps (at `now`), traces included; answers how many runs went. */
  pruneRuns(retention: RunRetention, now: Date): Promise<number>;
  /** Per-bucket request counts, errors and latency percentiles, per revision and over all (metrics). Empty buckets have no row. */
  runStats(deploymentId: string, q: RunStatsQuery): Promise<RunStatsRow[]>;
  /**
   * Stores a deployment's traces in one statement; a trace for a request id already stored (or
   * earlier in the same batch) is ignored. Answers the request ids it stored, in batch order.
   */
  insertTraces(deploymentId: string, traces: RunTrace[]): Promise<string[]>;
  /**
   * Deletes a deployment's oldest traces (by `start`) until the rest count at most `maxBytes`
   * (each its `traceBytes` when stored); answers how many went. Other deployments' are untouched.
   */
  trimTraces(deploymentId: string, maxBytes: number): Promise<number>;
  /** The trace of a deployment's request, or null. */
  getTrace(deploymentId: string, requestId: string): Promise<RunTrace | null>;
}

export interface DeploymentChange {
  deployment: Deployment;
  /**
   * New sealed credentials: only with a new generation (a higher `deployment.generation`), else
   * the change is refused (ConflictError). Whoever derives from them keeps them per generation.
   */
  sealedCredentials?: Buffer;
  events?: DeploymentEvent[];
  /** This change makes a new revision (see updateDeployment). */
  revision?: RevisionNote;
}

export interface PublishedEndpoints {
  resourceName: string;
  urls: string[];
  /** Each URL's listener (listenerId) where the driver knows it (RuntimeDriver.replicaListener). */
  listeners: Record<string, string>;
}

export interface User {
  id: string;
  name: string;
  kind: UserKind;
  orgOwner: boolean;
  createdAt: string;
  /** Set once the user is deactivated: their keys no longer authenticate. */
  deactivatedAt: string | null;
}
export type NewUser = Omit<User, "createdAt" | "deactivatedAt">;

export interface AccessKey {
  id: string;
  userId: string;
  /** The first characters of the key, to recognise it in a list; never enough to use it. */
  prefix: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  /** The last time the key authenticated a call, recorded at most once a minute. */
  lastUsedAt: string | null;
}
export interface NewAccessKey {
  id: string;
  userId: string;
  prefix: string;
  hash: string;
  expiresAt: Date;
}

export interface Project {
  id: string;
  name: string;
  createdAt: string;
}

export interface Member {
  projectId: string;
  userId: string;
  userName: string;
  role: Role;
}

export interface BundleSummary {
  name: string;
  latest: BundleVersion;
  versionCount: number;
}

export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass it back to get the next page. Null on the last page. */
  nextCursor: string | null;
}

export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./api/common.js";
