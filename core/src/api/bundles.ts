import { z } from "zod";
import { nameRule, timeSchema } from "./common.js";
import { bundleNameProblem, nameProblem } from "./names.js";

export const BUNDLE_NAME_MAX = 64;
export const VERSION_TAG_MAX = 128;
export const MAX_FLOWS_PER_BUNDLE = 50;
/**
 * The longest flow id a version may hold, checked at publish (core bundle.ts). An id is a path
 * segment of the API (a flow's graph) and of every URL that runs the flow, and a field of its
 * runs' traces: unbounded, a flow published with a 5,000-character id could not be drawn.
 * Langflow's ids are UUIDs (36 characters); 200 leaves hand-made ids room.
 */
export const FLOW_ID_MAX = 200;
/**
 * The longest value (decoded) any path parameter of the API may hold: a bundle name, a version
 * tag, a flow id (the other ids in paths are the server's own UUIDs and numbers). The HTTP
 * router must accept at least this much (apps/server http/listener.ts), or what was published
 * cannot be read back.
 */
export const PATH_PARAM_MAX = Math.max(BUNDLE_NAME_MAX, VERSION_TAG_MAX, FLOW_ID_MAX);
/** `latest` names the newest version; it can never be a tag of its own. */
export const LATEST = "latest";

/**
 * - `project`: visible to the projects in `allowedProjects` (at least one) and to org owners.
 * - `global`: visible to everyone in the organisation.
 */
export type AccessLevel = "project" | "global";

// Names and tags travel in URL paths, so `/`, edge white space and the path segments `.` and `..`
// (which clients resolve away: `bundles/..` is fetched as the folder above) are refused; and
// everyone reads them (global bundles, in terminals and the UI), so control characters (C0, DEL,
// C1), bidirectional overrides and isolates and the line separators are too, as in shown names.
const pathSafe = (what: string, max: number, problemOf: (what: string, s: string) => string | null) =>
  z.string({ error: `${what} must be a string` })
    .min(1, `${what} is required`)
    .max(max, `${what} must be at most ${max} characters`)
    .refine((s) => s.trim() === s, `${what} must not start or end with white space`)
    .refine((s) => !/[/\\?#%\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/.test(s), `${what} must not contain / \\ ? # %, control characters or bidirectional overrides`)
    .refine((s) => s !== "." && s !== "..", `${what} must not be "." or ".."`)
    // Invisible characters, other spaces, look-alikes (names.ts): refused beyond the pattern below.
    .superRefine(nameRule(what, max, problemOf))
    // The character rules as a JSON Schema pattern, for the OpenAPI document (the refines above
    // give the messages; "." and ".." are refused beyond it).
    .meta({ pattern: "^[^/\\\\?#%\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029\\s]([^/\\\\?#%\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*[^/\\\\?#%\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029\\s])?$" });

export const bundleNameSchema = pathSafe("name", BUNDLE_NAME_MAX, bundleNameProblem);
export const versionTagSchema = pathSafe("versionTag", VERSION_TAG_MAX, nameProblem)
  .refine((s) => s !== LATEST, `"${LATEST}" is reserved: it always names the newest version`);

export const accessLevelSchema = z.enum(["project", "global"], { error: 'accessLevel must be "project" or "global"' });
/**
 * The most names a map of values may hold (a version's defaults; a deployment's credentials or
 * parameters): each becomes a replica's environment variable, and a bundle's flows bind far
 * fewer. Without it each unknown name was checked and answered on its own: 200,000 names made
 * a deployment edit fail with a 500 (its errors overflowed the stack) and a publish answer 32 MiB.
 */
export const MAX_VALUE_NAMES = 1_000;

/** A map of names to string values, at most MAX_VALUE_NAMES names; `notString`: the message for a value that is no string. */
export function valueMapSchema(notString: string) {
  return z.record(z.string(), z.string({ error: notString }))
    .refine((r) => Object.keys(r).length <= MAX_VALUE_NAMES, { message: `at most ${MAX_VALUE_NAMES} names are allowed` });
}

const defaultsSchema = valueMapSchema("a default must be a string");
/** Free text over several lines (newlines and tabs kept), but no ESC or other control character, nor a bidirectional override: others read it in their terminals. */
const descriptionSchema = z.string().max(2000, "description must be at most 2000 characters")
  .refine((s) => !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(s), "description may not contain control characters other than newlines and tabs (such as ESC), nor bidirectional overrides");

// Requests.

export const publishRequestSchema = z.object({
  name: bundleNameSchema,
  versionTag: versionTagSchema,
  description: descriptionSchema.optional(),
  accessLevel: accessLevelSchema,
  allowedProjects: z.array(z.string().min(1)).max(100).optional()
    .meta({ description: "the projects that see the version: at least one for access level project; none (or empty) for global, which every project sees (400 otherwise)" }),
  projectId: z.string({ error: "projectId must be a string" }).min(1, "projectId must not be empty").optional()
    .meta({ description: "the project publishing the version; its owners and editors manage it. Default: the first of allowedProjects, or for global access the caller's only project where they are an editor" }),
  flows: z.array(z.unknown().meta({ type: "object", description: "a flow as the Langflow editor exports it (422 when it is not one)" })).min(1, "at least one flow is required").max(MAX_FLOWS_PER_BUNDLE, `at most ${MAX_FLOWS_PER_BUNDLE} flows per bundle`),
  defaults: defaultsSchema.optional(),
});
export type PublishRequest = z.infer<typeof publishRequestSchema>;

export const versionPatchSchema = z.object({
  description: descriptionSchema.optional(),
  accessLevel: accessLevelSchema.optional(),
  allowedProjects: z.array(z.string().min(1)).max(100).optional(),
  defaults: defaultsSchema.optional(),
}).strict();
export type VersionPatch = z.infer<typeof versionPatchSchema>;

// Answers.

/**
 * - `credential`: used by at least one secret field (SecretStrInput or `password: true`), or a
 *   model provider's key that a model node leaves to the provider settings (`OPENAI_API_KEY`...);
 *   never has a default; a value is required at deploy time.
 * - `plain`: any other global variable; may carry a publish-time default.
 * - `model`: a deploy-time model choice (`<provider>/<model>`) for a model field exported with
 *   no model selected; a value is required at deploy time.
 */
export type ParameterKind = "credential" | "plain" | "model";

export const parameterUseSchema = z.strictObject({ flowId: z.string(), nodeId: z.string(), field: z.string() });
export const parameterSchema = z.strictObject({
  name: z.string(),
  kind: z.enum(["credential", "plain", "model"]),
  default: z.string().optional(),
  usedBy: z.array(parameterUseSchema),
}).meta({ id: "Parameter" });
export type Parameter = z.infer<typeof parameterSchema>;

/**
 * Something a publish accepts but a deployer must know, naming the flow, node and field:
 * `no_model_selected`, `secret_unbound` (a secret field left empty and bound to nothing),
 * `unknown_provider` (a model provider whose key flowplane cannot tell).
 */
export const publishWarningSchema = z.strictObject({
  code: z.enum(["no_model_selected", "secret_unbound", "unknown_provider"]),
  flowId: z.string(),
  flowName: z.string(),
  nodeId: z.string(),
  field: z.string(),
  message: z.string(),
}).meta({ id: "PublishWarning" });
export type PublishWarning = z.infer<typeof publishWarningSchema>;

export const flowSummarySchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  endpointName: z.string().nullable(),
  components: z.array(z.string()).meta({ description: "component types (data.type)" }),
  warnings: z.array(publishWarningSchema).optional().meta({ description: "absent from versions published before warnings existed" }),
});
export type FlowSummary = z.infer<typeof flowSummarySchema>;

