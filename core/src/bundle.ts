import { FLOW_ID_MAX, publishRequestSchema, versionPatchSchema, type AccessLevel } from "./api/bundles.js";
import { UNSHOWABLE } from "./api/common.js";
import { compatibilityReport, type CompatibilityReport } from "./compatibility.js";
import { UnprocessableFlowError, ValidationError, type FieldError } from "./errors.js";
import { bundleDigest, componentTypes, parseFlow, type Flow } from "./flow.js";
import { checkReservedParameters, reservedKeyErrors, valueErrors } from "./parameter-values.js";
import { applyDefaults, extractParameters, publishWarnings, type Parameter, type PublishWarning } from "./parameters.js";
import { reservedNameReason } from "./reserved-names.js";
import { fieldErrors } from "./validation.js";

// The request schemas and limits are part of the API contract (./api/bundles.ts).
export {
  BUNDLE_NAME_MAX,
  VERSION_TAG_MAX,
  MAX_FLOWS_PER_BUNDLE,
  LATEST,
  bundleNameSchema,
  versionTagSchema,
  accessLevelSchema,
  publishRequestSchema,
  versionPatchSchema,
  type AccessLevel,
  type PublishRequest,
  type VersionPatch,
} from "./api/bundles.js";

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
  /**
   * The project that published the version: its owners and editors may edit the version's
   * access, description and defaults. Null for versions only org owners manage (published by
   * an org owner without a project, or global versions published before this was recorded).
   */
  projectId: string | null;
}

export type NewBundleVersion = Omit<BundleVersion, "createdAt"> & {
  rawFlows: unknown[];
  /** `rawFlows` as JSON text, when it was already written off the event loop (the store writes it as it is). */
  rawFlowsJson?: string;
};

/**
 * Access rules that hold for a new version and for an edited one. `allowedProjects`: for
 * `project`, the list the version will have; for `global`, the list the caller gave. A global
 * version is visible to every project, so a list given with it was dropped without a word, and a
 * publisher who meant to share with a few projects shared with all: it is refused instead
 * (an empty list is no list).
 */
export function checkAccess(accessLevel: AccessLevel, allowedProjects: string[] | undefined): FieldError[] {
  if (accessLevel === "project" && (allowedProjects ?? []).length === 0) {
    return [{ field: "allowedProjects", message: 'access level "project" needs at least one project' }];
  }
  if (accessLevel === "global" && (allowedProjects ?? []).length > 0) {
    return [{ field: "allowedProjects", message: 'a version with access level "global" is visible to every project; allowedProjects applies to access level "project" only (set accessLevel to "project" to share it with these projects alone)' }];
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
  checkAddressable(flows);
  checkEndpointNames(flows);
  const extracted = extractParameters(flows);
  checkReservedParameters(flows, extracted);
  const defaults = req.defaults ?? {};
  const defaultErrors = [...reservedKeyErrors("defaults", defaults), ...valueErrors({ defaults })];
  if (defaultErrors.length) throw new ValidationError(defaultErrors);
  const { parameters, unknown: unknownNames } = applyDefaults(extracted, defaults);
  const unknown = unknownNames.filter((n) => reservedNameReason(n) === null);
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
    projectId: req.projectId ?? (req.accessLevel === "project" ? req.allowedProjects?.[0] ?? null : null),
    digest: bundleDigest(req.flows),
    parameters,
    flows: flows.map((f) => summarizeFlow(f, warnings)),
    compatibility: compatibilityReport(flows),
    warnings,
    createdBy,
    rawFlows: req.flows,
  };
}

/**
 * A flow's id and endpoint name are path segments of every URL that runs it. A `.` or `..`
 * segment in one (`..`, `a/..`, `.\\b`) can never arrive: clients resolve dot segments before
 * sending (WHATWG URL does, `%2E` included) and the gateway refuses any `..` segment as a path
 * traversal. Such a flow would publish and deploy, then answer no call: refused at publish.
 */
