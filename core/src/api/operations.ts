import { z } from "zod";
import { errorSchema, pageOf, pageQuerySchema } from "./common.js";
import { bundleSchema, bundleSummarySchema, bundleVersionSchema, flowGraphSchema, publishRequestSchema, versionPatchSchema } from "./bundles.js";
import {
  createDeploymentQuerySchema,
  deployRequestSchema,
  disableRequestSchema,
  canaryRequestSchema,
  deploymentEventSchema,
  deploymentPatchSchema,
  deploymentSchema,
  dryRunSchema,
  k8sObjectSchema,
} from "./deployments.js";
import { deploymentMetricsSchema, metricsQuerySchema } from "./metrics.js";
import { logPageSchema, logsQuerySchema, runPageSchema, runSchema, runsQuerySchema, traceSchema } from "./runs.js";
import {
  accessKeySchema,
  adminKeyProofRequestSchema,
  adminKeyProofSchema,
  createdKeySchema,
  createKeySchema,
  createProjectSchema,
  createUserSchema,
  memberSchema,
  memberSetSchema,
  meSchema,
  projectSchema,
  setMemberSchema,
  userSchema,
} from "./identity.js";
import { listRevisionsQuerySchema, revisionDiffQuerySchema, revisionDiffSchema, revisionPageSchema, revisionSchema, rollbackRequestSchema } from "./revisions.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** The statuses an error answer can have; each answers the one error shape (`errorSchema`). */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429;

/**
 * One operation of `/api/v1`: what it accepts and every answer it gives. The server routes,
 * the OpenAPI document, the server's answer check in tests and both clients' types all come
 * from this one table.
 */
export interface Operation {
  method: Method;
  /** OpenAPI path syntax, relative to /api/v1: "/projects/{projectId}". */
  path: string;
  summary: string;
  tag: string;
  /** false for the few public operations. Authenticated ones also answer 401. */
  auth?: boolean;
  /** The JSON body. Operations with a body also answer 400 (malformed), 413 and 415. */
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Success status → its body's schema (null: no body). */
  ok: Partial<Record<200 | 201 | 202 | 204, z.ZodType | null>>;
  /** Error status → when it happens (beyond the statuses every such operation can answer). */
  errors: Partial<Record<ErrorStatus, string>>;
  /**
   * OpenAPI links from the success answer (the 201 of an operation that creates) to the operations that use what it holds
   * (`$response.body#/id`), so a client or a fuzzer can follow them: name → operation id → the
   * parameter's runtime expression.
   */
  links?: Record<string, { operationId: string; parameters: Record<string, string> }>;
  /** Response headers worth naming (the event list's cursor). */
  headers?: Record<string, string>;
}

const op = <const O extends Operation>(o: O): O => o;

const userPage = pageOf(userSchema).meta({ id: "UserPage" });
const projectPage = pageOf(projectSchema).meta({ id: "ProjectPage" });
const bundlePage = pageOf(bundleSummarySchema).meta({ id: "BundleSummaryPage" });
const deploymentPage = pageOf(deploymentSchema).meta({ id: "DeploymentPage" });

