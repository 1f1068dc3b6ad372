import { z } from "zod";
import { IO_BOUNDS } from "./trace-bounds.js";
import { TWEAKS_POLICIES } from "./tweaks-policy.js";
import { fieldErrorSchema, shownName, timeSchema } from "./common.js";
import { engineNameSchema, valueMapSchema } from "./bundles.js";

export const DISPLAY_NAME_MAX = 63;
export const MAX_REPLICAS = 5;

/**
 * The four steps of the Deploy dialog, in order; each is validated alone by a dry run
 * (`?dryRun=true&step=`), and `review` checks everything. The web dialog and the CLI's
 * interactive deploy show these steps with these titles.
 * - `configure`: name, bundle version, network access, runtime.
 * - `credentials`: credential values and parameter overrides.
 * - `task`: replicas, CPU and memory.
 * - `review`: the whole request.
 */
export type DeployStep = "configure" | "credentials" | "task" | "review";
export const DEPLOY_STEPS: readonly { step: DeployStep; title: string }[] = [
  { step: "configure", title: "Configure" },
  { step: "credentials", title: "Credentials" },
  { step: "task", title: "Task Configuration" },
  { step: "review", title: "Review" },
];
export const deployStepSchema = z.enum(["configure", "credentials", "task", "review"], { error: "step must be one of configure, credentials, task, review" });

/** `public`: routes served on the public listener. `private`: only on the internal listener. */
export type NetworkAccess = "public" | "private";
export type LogLevel = "debug" | "info" | "warn" | "error";

const values = valueMapSchema("values must be strings");

/**
 * `credentials` of a deploy or an edit, defined once. Besides the version's credentials it may
 * hold plain parameters the deployer keeps secret (api/secret-parameters.ts): a plain field
 * can hold a secret too (a connection string with its password).
 */
const credentialValuesSchema = values.meta({ description: "credential values by name: the version's credentials, each chosen model provider's key, "
  + "and any plain parameter the deployer chose to keep secret, which is then held exactly as a credential (stored encrypted, answered as ********, "
  + "never in revisions or events) and absent from parameters. A name may not be given under both. On an edit, a plain parameter given here "
  + "is kept secret from then on; given under parameters, it is back in the clear (its secret value dropped)" });
/** `parameters` of a deploy or an edit: shown in clear to every viewer of the project. */
const parameterValuesSchema = values.meta({ description: "plain parameter values and model choices, over the version's defaults; "
  + "shown in clear to every viewer of the project (give a plain parameter under credentials to keep it secret)" });
/** `credentials` of a deployment or a revision as answered, defined once. */
export const maskedCredentialsSchema = z.record(z.string(), z.string()).meta({ description: "credential names, each value masked as ********: "
  + "the version's credentials, chosen providers' keys, and plain parameters the deployer chose to keep secret" });
const quantity = z.string({ error: "must be a Kubernetes quantity string such as 500m or 1Gi" });
const pair = z.object({ request: quantity.optional(), limit: quantity.optional() }).strict();

export const engineChoiceSchema = z.enum(["auto", "native", "lfx"], { error: 'engine must be "auto", "native" or "lfx"' });
export const logLevelSchema = z.enum(["debug", "info", "warn", "error"], { error: "logLevel must be debug, info, warn or error" });
/**
 * Which fields a run request may set through `tweaks` (Langflow 1.13's `tweaks_policy`,
 * docs/langflow-compatibility.md). Langflow's protected fields (code, and what decides which code
 * or query runs) are refused under all three, and flowplane's credential rules hold under all three.
 * - `permissive`: every other field (the default, Langflow's too);
 * - `declared`: on a flow whose author marked fields editable via API (`api_editable`), only
 *   those; a flow with none marked stays permissive;
 * - `off`: no tweak at all; `input_value` and `session_id` still reach the flow.
 */
export const tweaksPolicySchema = z.enum(TWEAKS_POLICIES, { error: 'tweaksPolicy must be "permissive", "declared" or "off"' });
export const networkAccessSchema = z.enum(["public", "private"], { error: 'networkAccess must be "public" or "private"' });