function checkAddressable(flows: readonly Flow[]): void {
  for (const f of flows) {
    // Bounded as every other path segment is (FLOW_ID_MAX says why): an id longer than any the
    // API's router takes was published, then answered 400 wherever it named the flow.
    if (f.id.length > FLOW_ID_MAX) {
      throw new UnprocessableFlowError(
        `flow "${f.name}" has an id of ${f.id.length} characters: a flow id may have at most ${FLOW_ID_MAX} (Langflow's are UUIDs, 36). Give the flow a shorter id`,
        [{ flowId: f.id, field: "id" }],
      );
    }
    for (const [field, value] of [["id", f.id], ["endpoint_name", f.endpointName]] as const) {
      // Shown to everyone who may run the flow (the UI, the CLI's tables, MCP tool lists), as
      // names are: no control character, no bidirectional override (api/common.ts UNSHOWABLE).
      // Checked at publish only: a replica still loads a version published before.
      if (value !== null && UNSHOWABLE.test(value)) {
        throw new UnprocessableFlowError(
          `flow "${f.name}" has ${field === "id" ? "an id" : "an endpoint name"} holding a control character or a bidirectional override: it is shown to whoever runs the flow and would read as something else. Give the flow another ${field === "id" ? "id" : "endpoint name"} in Langflow`,
          [{ flowId: f.id, field }],
        );
      }
      if (value === null || !value.split(/[/\\]/).some((s) => s === "." || s === "..")) continue;
      throw new UnprocessableFlowError(
        `flow "${f.name}" has the ${field === "id" ? "id" : "endpoint name"} "${value}": a "." or ".." path segment cannot be part of a URL that runs it. Give the flow another ${field === "id" ? "id" : "endpoint name"} in Langflow`,
        [{ flowId: f.id, field }],
      );
    }
    // The flow's name too, shown in the flow graph's title and the MCP tool list: a bidirectional
    // override in it reversed the text drawn after it there. Named by its id (checked above), so
    // the message itself holds no such character.
    if (UNSHOWABLE.test(f.name)) {
      throw new UnprocessableFlowError(
        `the flow with id ${f.id} has a name holding a control character or a bidirectional override: it is shown to whoever runs the flow and would read as something else. Rename the flow in Langflow`,
        [{ flowId: f.id, field: "name" }],
      );
    }
  }
}

/**
 * The run API names a flow by its id or its endpoint name (`/api/v1/run/{id or endpoint name}`),
 * the id first: an endpoint name that two flows share, or that is another flow's id, would leave
 * one of them unreachable by it, the other one running instead without a word. Langflow keeps
 * endpoint names unique as well.
 */
function checkEndpointNames(flows: readonly Flow[]): void {
  const byName = new Map<string, Flow>();
  for (const f of flows) {
    if (f.endpointName === null) continue;
    const other = byName.get(f.endpointName) ?? flows.find((g) => g !== f && g.id === f.endpointName);
    if (other) {
      const what = other.id === f.endpointName ? "the id of" : "also the endpoint name of";
      throw new UnprocessableFlowError(
        `flow "${f.name}" (${f.id}) has the endpoint name "${f.endpointName}", which is ${what} flow "${other.name}" (${other.id}): a run by that name could reach only one of them. Give each flow its own endpoint name in Langflow`,
        [{ flowId: f.id, field: "endpoint_name" }, { flowId: other.id, field: other.id === f.endpointName ? "id" : "endpoint_name" }],
      );
    }
    byName.set(f.endpointName, f);
  }
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
  const errors = checkAccess(accessLevel, accessLevel === "global" ? p.allowedProjects : allowedProjects);
  let parameters = v.parameters;
  if (p.defaults) {
    errors.push(...reservedKeyErrors("defaults", p.defaults), ...valueErrors({ defaults: p.defaults }));
    for (const [name] of Object.entries(p.defaults)) {
      const param = v.parameters.find((x) => x.name === name);
      if (reservedNameReason(name) !== null) continue; // reported above
      if (!param) errors.push({ field: `defaults.${name}`, message: `"${name}" is not a parameter of this bundle` });
      else if (param.kind === "credential") errors.push({ field: `defaults.${name}`, message: `"${name}" is a credential: credentials never have a default` });
    }
    const merged = Object.fromEntries(v.parameters.filter((x) => x.default !== undefined).map((x) => [x.name, x.default as string]));
    parameters = applyDefaults(v.parameters, { ...merged, ...p.defaults }).parameters;
  }
  if (errors.length) throw new ValidationError(errors);
  return { ...v, description: p.description ?? v.description, accessLevel, allowedProjects, parameters };
}