export const operations = {
  proveAdminKey: op({
    method: "POST", path: "/admin-key/proof", tag: "identity", auth: false, body: adminKeyProofRequestSchema,
    summary: "Prove, without sending it, that this server holds the admin key in its data folder: the CLI asks before it sends a local server the key it found on disk (public)",
    ok: { 200: adminKeyProofSchema }, errors: { 404: "this process keeps no admin key (it runs without the api role)", 429: "the caller's address holds as many bodies as it may" },
  }),
  getMe: op({
    method: "GET", path: "/me", tag: "identity", summary: "The caller: user, org-owner flag and project roles",
    ok: { 200: meSchema }, errors: {},
  }),
  createUser: op({
    method: "POST", path: "/users", tag: "identity", summary: "Create a user or machine user (org owners)", body: createUserSchema,
    ok: { 201: userSchema }, errors: { 400: "invalid", 403: "not an org owner" },
    links: { GetUser: { operationId: "getUser", parameters: { userId: "$response.body#/id" } }, CreateAccessKey: { operationId: "createAccessKey", parameters: { userId: "$response.body#/id" } }, ListAccessKeys: { operationId: "listAccessKeys", parameters: { userId: "$response.body#/id" } } },
  }),
  listUsers: op({
    method: "GET", path: "/users", tag: "identity", summary: "List users (org owners)", query: pageQuerySchema,
    ok: { 200: userPage }, errors: { 400: "bad limit or cursor", 403: "not an org owner" },
  }),
  getUser: op({
    method: "GET", path: "/users/{userId}", tag: "identity", summary: "Get a user (org owners, or yourself)",
    ok: { 200: userSchema }, errors: { 404: "not found" },
  }),
  deactivateUser: op({
    method: "POST", path: "/users/{userId}/deactivate", tag: "identity", summary: "Deactivate a user: their keys stop working (org owners)",
    ok: { 200: userSchema }, errors: { 403: "not an org owner", 404: "not found", 409: "deactivating yourself" },
  }),
  createAccessKey: op({
    method: "POST", path: "/users/{userId}/access-keys", tag: "identity", summary: "Create an access key; the key is in this answer only", body: createKeySchema,
    ok: { 201: createdKeySchema }, errors: { 400: "invalid expiry", 404: "no such user (or not yours)", 409: "live key limit reached, or the user is deactivated" },
    links: { RevokeAccessKey: { operationId: "revokeAccessKey", parameters: { keyId: "$response.body#/id" } } },
  }),
  listAccessKeys: op({
    method: "GET", path: "/users/{userId}/access-keys", tag: "identity", summary: "List a user's keys (never the keys themselves)",
    ok: { 200: z.strictObject({ items: z.array(accessKeySchema) }) }, errors: { 404: "no such user" },
  }),
  revokeAccessKey: op({
    method: "DELETE", path: "/access-keys/{keyId}", tag: "identity", summary: "Revoke an access key",
    ok: { 200: accessKeySchema }, errors: { 404: "not found" },
  }),
  createProject: op({
    method: "POST", path: "/projects", tag: "projects", summary: "Create a project (org owners)", body: createProjectSchema,
    ok: { 201: projectSchema }, errors: { 400: "invalid", 403: "not an org owner", 409: "name taken" },
    links: { GetProject: { operationId: "getProject", parameters: { projectId: "$response.body#/id" } }, ListMembers: { operationId: "listMembers", parameters: { projectId: "$response.body#/id" } }, CreateDeployment: { operationId: "createDeployment", parameters: { projectId: "$response.body#/id" } }, ListDeployments: { operationId: "listDeployments", parameters: { projectId: "$response.body#/id" } } },
  }),
  listProjects: op({
    method: "GET", path: "/projects", tag: "projects", summary: "List the projects you have a role in (all, for org owners)", query: pageQuerySchema,
    ok: { 200: projectPage }, errors: { 400: "bad limit or cursor" },
  }),
  getProject: op({
    method: "GET", path: "/projects/{projectId}", tag: "projects", summary: "Get a project",
    ok: { 200: projectSchema }, errors: { 404: "not found" },
  }),
  listMembers: op({
    method: "GET", path: "/projects/{projectId}/members", tag: "projects", summary: "List a project's members and roles",
    ok: { 200: z.strictObject({ items: z.array(memberSchema) }) }, errors: { 404: "not found" },
  }),
  setMember: op({
    method: "PUT", path: "/projects/{projectId}/members/{userId}", tag: "projects", summary: "Give a user a role in the project (project owners)", body: setMemberSchema,
    ok: { 200: memberSetSchema }, errors: { 400: "invalid role", 403: "not a project owner, or your own role", 404: "no such project or user" },
    links: { RemoveMember: { operationId: "removeMember", parameters: { projectId: "$response.body#/projectId", userId: "$response.body#/userId" } } },
  }),
  removeMember: op({
    method: "DELETE", path: "/projects/{projectId}/members/{userId}", tag: "projects", summary: "Remove a user's role in the project (project owners)",
    ok: { 204: null }, errors: { 403: "not a project owner, or your own membership", 404: "not a member" },
  }),

  publishBundle: op({
    method: "POST", path: "/bundles", tag: "asset library", summary: "Publish a version of a bundle of Langflow flows", body: publishRequestSchema,
    ok: { 201: bundleVersionSchema },
    errors: { 400: "invalid", 403: "no editor role where shared", 409: "tag exists", 422: "not a flow, or a hard-coded secret" },
    links: { GetBundle: { operationId: "getBundle", parameters: { name: "$response.body#/name" } }, GetBundleVersion: { operationId: "getBundleVersion", parameters: { name: "$response.body#/name", tag: "$response.body#/versionTag" } }, PatchBundleVersion: { operationId: "patchBundleVersion", parameters: { name: "$response.body#/name", tag: "$response.body#/versionTag" } }, DeleteBundleVersion: { operationId: "deleteBundleVersion", parameters: { name: "$response.body#/name", tag: "$response.body#/versionTag" } } },
  }),
  listBundles: op({
    method: "GET", path: "/bundles", tag: "asset library", summary: "List the bundles you can see, with their newest version", query: pageQuerySchema,
    ok: { 200: bundlePage }, errors: { 400: "bad limit or cursor" },
  }),
  getBundle: op({
    method: "GET", path: "/bundles/{name}", tag: "asset library", summary: "A bundle with every version you can see, newest first",
    ok: { 200: bundleSchema }, errors: { 404: "not found" },
  }),
  getBundleVersion: op({
    method: "GET", path: "/bundles/{name}/versions/{tag}", tag: "asset library", summary: "One version (`latest` names the newest)",
    ok: { 200: bundleVersionSchema }, errors: { 404: "not found" },
  }),
  patchBundleVersion: op({
    method: "PATCH", path: "/bundles/{name}/versions/{tag}", tag: "asset library", summary: "Edit a version's description, access or non-credential defaults", body: versionPatchSchema,
    ok: { 200: bundleVersionSchema }, errors: { 400: "invalid", 403: "no editor role where shared", 404: "not found" },
  }),
  getFlowGraph: op({
    method: "GET", path: "/bundles/{name}/versions/{tag}/flows/{flowId}/graph", tag: "asset library", summary: "One flow of a version as a graph: components, positions and edges (no field values)",
    ok: { 200: flowGraphSchema }, errors: { 404: "no such version or flow" },
  }),
  deleteBundleVersion: op({
    method: "DELETE", path: "/bundles/{name}/versions/{tag}", tag: "asset library", summary: "Delete a version no live deployment pins",
    ok: { 204: null }, errors: { 403: "no editor role where shared", 404: "not found", 409: "pinned by a deployment" },
  }),

  createDeployment: op({
    method: "POST", path: "/projects/{projectId}/deployments", tag: "deployments",
    summary: "Deploy a bundle version (the Deploy dialog's four steps); ?dryRun=true[&step=...] validates only",
    body: deployRequestSchema, query: createDeploymentQuerySchema,
    ok: { 201: deploymentSchema, 200: dryRunSchema },
    errors: { 400: "invalid", 403: "no editor role", 404: "no such project" },
    links: { GetDeployment: { operationId: "getDeployment", parameters: { projectId: "$response.body#/projectId", id: "$response.body#/id" } }, PatchDeployment: { operationId: "patchDeployment", parameters: { projectId: "$response.body#/projectId", id: "$response.body#/id" } }, ListDeploymentEvents: { operationId: "listDeploymentEvents", parameters: { projectId: "$response.body#/projectId", id: "$response.body#/id" } }, GetDeploymentManifests: { operationId: "getDeploymentManifests", parameters: { projectId: "$response.body#/projectId", id: "$response.body#/id" } }, DeleteDeployment: { operationId: "deleteDeployment", parameters: { projectId: "$response.body#/projectId", id: "$response.body#/id" } } },
  }),
  listDeployments: op({
    method: "GET", path: "/projects/{projectId}/deployments", tag: "deployments", summary: "List a project's deployments, newest first", query: pageQuerySchema,
    ok: { 200: deploymentPage }, errors: { 400: "bad limit or cursor", 404: "no such project" },
  }),
  getDeployment: op({
    method: "GET", path: "/projects/{projectId}/deployments/{id}", tag: "deployments", summary: "Get a deployment with its status",
    ok: { 200: deploymentSchema }, errors: { 404: "not found" },
  }),
  patchDeployment: op({
    method: "PATCH", path: "/projects/{projectId}/deployments/{id}", tag: "deployments",
    summary: "Change parameters, credentials, version, resources or runtime (a rolling update)", body: deploymentPatchSchema,
    ok: { 200: deploymentSchema }, errors: { 400: "invalid", 403: "no editor role", 404: "not found", 409: "being undeployed or changed concurrently" },
  }),
  deleteDeployment: op({
    method: "DELETE", path: "/projects/{projectId}/deployments/{id}", tag: "deployments", summary: "Undeploy (project owners)",
    ok: { 202: deploymentSchema }, errors: { 403: "not a project owner", 404: "not found" },
  }),
  disableDeployment: op({
    method: "POST", path: "/projects/{projectId}/deployments/{id}/disable", tag: "deployments",
    summary: "Kill switch: the gateway answers 503 with Retry-After for every call, within a second; replicas kept warm unless stopReplicas",
    body: disableRequestSchema,
    ok: { 200: deploymentSchema }, errors: { 403: "no editor role", 404: "not found", 409: "being undeployed" },
  }),
  enableDeployment: op({
    method: "POST", path: "/projects/{projectId}/deployments/{id}/enable", tag: "deployments",
    summary: "Turn the kill switch off: the gateway serves the deployment again (at once when its replicas were kept)",
    ok: { 200: deploymentSchema }, errors: { 403: "no editor role", 404: "not found", 409: "being undeployed" },
  }),
  getDeploymentManifests: op({
    method: "GET", path: "/projects/{projectId}/deployments/{id}/manifests", tag: "deployments",
    summary: "The Kubernetes resources this deployment maps to, as JSON, secret values redacted",
    ok: { 200: z.array(k8sObjectSchema).meta({ description: "[Namespace, ServiceAccount, Secret, Service, NetworkPolicy, Deployment]" }) }, errors: { 404: "not found" },
  }),
  listDeploymentEvents: op({
    method: "GET", path: "/projects/{projectId}/deployments/{id}/events", tag: "deployments",
    summary: "The deployment's events, oldest first: a JSON array; when more follow, the X-Next-Cursor header holds the cursor", query: pageQuerySchema,
    ok: { 200: z.array(deploymentEventSchema) }, errors: { 400: "bad limit or cursor", 404: "not found" },
    headers: { "x-next-cursor": "the cursor of the next page, when more events follow" },
  }),
  listDeploymentRevisions: op({
    method: "GET", path: "/projects/{projectId}/deployments/{id}/revisions", tag: "deployments",
    summary: "The deployment's revisions, newest first: who changed what and when (credential names only)", query: listRevisionsQuerySchema,
    ok: { 200: revisionPageSchema }, errors: { 400: "bad limit or cursor", 404: "not found" },
  }),
  diffDeploymentRevisions: op({
    method: "GET", path: "/projects/{projectId}/deployments/{id}/revisions/diff", tag: "deployments",
    summary: "What differs between two revisions (?from=&to=): version, parameter values, credential names, runtime, CPU/memory", query: revisionDiffQuerySchema,
    ok: { 200: revisionDiffSchema }, errors: { 400: "from or to missing or not a number", 404: "no such deployment or revision" },
  }),
  getDeploymentRevision: op({
    method: "GET", path: "/projects/{projectId}/deployments/{id}/revisions/{revision}", tag: "deployments",
    summary: "One revision (credential names only)",
    ok: { 200: revisionSchema }, errors: { 404: "no such deployment or revision" },
  }),
  rollbackDeployment: op({
    method: "POST", path: "/projects/{projectId}/deployments/{id}/rollback", tag: "deployments",
    summary: "Restore an earlier revision's version, parameters, credentials, runtime and CPU/memory, as a new revision (a rolling update)",
    body: rollbackRequestSchema,
    ok: { 200: deploymentSchema },
    errors: { 400: "no such revision", 403: "no editor role", 404: "not found", 409: "already the current revision (or identical to it), its version was deleted, being undeployed or changed concurrently" },
  }),
  setCanaryPercent: op({
    method: "POST", path: "/projects/{projectId}/deployments/{id}/canary", tag: "deployments",
    summary: "Change the share of the canary under way (1..99); sessions already on the canary stay there when it grows",
    body: canaryRequestSchema,
    ok: { 200: deploymentSchema }, errors: { 400: "percent not 1..99", 403: "no editor role", 404: "not found", 409: "no canary under way" },
  }),
  promoteCanary: op({
    method: "POST", path: "/projects/{projectId}/deployments/{id}/promote", tag: "deployments",
    summary: "Promote the canary: every call goes to the current revision; the stable one stays warm for the grace period",
    ok: { 200: deploymentSchema }, errors: { 403: "no editor role", 404: "not found", 409: "no canary under way" },
  }),
  abortCanary: op({
    method: "POST", path: "/projects/{projectId}/deployments/{id}/abort", tag: "deployments",
    summary: "Abort the canary: a rollback to the stable revision, whose replicas take every call at once (a new revision)",
    ok: { 200: deploymentSchema }, errors: { 403: "no editor role", 404: "not found", 409: "no canary under way, or the deployment changed meanwhile" },
  }),
  listRuns: op({
    method: "GET", path: "/projects/{projectId}/deployments/{id}/runs", tag: "runs",
    summary: "The deployment's run history, newest first: one run per call through the gateway (viewers)", query: runsQuerySchema,
    ok: { 200: runPageSchema }, errors: { 404: "not found" },
  }),
  getRun: op({
    method: "GET", path: "/projects/{projectId}/deployments/{id}/runs/{runId}", tag: "runs", summary: "One run",
    ok: { 200: runSchema }, errors: { 404: "no such run" },
  }),
  getRunTrace: op({
    method: "GET", path: "/projects/{projectId}/deployments/{id}/runs/{runId}/trace", tag: "runs",
    summary: "A run's trace: one span per component with its start, duration, status, error and token counts, as the replica that ran it reported (viewers)",
    ok: { 200: traceSchema }, errors: { 404: "no such run, or no trace for it (it ran no flow, or its replica has not sent it yet)" },
  }),
  getDeploymentLogs: op({
    method: "GET", path: "/projects/{projectId}/deployments/{id}/logs", tag: "runs",
    summary: "The replicas' logs without probe lines, merged or of one replica; with follow=true, a stream of application/x-ndjson LogLine objects that follows new replicas too (viewers)",
    query: logsQuerySchema,
    ok: { 200: logPageSchema }, errors: { 404: "not found", 409: "this process runs no driver to read logs from", 429: "follow=true while the caller already holds its share of open log streams (or the server all it allows)" },
  }),
  getDeploymentMetrics: op({
    method: "GET", path: "/projects/{projectId}/deployments/{id}/metrics", tag: "runs",
    summary: "Requests, errors and p50/p95/p99 latency per revision (from the run history), in-flight requests, ready replicas and CPU/memory per replica (sampled), over the last 5 minutes, hour or day (viewers)",
    query: metricsQuerySchema,
    ok: { 200: deploymentMetricsSchema }, errors: { 404: "not found" },
  }),
} as const satisfies Record<string, Operation>;