// Requests.

/** Bounds of the rate limits (docs/rate-limits-and-idle.md): generous, but finite so a typo is caught. */
export const LIMIT_BOUNDS = { requestsPerSecond: { min: 0.01, max: 100_000 }, burst: { min: 1, max: 100_000 }, maxConcurrent: { min: 1, max: 10_000 } } as const;

/**
 * One set of limits (each field: a number, or null for "no limit"; left out: unchanged on edit,
 * none on deploy). `burst` is the token bucket's size: how many requests may come at once after
 * a quiet spell; it needs `requestsPerSecond` beside it and defaults to it, rounded up.
 */
const limitSetSchema = z.object({
  requestsPerSecond: z.number({ error: "requestsPerSecond must be a number (or null for no limit)" })
    .min(LIMIT_BOUNDS.requestsPerSecond.min, `requestsPerSecond must be at least ${LIMIT_BOUNDS.requestsPerSecond.min}`)
    .max(LIMIT_BOUNDS.requestsPerSecond.max, `requestsPerSecond must be at most ${LIMIT_BOUNDS.requestsPerSecond.max}`).nullable().optional(),
  burst: z.number({ error: "burst must be a number (or null for the default)" }).int("burst must be a whole number")
    .min(LIMIT_BOUNDS.burst.min, `burst must be at least ${LIMIT_BOUNDS.burst.min}`)
    .max(LIMIT_BOUNDS.burst.max, `burst must be at most ${LIMIT_BOUNDS.burst.max}`).nullable().optional(),
  maxConcurrent: z.number({ error: "maxConcurrent must be a number (or null for no limit)" }).int("maxConcurrent must be a whole number")
    .min(LIMIT_BOUNDS.maxConcurrent.min, `maxConcurrent must be at least ${LIMIT_BOUNDS.maxConcurrent.min}`)
    .max(LIMIT_BOUNDS.maxConcurrent.max, `maxConcurrent must be at most ${LIMIT_BOUNDS.maxConcurrent.max}`).nullable().optional(),
}).strict().superRefine((v, ctx) => {
  if (typeof v.burst === "number" && typeof v.requestsPerSecond !== "number") {
    ctx.addIssue({ code: "custom", path: ["burst"], message: "burst needs requestsPerSecond beside it (a burst of what rate?)" });
  }
});

/**
 * The gateway's limits for one deployment: `deployment` counts every caller together, `perKey`
 * each access key on its own (so one key cannot use up the deployment's budget alone).
 */
export const limitsSchema = z.object({
  deployment: limitSetSchema.optional(),
  perKey: limitSetSchema.optional(),
}).strict();

/** Bounds of scale to zero (docs/rate-limits-and-idle.md). Fractions of a minute are allowed (tests use seconds). */
export const IDLE_BOUNDS = { idleMinutes: { min: 0.05, max: 10_080 }, wakeTimeoutSeconds: { min: 1, max: 600 } } as const;

/**
 * Scale to zero: after `idleMinutes` without a request, every replica is stopped (phase `Idle`);
 * the routes stay, and the gateway holds the next request (up to `wakeTimeoutSeconds`) while
 * the deployment wakes. `idleMinutes` null: never (the default).
 */
export const scaleToZeroSchema = z.object({
  idleMinutes: z.number({ error: "idleMinutes must be a number of minutes (or null: never idle)" })
    .min(IDLE_BOUNDS.idleMinutes.min, `idleMinutes must be at least ${IDLE_BOUNDS.idleMinutes.min}`)
    .max(IDLE_BOUNDS.idleMinutes.max, `idleMinutes must be at most ${IDLE_BOUNDS.idleMinutes.max} (a week)`).nullable().optional(),
  wakeTimeoutSeconds: z.number({ error: "wakeTimeoutSeconds must be a number" }).int("wakeTimeoutSeconds must be a whole number")
    .min(IDLE_BOUNDS.wakeTimeoutSeconds.min, `wakeTimeoutSeconds must be at least ${IDLE_BOUNDS.wakeTimeoutSeconds.min}`)
    .max(IDLE_BOUNDS.wakeTimeoutSeconds.max, `wakeTimeoutSeconds must be at most ${IDLE_BOUNDS.wakeTimeoutSeconds.max}`).optional(),
}).strict();