export const engineNameSchema = z.enum(["native", "lfx"]);
export const missingComponentSchema = z.strictObject({
  flowId: z.string(),
  flowName: z.string(),
  nodeId: z.string(),
  type: z.string(),
  reason: z.enum(["not_implemented", "custom_code", "unsupported_provider"]),
});
/** What the lfx engine cannot run: a Python module it lacks, or a component that needs the Langflow app. */
export const lfxProblemSchema = z.strictObject({
  flowId: z.string(),
  flowName: z.string(),
  nodeId: z.string(),
  type: z.string(),
  reason: z.enum(["missing_module", "needs_langflow_app"]),
  detail: z.string(),
});
export const compatibilitySchema = z.strictObject({
  native: z.strictObject({ supported: z.boolean(), missing: z.array(missingComponentSchema) }),
  lfx: z.strictObject({
    supported: z.boolean(),
    missing: z.array(lfxProblemSchema).optional().meta({ description: "absent from versions published before the lfx check existed" }),
  }),
  recommendedEngine: engineNameSchema.meta({ description: "what `auto` resolves to for this bundle" }),
}).meta({ id: "Compatibility" });
export type Compatibility = z.infer<typeof compatibilitySchema>;

export const bundleVersionSchema = z.strictObject({
  name: z.string(),
  versionTag: z.string(),
  description: z.string(),
  accessLevel: accessLevelSchema,
  allowedProjects: z.array(z.string()),
  digest: z.string(),
  parameters: z.array(parameterSchema),
  flows: z.array(flowSummarySchema),
  compatibility: compatibilitySchema,
  warnings: z.array(publishWarningSchema).meta({ description: "every flow's publish warnings, in flow order" }),
  createdAt: timeSchema,
  createdBy: z.string(),
  projectId: z.string().nullable().meta({ description: "the project that published the version (its owners and editors manage it); null: only org owners do" }),
}).meta({ id: "BundleVersion" });
export type BundleVersion = z.infer<typeof bundleVersionSchema>;

/**
 * One flow of a version as a picture (the deployment and bundle pages draw it): its components
 * where the Langflow editor placed them, and the edges between them. Notes are left out, and no
 * field value is included, so no parameter or credential value is in it.
 */
export const flowGraphSchema = z.strictObject({
  flowId: z.string(),
  name: z.string(),
  nodes: z.array(z.strictObject({
    id: z.string(),
    type: z.string().meta({ description: "the component type (data.type), e.g. ChatInput" }),
    displayName: z.string(),
    position: z.strictObject({ x: z.number(), y: z.number() }).meta({ description: "where the editor placed it (0,0 when the export has none)" }),
  })),
  edges: z.array(z.strictObject({
    id: z.string(),
    source: z.string(),
    target: z.string(),
    sourceOutput: z.string().meta({ description: "the source's output, e.g. message" }),
    targetInput: z.string().meta({ description: "the target's input field, or the loop output a Loop feedback edge returns to" }),
  })),
}).meta({ id: "FlowGraph" });
export type FlowGraph = z.infer<typeof flowGraphSchema>;

export const bundleSummarySchema = z.strictObject({ name: z.string(), latest: bundleVersionSchema, versionCount: z.number().int() }).meta({ id: "BundleSummary" });
export type BundleSummary = z.infer<typeof bundleSummarySchema>;

export const bundleSchema = z.strictObject({ name: z.string(), versions: z.array(bundleVersionSchema).meta({ description: "newest first" }) });
export type Bundle = z.infer<typeof bundleSchema>;