export type Operations = typeof operations;
export type OperationId = keyof Operations;

/** Every status an operation can answer with the error shape, the common ones included. */
export function errorStatuses(o: Operation): ErrorStatus[] {
  const s = new Set<ErrorStatus>(Object.keys(o.errors).map(Number) as ErrorStatus[]);
  // Authenticated: 401 for a bad key; 429 once the caller's address has sent too many bad keys
  // (http/app.ts), or while the caller, or the server, holds as many large bodies as it may (http/body-budget.ts).
  if (o.auth !== false) for (const x of [401, 429] as const) s.add(x);
  if (o.body) for (const x of [400, 413, 415] as const) s.add(x);
  // A write refuses a query parameter it does not describe (apps/server http/write-query.ts).
  if (o.query || o.method !== "GET") s.add(400);
  // A path parameter PostgreSQL cannot store (NUL, a lone surrogate) is refused at the edge (input-hygiene.ts).
  if (o.path.includes("{")) s.add(400);
  return [...s].sort();
}

type OkSchemas<O extends Operation> = { [S in keyof O["ok"]]: O["ok"][S] }[keyof O["ok"]];
/** What a success answer holds, as a client reads it (undefined for 204). */
export type Answer<O extends Operation> = OkSchemas<O> extends infer Sch ? Sch extends z.ZodType ? z.output<Sch> : undefined : never;
/** What a handler may return for a success answer (the schema's input side). */
export type HandlerAnswer<O extends Operation> = OkSchemas<O> extends infer Sch ? Sch extends z.ZodType ? z.input<Sch> : undefined : never;

/** The schema of the answer with this status (the error shape for 4xx and 5xx), or null for none. */
export function answerSchema(o: Operation, status: number): z.ZodType | null | undefined {
  if (status >= 400) return errorSchema;
  return (o.ok as Record<number, z.ZodType | null | undefined>)[status];
}

/** `/projects/{projectId}` with the values filled in (each one URL-encoded). */
export function fillPath(path: string, params: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_, k: string) => {
    const v = params[k];
    if (v === undefined) throw new Error(`missing path parameter ${k} for ${path}`);
    return encodeURIComponent(v);
  });
}