/**
 * Bounds of a recorded value (docs/runs-and-logs.md "Inputs and outputs"): each input or output
 * kept with a trace is cut to `maxChars` characters, by default IO_DEFAULT_MAX_CHARS.
 */
export { IO_BOUNDS };
export const IO_DEFAULT_MAX_CHARS = 2048;

/**
 * Inputs and outputs (issue #19): off unless the deployment opts in. When `record` is true the
 * replicas keep the run's input and output and each component's inputs and outputs with the
 * trace, each value cut to `maxChars`, every credential value and access key replaced first.
 */
export const ioSchema = z.object({
  record: z.boolean({ error: "io.record must be true or false" }).optional(),
  maxChars: z.number({ error: "io.maxChars must be a number" }).int("io.maxChars must be a whole number")
    .min(IO_BOUNDS.maxChars.min, `io.maxChars must be at least ${IO_BOUNDS.maxChars.min}`)
    .max(IO_BOUNDS.maxChars.max, `io.maxChars must be at most ${IO_BOUNDS.maxChars.max}`).optional(),
}).strict();

export const runtimeSchema = z.object({
  engine: engineChoiceSchema.optional(),
  logLevel: logLevelSchema.optional(),
  requestTimeoutSeconds: z.number({ error: "requestTimeoutSeconds must be a number" }).int("requestTimeoutSeconds must be a whole number").min(1, "requestTimeoutSeconds must be at least 1").max(3600, "requestTimeoutSeconds must be at most 3600").optional(),
  limits: limitsSchema.optional(),
  scaleToZero: scaleToZeroSchema.optional(),
  io: ioSchema.optional(),
  tweaksPolicy: tweaksPolicySchema.optional(),
}).strict();

export const resourcesSchema = z.object({
  replicas: z.number({ error: "replicas must be a number" }).int("replicas must be a whole number").min(1, "replicas must be at least 1").max(MAX_REPLICAS, `replicas must be at most ${MAX_REPLICAS}`).optional(),
  cpu: pair.optional(),
  memory: pair.optional(),
}).strict();

export const deployRequestSchema = z.object({
  displayName: shownName("displayName", DISPLAY_NAME_MAX),
  bundle: z.object({
    name: z.string({ error: "bundle.name is required" }).min(1, "bundle.name is required"),
    version: z.string({ error: "bundle.version is required" }).min(1, "bundle.version is required"),
  }, { error: "bundle ({name, version}) is required" }).strict(),
  networkAccess: networkAccessSchema,
  runtime: runtimeSchema.optional(),
  credentials: credentialValuesSchema.default({}),
  parameters: parameterValuesSchema.optional(),
  resources: resourcesSchema.optional(),
}).strict();
export type DeployRequest = z.input<typeof deployRequestSchema>;

/** A canary's share of the calls: a whole percentage, 1..99 (0 and 100 are abort and promote). */
export const canaryPercentSchema = z.number({ error: "percent must be a number" }).int("percent must be a whole number").min(1, "percent must be 1..99").max(99, "percent must be 1..99");

/** `POST .../canary`: a new share for the canary under way. */
export const canaryRequestSchema = z.object({ percent: canaryPercentSchema }).strict();

export const deploymentPatchSchema = z.object({
  parameters: parameterValuesSchema.optional(),
  credentials: credentialValuesSchema.optional(),
  bundle: z.object({ version: z.string().min(1, "bundle.version is required") }).strict().optional(),
  resources: resourcesSchema.optional(),
  runtime: runtimeSchema.optional(),
  canary: z.object({ percent: canaryPercentSchema }).strict().optional()
    .meta({ description: "start the change as a canary: the new revision gets this share of the calls, the current one the rest, until promote or abort (docs/revisions.md)" }),
}).strict();
export type DeploymentPatch = z.infer<typeof deploymentPatchSchema>;

