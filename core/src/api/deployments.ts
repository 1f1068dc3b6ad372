import { z } from "zod";
import { fieldErrorSchema, timeSchema } from "./common.js";
import { engineNameSchema } from "./bundles.js";

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

const values = z.record(z.string(), z.string({ error: "values must be strings" }));
const quantity = z.string({ error: "must be a Kubernetes quantity string such as 500m or 1Gi" });
const pair = z.object({ request: quantity.optional(), limit: quantity.optional() }).strict();

export const engineChoiceSchema = z.enum(["auto", "native", "lfx"], { error: 'engine must be "auto", "native" or "lfx"' });
export const logLevelSchema = z.enum(["debug", "info", "warn", "error"], { error: "logLevel must be debug, info, warn or error" });
export const networkAccessSchema = z.enum(["public", "private"], { error: 'networkAccess must be "public" or "private"' });

// Requests.

export const runtimeSchema = z.object({
  engine: engineChoiceSchema.optional(),
  logLevel: logLevelSchema.optional(),
  requestTimeoutSeconds: z.number({ error: "requestTimeoutSeconds must be a number" }).int("requestTimeoutSeconds must be a whole number").min(1, "requestTimeoutSeconds must be at least 1").max(3600, "requestTimeoutSeconds must be at most 3600").optional(),
}).strict();

export const resourcesSchema = z.object({
  replicas: z.number({ error: "replicas must be a number" }).int("replicas must be a whole number").min(1, "replicas must be at least 1").max(MAX_REPLICAS, `replicas must be at most ${MAX_REPLICAS}`).optional(),
  cpu: pair.optional(),
  memory: pair.optional(),
}).strict();

export const deployRequestSchema = z.object({
  displayName: z.string({ error: (i) => (i.input === undefined ? "displayName is required" : "displayName must be a string") }).trim().min(1, "displayName is required").max(DISPLAY_NAME_MAX, `displayName must be at most ${DISPLAY_NAME_MAX} characters`),
  bundle: z.object({
    name: z.string({ error: "bundle.name is required" }).min(1, "bundle.name is required"),
    version: z.string({ error: "bundle.version is required" }).min(1, "bundle.version is required"),
  }, { error: "bundle ({name, version}) is required" }).strict(),
  networkAccess: networkAccessSchema,
  runtime: runtimeSchema.optional(),
  credentials: values.default({}),
  parameters: values.optional(),
  resources: resourcesSchema.optional(),
}).strict();
export type DeployRequest = z.input<typeof deployRequestSchema>;

export const deploymentPatchSchema = z.object({
  parameters: values.optional(),
  credentials: values.optional(),
  bundle: z.object({ version: z.string().min(1, "bundle.version is required") }).strict().optional(),
  resources: resourcesSchema.optional(),
  runtime: runtimeSchema.optional(),
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
 */
export type Phase = "Provisioning" | "Starting" | "Ready" | "Updating" | "Degraded" | "Failed" | "Deleting" | "Disabled";
export const PHASES: readonly Phase[] = ["Provisioning", "Starting", "Ready", "Updating", "Degraded", "Failed", "Deleting", "Disabled"];
export const phaseSchema = z.enum(["Provisioning", "Starting", "Ready", "Updating", "Degraded", "Failed", "Deleting", "Disabled"]);

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
export const runtimeOutSchema = z.strictObject({ engine: engineChoiceSchema, logLevel: logLevelSchema, requestTimeoutSeconds: z.number().int() });
export type RuntimeConfig = z.infer<typeof runtimeOutSchema>;

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
  parameters: z.record(z.string(), z.string()).meta({ description: "effective plain parameter values (defaults merged with overrides)" }),
  credentials: z.record(z.string(), z.string()).meta({ description: "credential names, each value masked as ********" }),
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
