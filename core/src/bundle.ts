import { z } from "zod";
import { compatibilityReport, type CompatibilityReport } from "./compatibility.js";
import { UnprocessableFlowError, ValidationError, type FieldError } from "./errors.js";
import { bundleDigest, componentTypes, parseFlow, type Flow } from "./flow.js";
import { applyDefaults, extractParameters, publishWarnings, type Parameter, type PublishWarning } from "./parameters.js";
import { fieldErrors } from "./validation.js";

export const BUNDLE_NAME_MAX = 64;
export const VERSION_TAG_MAX = 128;
export const MAX_FLOWS_PER_BUNDLE = 50;
/** `latest` names the newest version; it can never be a tag of its own. */
export const LATEST = "latest";

/**
 * - `project`: visible to the projects in `allowedProjects` (at least one) and to org owners.
 * - `global`: visible to everyone in the organisation.
 */
export type AccessLevel = "project" | "global";

// Names and tags travel in URL paths, so `/`, control characters and edge white space are refused.
const pathSafe = (what: string, max: number) =>
  z.string({ error: `${what} must be a string` })
    .min(1, `${what} is required`)
    .max(max, `${what} must be at most ${max} characters`)
    .refine((s) => s.trim() === s, `${what} must not start or end with white space`)
    .refine((s) => !/[/\\?#%\u0000-\u001f\u007f]/.test(s), `${what} must not contain / \\ ? # % or control characters`);

export const bundleNameSchema = pathSafe("name", BUNDLE_NAME_MAX);
export const versionTagSchema = pathSafe("versionTag", VERSION_TAG_MAX)
  .refine((s) => s !== LATEST, `"${LATEST}" is reserved: it always names the newest version`);

export const accessLevelSchema = z.enum(["project", "global"], { error: 'accessLevel must be "project" or "global"' });
const defaultsSchema = z.record(z.string(), z.string({ error: "a default must be a string" }));
const descriptionSchema = z.string().max(2000, "description must be at most 2000 characters");

export const publishRequestSchema = z.object({
  name: bundleNameSchema,
  versionTag: versionTagSchema,
  description: descriptionSchema.optional(),
  accessLevel: accessLevelSchema,
  allowedProjects: z.array(z.string().min(1)).max(100).optional(),
  flows: z.array(z.unknown()).min(1, "at least one flow is required").max(MAX_FLOWS_PER_BUNDLE, `at most ${MAX_FLOWS_PER_BUNDLE} flows per bundle`),
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

export interface FlowSummary {
  id: string;
  name: string;
  description: string;
  endpointName: string | null;
  /** Component types (`data.type`), the input of the engine compatibility report. */
  components: string[];
  /** What the flow builder should fix or the deployer must supply, each naming node and field. */
  warnings: PublishWarning[];
}

/** A published version as stored and answered; its flows are kept apart (they are large). */
export interface BundleVersion {
  name: string;
  versionTag: string;
  description: string;
  accessLevel: AccessLevel;
  allowedProjects: string[];
  digest: string;
  parameters: Parameter[];
  flows: FlowSummary[];
  compatibility: CompatibilityReport;
  /** Every flow's warnings, in flow order (kept with each flow summary, answered here too). */
  warnings: PublishWarning[];
  createdAt: string;
  createdBy: string;
}

export type NewBundleVersion = Omit<BundleVersion, "createdAt"> & { rawFlows: unknown[] };

/** Access rules that hold for a new version and for an edited one. */
export function checkAccess(accessLevel: AccessLevel, allowedProjects: string[] | undefined): FieldError[] {
  if (accessLevel === "project" && (allowedProjects ?? []).length === 0) {
    return [{ field: "allowedProjects", message: 'access level "project" needs at least one project' }];
  }
  return [];
}

/**
 * Turns a publish request into the version to store: parses every flow, extracts the
 * parameters, applies defaults, computes the digest and the compatibility report. Pure: it
 * throws ValidationError (400) or UnprocessableFlowError (422) and stores nothing.
 */
export function prepareVersion(input: unknown, createdBy: string): NewBundleVersion {
  const parsed = publishRequestSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrors(parsed.error));
  const req = parsed.data;
  const accessErrors = checkAccess(req.accessLevel, req.allowedProjects);
  if (accessErrors.length) throw new ValidationError(accessErrors);

  const flows: Flow[] = req.flows.map((f, i) => parseFlow(f, `flows[${i}]`));
  const ids = new Set<string>();
  for (const f of flows) {
    if (ids.has(f.id)) throw new UnprocessableFlowError(`two flows of the bundle have the id "${f.id}"`);
    ids.add(f.id);
  }
  const { parameters, unknown } = applyDefaults(extractParameters(flows), req.defaults ?? {});
  const warnings = publishWarnings(flows);
  if (unknown.length) {
    throw new ValidationError(unknown.map((n) => ({ field: `defaults.${n}`, message: `"${n}" is not a parameter of this bundle` })));
  }
  return {
    name: req.name,
    versionTag: req.versionTag,
    description: req.description ?? "",
    accessLevel: req.accessLevel,
    allowedProjects: req.accessLevel === "global" ? [] : [...new Set(req.allowedProjects)],
    digest: bundleDigest(req.flows),
    parameters,
    flows: flows.map((f) => summarizeFlow(f, warnings)),
    compatibility: compatibilityReport(flows),
    warnings,
    createdBy,
    rawFlows: req.flows,
  };
}

export function summarizeFlow(f: Flow, warnings: readonly PublishWarning[] = publishWarnings([f])): FlowSummary {
  return { id: f.id, name: f.name, description: f.description, endpointName: f.endpointName, components: componentTypes(f), warnings: warnings.filter((w) => w.flowId === f.id) };
}

/** A stored version's warnings: those kept with its flow summaries (none for versions stored before warnings existed). */
export const versionWarnings = (flows: readonly FlowSummary[]): PublishWarning[] => flows.flatMap((f) => f.warnings ?? []);

/** Applies an edit to a version: only description, access and non-credential defaults can change. */
export function applyVersionPatch(v: BundleVersion, input: unknown): BundleVersion {
  const parsed = versionPatchSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrors(parsed.error));
  const p = parsed.data;
  const accessLevel = p.accessLevel ?? v.accessLevel;
  const allowedProjects = accessLevel === "global" ? [] : [...new Set(p.allowedProjects ?? v.allowedProjects)];
  const errors = checkAccess(accessLevel, allowedProjects);
  let parameters = v.parameters;
  if (p.defaults) {
    for (const [name] of Object.entries(p.defaults)) {
      const param = v.parameters.find((x) => x.name === name);
      if (!param) errors.push({ field: `defaults.${name}`, message: `"${name}" is not a parameter of this bundle` });
      else if (param.kind === "credential") errors.push({ field: `defaults.${name}`, message: `"${name}" is a credential: credentials never have a default` });
    }
    const merged = Object.fromEntries(v.parameters.filter((x) => x.default !== undefined).map((x) => [x.name, x.default as string]));
    parameters = applyDefaults(v.parameters, { ...merged, ...p.defaults }).parameters;
  }
  if (errors.length) throw new ValidationError(errors);
  return { ...v, description: p.description ?? v.description, accessLevel, allowedProjects, parameters };
}