/** The kill switch's request: `stopReplicas` also stops every replica (default: kept warm, so enabling is instant). */
export const disableRequestSchema = z.object({
  stopReplicas: z.boolean({ error: "stopReplicas must be true or false" }).optional(),
}).strict();

export const createDeploymentQuerySchema = z.object({
  dryRun: z.enum(["true", "false"], { error: 'dryRun must be "true" or "false"' }).optional(),
  step: deployStepSchema.optional(),
});

// Answers.

/**
 * A deployment's phase, as DESIGN section 4 defines it:
 * - `Provisioning`: the deployment is accepted; its resources are being created.
 * - `Starting`: runtime replicas exist; they are downloading the bundle or loading flows.
 * - `Ready`: as many ready replicas as asked; HTTP and MCP endpoints are live.
 * - `Updating`: a rolling change is in progress; the old replicas keep serving.
 * - `Degraded`: serving, but with fewer ready replicas than asked (e.g. a crash loop).
 * - `Failed`: nothing can serve; the `RuntimeAvailable` condition's reason and message say why.
 * - `Deleting`: undeploy in progress; then the runtime is gone and the record stays for audit.
 * - `Disabled`: the kill switch is on: the gateway answers 503 with `Retry-After` for every
 *   call; the replicas are stopped or kept warm, as the one who disabled it chose.
 * - `Idle`: scaled to zero after `runtime.scaleToZero.idleMinutes` without a request: no replica
 *   runs, the routes stay; the gateway wakes it on the next request and holds that request
 *   until a replica is ready (DESIGN 11).
 */
export type Phase = "Provisioning" | "Starting" | "Ready" | "Updating" | "Degraded" | "Failed" | "Deleting" | "Disabled" | "Idle";
export const PHASES: readonly Phase[] = ["Provisioning", "Starting", "Ready", "Updating", "Degraded", "Failed", "Deleting", "Disabled", "Idle"];
export const phaseSchema = z.enum(["Provisioning", "Starting", "Ready", "Updating", "Degraded", "Failed", "Deleting", "Disabled", "Idle"]);

export const conditionSchema = z.strictObject({
  type: z.string(),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: timeSchema,
});
export type Condition = z.infer<typeof conditionSchema>;

export const deploymentStatusSchema = z.strictObject({
  phase: phaseSchema,
  observedGeneration: z.number().int(),
  readyReplicas: z.number().int(),
  conditions: z.array(conditionSchema),
});
export type DeploymentStatus = z.infer<typeof deploymentStatusSchema>;

const pairOut = z.strictObject({ request: z.string(), limit: z.string() });
export const resourcesOutSchema = z.strictObject({ replicas: z.number().int(), cpu: pairOut, memory: pairOut });
export type Resources = z.infer<typeof resourcesOutSchema>;
const limitSetOut = z.strictObject({ requestsPerSecond: z.number().nullable(), burst: z.number().int().nullable(), maxConcurrent: z.number().int().nullable() });
export const limitsOutSchema = z.strictObject({ deployment: limitSetOut, perKey: limitSetOut })
  .meta({ description: "rate limits at the gateway; null: no limit (burst null: requestsPerSecond rounded up)" });
export type LimitSet = z.infer<typeof limitSetOut>;
export type Limits = z.infer<typeof limitsOutSchema>;
export const scaleToZeroOutSchema = z.strictObject({ idleMinutes: z.number().nullable(), wakeTimeoutSeconds: z.number().int() })
  .meta({ description: "stop every replica after idleMinutes without a request (null: never); the gateway holds the next request up to wakeTimeoutSeconds while it wakes" });
export type ScaleToZero = z.infer<typeof scaleToZeroOutSchema>;
export const ioOutSchema = z.strictObject({ record: z.boolean(), maxChars: z.number().int() })
  .meta({ description: "record: the run's input and output and each component's inputs and outputs are kept with the trace (off by default), each value cut to maxChars characters, credential values and access keys replaced by [redacted]" });
export type RecordIO = z.infer<typeof ioOutSchema>;
export const runtimeOutSchema = z.strictObject({
  engine: engineChoiceSchema, logLevel: logLevelSchema, requestTimeoutSeconds: z.number().int(), limits: limitsOutSchema, scaleToZero: scaleToZeroOutSchema, io: ioOutSchema,
  tweaksPolicy: tweaksPolicySchema.meta({ description: "which fields a run request may set through tweaks: permissive (any but Langflow's protected fields), declared (only those the flow's author marked editable via API, when it marked any), off (none)" }),
});
export type RuntimeConfig = z.infer<typeof runtimeOutSchema>;

/**
 * One live revision's role:
 * - `current`: the deployment's current revision (a canary, during a canary);
 * - `stable`: during a canary, the revision before it, which keeps the rest of the calls;
 * - `warm`: the revision before the last change, kept with one replica until `warmUntil` (0% of the calls; a rollback to it is instant).
 */
export type LiveRevisionRole = "current" | "stable" | "warm";
export const liveRevisionSchema = z.strictObject({
  revision: z.number().int(),
  role: z.enum(["current", "stable", "warm"]),
  percent: z.number().int().meta({ description: "its share of the calls (0..100); a revision with 0% is reached with the x-flowplane-revision-target header" }),
  runs: z.number().int().meta({ description: "the revision its replicas were started for: the same, or for a rollback the revision it restored" }),
  warmUntil: timeSchema.nullable().meta({ description: "for the warm revision: when its replica goes" }),
}).meta({ id: "LiveRevision" });

/** A deployment as the API answers it: credentials masked, endpoints absolute. */
export const deploymentSchema = z.strictObject({
  id: z.string(),
  projectId: z.string(),
  displayName: z.string(),
  resourceName: z.string().meta({ description: "DNS-1123 label: namespace and folder name" }),
  appId: z.string().meta({ description: "the application id in the endpoint URLs" }),
  bundle: z.strictObject({ name: z.string(), version: z.string(), digest: z.string() }),
  networkAccess: networkAccessSchema,
  runtime: runtimeOutSchema,
  parameters: z.record(z.string(), z.string()).meta({ description: "effective plain parameter values (defaults merged with overrides), bar those kept secret (under credentials)" }),
  credentials: maskedCredentialsSchema,
  resources: resourcesOutSchema,
  generation: z.number().int(),
  revision: z.number().int().meta({ description: "the current revision: what runs once the status has observed this generation" }),
  status: deploymentStatusSchema,
  endpoints: z.strictObject({ http: z.string(), mcp: z.string() }),
  createdAt: timeSchema,
  updatedAt: timeSchema,
  createdBy: z.string(),
  deletionRequestedAt: timeSchema.nullable(),
  deletedAt: timeSchema.nullable(),
  disabled: z.strictObject({ at: timeSchema, by: z.string(), stopReplicas: z.boolean() }).nullable()
    .meta({ description: "the kill switch: null when enabled; otherwise when, by whom, and whether the replicas were stopped" }),
  liveRevisions: z.array(liveRevisionSchema)
    .meta({ description: "the revisions with replicas, current first: during a canary the stable one beside it; after a change, the one before it, warm, for an instant rollback" }),
}).meta({ id: "Deployment" });
export type Deployment = z.infer<typeof deploymentSchema>;

/** `Normal` for progress, `Warning` for trouble, as Kubernetes events. */
export type EventType = "Normal" | "Warning";
export const deploymentEventSchema = z.strictObject({
  time: timeSchema,
  type: z.enum(["Normal", "Warning"]),
  reason: z.string(),
  message: z.string(),
}).meta({ id: "DeploymentEvent" });
export type DeploymentEvent = z.infer<typeof deploymentEventSchema>;

export const dryRunSchema = z.strictObject({ valid: z.boolean(), errors: z.array(fieldErrorSchema) }).meta({ id: "DryRun" });
export type DryRun = z.infer<typeof dryRunSchema>;

/** One Kubernetes object as JSON; its spec is Kubernetes' own, not described here. */
export const k8sObjectSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }),
});
export type K8sObjectInfo = z.infer<typeof k8sObjectSchema>;

export { engineNameSchema };
