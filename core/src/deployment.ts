import type { z } from "zod";
import { IO_DEFAULT_MAX_CHARS, deployRequestSchema, resourcesSchema, runtimeSchema, type DeployStep, type LogLevel, type NetworkAccess, type RecordIO } from "./api/deployments.js";
import type { TweaksPolicy } from "./api/tweaks-policy.js";
import type { BundleVersion } from "./bundle.js";
import { resolveEngine, type EngineChoice, type EngineName } from "./compatibility.js";
import type { FieldError } from "./errors.js";
import { modelChoiceKeys, parseModelChoice } from "./api/model-providers.js";
import { plainNamesAmong } from "./api/secret-parameters.js";
import type { ParameterKind } from "./parameters.js";
import { parseQuantity } from "./quantity.js";
import { reservedNameReason } from "./reserved-names.js";
import type { DeploymentStatus } from "./status.js";
import { fieldErrors } from "./validation.js";
import { NO_LIMITS, NO_SCALE_TO_ZERO, resolveLimits, resolveScaleToZero, type Limits, type ScaleToZero } from "./limits.js";

// The request schemas, limits and dialog steps are part of the API contract (./api/deployments.ts).
export {
  DISPLAY_NAME_MAX,
  MAX_REPLICAS,
  DEPLOY_STEPS,
  deployRequestSchema,
  deploymentPatchSchema,
  resourcesSchema,
  runtimeSchema,
  type DeployRequest,
  type DeploymentPatch,
  type DeployStep,
  type LogLevel,
  type NetworkAccess,
  type RecordIO,
  tweaksPolicySchema,
  IO_BOUNDS,
  IO_DEFAULT_MAX_CHARS,
} from "./api/deployments.js";

export { heldAfterEdit, plainNamesAmong } from "./api/secret-parameters.js";

export interface RuntimeConfig {
  engine: EngineChoice;
  logLevel: LogLevel;
  requestTimeoutSeconds: number;
  /** Rate and concurrency limits the gateway applies (limits.ts; docs/rate-limits-and-idle.md). */
  limits: Limits;
  /** Stop every replica after a while without requests (limits.ts; docs/rate-limits-and-idle.md). */
  scaleToZero: ScaleToZero;
  /**
   * Whether runs' inputs and outputs are kept with their traces (off by default), and the cut of
   * each value (docs/runs-and-logs.md). A replica setting: part of a revision; changing it rolls.
   */
  io: RecordIO;
  /** Which fields run requests may tweak (api/deployments.ts tweaksPolicySchema). A replica setting: part of a revision. */
  tweaksPolicy: TweaksPolicy;
}

/** Inputs and outputs are not kept unless a deployment opts in. */
export const NO_RECORD_IO: RecordIO = { record: false, maxChars: IO_DEFAULT_MAX_CHARS };

/**
 * The runtime settings the replicas run with: all but the gateway's (limits) and the idle
 * sweep's (scale to zero). Changing only those restarts nothing and makes no revision.
 */
export function replicaRuntime(r: RuntimeConfig): Omit<RuntimeConfig, "limits" | "scaleToZero"> {
  const { limits: _l, scaleToZero: _z, ...rest } = r;
  return rest;
}

export interface Resources {
  replicas: number;
  cpu: { request: string; limit: string };
  memory: { request: string; limit: string };
}

export const DEFAULT_RUNTIME: RuntimeConfig = { engine: "auto", logLevel: "info", requestTimeoutSeconds: 60, limits: NO_LIMITS, scaleToZero: NO_SCALE_TO_ZERO, io: NO_RECORD_IO, tweaksPolicy: "permissive" };
export const DEFAULT_RESOURCES: Resources = {
  replicas: 1,
  cpu: { request: "500m", limit: "1000m" },
  memory: { request: "512Mi", limit: "1Gi" },
};

/** Which request fields each dialog step owns (prefix match on the field path). */
const STEP_FIELDS: Record<Exclude<DeployStep, "review">, string[]> = {
  configure: ["displayName", "projectId", "networkAccess", "runtime", "bundle"],
  credentials: ["credentials", "parameters"],
  task: ["resources"],
};

export function errorsForStep(errors: FieldError[], step: DeployStep): FieldError[] {
  if (step === "review") return errors;
  const owned = STEP_FIELDS[step];
  // An error about the whole body (field "", e.g. no JSON object at all) belongs to every step.
  return errors.filter((e) => e.field === "" || owned.some((f) => e.field === f || e.field.startsWith(`${f}.`)));
}

export function resolveResources(input: z.infer<typeof resourcesSchema> | undefined, base: Resources = DEFAULT_RESOURCES): Resources {
  return {
    replicas: input?.replicas ?? base.replicas,
    cpu: { request: input?.cpu?.request ?? base.cpu.request, limit: input?.cpu?.limit ?? base.cpu.limit },
    memory: { request: input?.memory?.request ?? base.memory.request, limit: input?.memory?.limit ?? base.memory.limit },
  };
}

export function resolveRuntime(input: z.infer<typeof runtimeSchema> | undefined, base: RuntimeConfig = DEFAULT_RUNTIME): RuntimeConfig {
  return {
    engine: input?.engine ?? base.engine,
    logLevel: input?.logLevel ?? base.logLevel,
    requestTimeoutSeconds: input?.requestTimeoutSeconds ?? base.requestTimeoutSeconds,
    // Records stored before limits existed have none: `base.limits` may be missing.
    limits: resolveLimits(input?.limits, (base as Partial<RuntimeConfig>).limits),
    scaleToZero: resolveScaleToZero(input?.scaleToZero, (base as Partial<RuntimeConfig>).scaleToZero),
    // Records stored before inputs and outputs could be kept have no `io`: off.
    io: {
      record: input?.io?.record ?? (base as Partial<RuntimeConfig>).io?.record ?? NO_RECORD_IO.record,
      maxChars: input?.io?.maxChars ?? (base as Partial<RuntimeConfig>).io?.maxChars ?? NO_RECORD_IO.maxChars,
    },
    // Records stored before the setting existed took every tweak but Langflow's protected fields: permissive.
    tweaksPolicy: input?.tweaksPolicy ?? (base as Partial<RuntimeConfig>).tweaksPolicy ?? DEFAULT_RUNTIME.tweaksPolicy,
  };
}

/**
 * The largest request or limit a deployment may ask for: beyond any one node's size, and far
 * beyond what a replica needs. Without a bound, `1e400` parses as Infinity and a memory limit of
 * `99999999999999999999Ti` becomes a heap size Node refuses to start with.
 */
export const MAX_RESOURCES = { cpu: { value: 128, text: "128" }, memory: { value: 2 ** 40, text: "1Ti" } } as const;
/** The smallest memory limit a replica can start in (Node's heap alone needs about this much). */
export const MIN_MEMORY_LIMIT = { value: 128 * 2 ** 20, text: "128Mi" } as const;

export function checkResources(r: Resources): FieldError[] {
  const errors: FieldError[] = [];
  for (const kind of ["cpu", "memory"] as const) {
    const bounded = (q: string, which: "request" | "limit"): number | null => {
      const v = parseQuantity(q);
      if (v === null) return null;
      if (!Number.isFinite(v) || v > MAX_RESOURCES[kind].value) {
        errors.push({ field: `resources.${kind}.${which}`, message: `"${q}" is more than the largest ${kind} ${which} allowed (${MAX_RESOURCES[kind].text})` });
        return null;
      }
      return v;
    };
    const req = bounded(r[kind].request, "request");
    const lim = bounded(r[kind].limit, "limit");
    if (kind === "memory" && lim !== null && lim < MIN_MEMORY_LIMIT.value) {
      errors.push({ field: "resources.memory.limit", message: `must be at least ${MIN_MEMORY_LIMIT.text}: a replica cannot start in less` });
    }
    if (req === null && parseQuantity(r[kind].request) === null) errors.push({ field: `resources.${kind}.request`, message: `"${r[kind].request}" is not a Kubernetes quantity (e.g. ${kind === "cpu" ? "500m" : "512Mi"})` });
    if (lim === null && parseQuantity(r[kind].limit) === null) errors.push({ field: `resources.${kind}.limit`, message: `"${r[kind].limit}" is not a Kubernetes quantity (e.g. ${kind === "cpu" ? "1000m" : "1Gi"})` });
    if (req !== null && req <= 0) errors.push({ field: `resources.${kind}.request`, message: "must be greater than zero" });
    if (req !== null && lim !== null && req > lim) {
      errors.push({ field: `resources.${kind}.request`, message: `request ${r[kind].request} exceeds limit ${r[kind].limit}` });
    }
  }
  return errors;
}

/**
 * Checks values against the bundle's parameters: every credential present and non-empty,
 * no name the bundle does not declare, no credential passed as a plain parameter. A plain
 * parameter may be given under `credentials` (held secret: api/secret-parameters.ts), but not
 * under both, and then not empty (leaving it out is how its default is asked for).
 * `requireAll` is false for a patch, which changes only what it names.
 */
export function checkValues(version: BundleVersion, credentials: Record<string, string>, parameters: Record<string, string>, requireAll: boolean): FieldError[] {
  const errors: FieldError[] = [];
  const kinds = new Map<string, ParameterKind>(version.parameters.map((p) => [p.name, p.kind]));
  // A version stored before reserved names were refused at publish cannot be deployed as is.
  for (const p of version.parameters) {
    const reason = reservedNameReason(p.name);
    if (reason !== null) errors.push({ field: `${p.kind === "credential" ? "credentials" : "parameters"}.${p.name}`, message: `${version.name}@${version.versionTag} binds ${reason}; publish a version without it` });
  }
  // A model chosen at deploy time needs its provider's key, named as Langflow names it.
  for (const p of version.parameters) {
    if (p.kind !== "model") continue;
    const v = parameters[p.name] ?? p.default;
    const where = p.usedBy.map((u) => `node ${u.nodeId}, field ${u.field}`).join("; ");
    if (v === undefined || v.trim() === "") {
      if (requireAll || v !== undefined) errors.push({ field: `parameters.${p.name}`, message: `no model is selected in ${where}: choose one as <provider>/<model> (e.g. OpenAI/gpt-4o-mini)` });
      continue;
    }
    const choice = parseModelChoice(v);
    if ("error" in choice) errors.push({ field: `parameters.${p.name}`, message: choice.error });
  }
  // One definition of the keys the choices need (the CLI and the web dialog ask for the same ones).
  for (const key of modelChoiceKeys(version.parameters, parameters)) {
    kinds.set(key.name, "credential");
    if (requireAll && credentials[key.name] === undefined) {
      errors.push({ field: `credentials.${key.name}`, message: `a value for credential ${key.name} is required: ${key.choices.join(", ")} ${key.choices.length === 1 ? "chooses" : "choose"} a ${key.provider} model` });
    }
  }
  for (const p of version.parameters) {
    if (p.kind !== "credential") continue;
    const v = credentials[p.name];
    if ((requireAll && v === undefined) || (v !== undefined && v.length === 0)) {
      errors.push({ field: `credentials.${p.name}`, message: `a value for credential ${p.name} is required` });
    }
  }
  for (const name of Object.keys(credentials)) {
    if (reservedNameReason(name) !== null) continue; // refused with its reason by reservedKeyErrors
    const kind = kinds.get(name);
    if (kind === undefined) errors.push({ field: `credentials.${name}`, message: `"${name}" is not a parameter of ${version.name}@${version.versionTag}` });
    else if (kind === "model") errors.push({ field: `credentials.${name}`, message: `"${name}" is a model choice, not a credential: set it under parameters` });
    else if (kind === "plain" && parameters[name] !== undefined) {
      errors.push({ field: `credentials.${name}`, message: `"${name}" is given under both credentials and parameters: give it once (under credentials to keep it secret)` });
    } else if (kind === "plain" && credentials[name] === "") {
      errors.push({ field: `credentials.${name}`, message: `a value for ${name} is required to keep it secret; leave it out to use its default` });
    }
  }
  for (const name of Object.keys(parameters)) {
    if (reservedNameReason(name) !== null) continue;
    const kind = kinds.get(name);
    if (kind === undefined) errors.push({ field: `parameters.${name}`, message: `"${name}" is not a parameter of ${version.name}@${version.versionTag}` });
    else if (kind === "credential") errors.push({ field: `parameters.${name}`, message: `"${name}" is a credential: set it under credentials` });
  }
  return errors;
}

export function checkEngine(runtime: RuntimeConfig, version: BundleVersion): FieldError[] {
  const lfx = version.compatibility.lfx;
  // Versions stored before the lfx check have no `missing`: nothing is known against them.
  if (resolveEngine(runtime.engine, version.compatibility) === "lfx" && lfx.supported === false && Array.isArray(lfx.missing)) {
    const why = lfx.missing.map((m) => `${m.nodeId} (${m.type}): ${m.detail}`).join("; ");
    return [{ field: "runtime.engine", message: `lfx cannot run this bundle (${why})${version.compatibility.native.supported ? '; choose "native"' : ""}` }];
  }
  if (runtime.engine !== "native" || version.compatibility.native.supported) return [];
  const missing = [...new Set(version.compatibility.native.missing.map((m) => m.type))].join(", ");
  return [{ field: "runtime.engine", message: `the native engine cannot run this bundle (missing: ${missing}); choose "lfx" or "auto"` }];
}

/**
 * The credentials a deployment holds: the version's declared ones, plus the key of each
 * provider its model choices pick (`MODEL_<node>` = `OpenAI/...` needs OPENAI_API_KEY), plus
 * the plain parameters the deployer keeps secret (`held`).
 * `parameters` are the deployment's effective plain values (defaults merged with overrides).
 */
export function credentialNamesFor(version: BundleVersion, parameters: Record<string, string>, held: readonly string[] = []): string[] {
  const declared = version.parameters.filter((p) => p.kind === "credential").map((p) => p.name);
  const names = [...declared, ...modelChoiceKeys(version.parameters, parameters).map((k) => k.name)];
  return [...names, ...plainNamesAmong(version.parameters, held).filter((n) => !names.includes(n))];
}

/**
 * Effective plain parameter (and model choice) values: the version's defaults, then the
 * deployment's overrides. A plain parameter held as a credential (`held`) has none here, not
 * even its default: its value is the credential's.
 */
export function effectiveParameters(version: BundleVersion, overrides: Record<string, string>, held: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of version.parameters) {
    if (p.kind === "credential" || held.includes(p.name)) continue;
    const v = overrides[p.name] ?? p.default;
    if (v !== undefined) out[p.name] = v;
  }
  return out;
}

export function engineFor(runtime: RuntimeConfig, version: BundleVersion): EngineName {
  return resolveEngine(runtime.engine, version.compatibility);
}

/** zod errors of a deploy request, in the dialog's field names. */
export function parseDeployRequest(input: unknown) {
  const parsed = deployRequestSchema.safeParse(input);
  return parsed.success ? { ok: true as const, value: parsed.data } : { ok: false as const, errors: fieldErrors(parsed.error) };
}

export interface Deployment {
  id: string;
  projectId: string;
  displayName: string;
  /** DNS-1123 label (≤ 63): namespace / folder name; derived from displayName plus a unique suffix. */
  resourceName: string;
  appId: string;
  routes: { http: string; mcp: string };
  bundle: { name: string; version: string; digest: string };
  networkAccess: NetworkAccess;
  runtime: RuntimeConfig;
  /** Effective plain parameter (and model choice) values (defaults merged with overrides). */
  parameters: Record<string, string>;
  /** Only what the deployer set explicitly; kept so a version change re-applies the new defaults. */
  parameterOverrides: Record<string, string>;
  /**
   * Names of the credentials held for this deployment (declared, provider keys, and plain
   * parameters the deployer keeps secret); the values never leave the store decrypted except to the driver.
   */
  credentialNames: string[];
  resources: Resources;
  generation: number;
  /**
   * The current revision (1, 2, 3, ...): moves with every change of what runs, together with
   * the generation, and only with a revision record (the store keeps both in one transaction).
   * Scaling and the kill switch change neither.
   */
  revision: number;
  status: DeploymentStatus;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
  /** Set by undeploy: the desired state is "nothing runs". Never cleared. */
  deletionRequestedAt: string | null;
  /** Set once everything the deployment owned is gone; the record stays for audit. */
  deletedAt: string | null;
  /** The kill switch: set, the gateway answers 503 for the deployment (absent or null: enabled). */
  disabled?: DeploymentDisabled | null;
  /** Scaled to zero since this time (phase Idle; no replica runs); absent or null: awake. Not a new generation. */
  sleeping?: { since: string } | null;
  /**
   * Which revisions have replicas besides the current one, and which replicas run the current one
   * (live-revisions.ts, docs/revisions.md). Absent or null: only the current revision runs, on
   * replicas started for it.
   */
  traffic?: DeploymentTraffic | null;
}

/**
 * The live revisions of a deployment. Replicas are grouped by the revision they were started for
 * (`runs`): a rollback to revision n makes a new revision whose replicas are n's (same content),
 * so n's warm replicas serve it at once.
 */
export interface DeploymentTraffic {
  /** The revision the current revision's replicas are started for: the current one, or for a rollback the revision whose content it restored. */
  runs: number;
  /** A canary: the current revision gets `percent` (1..99) of the calls, `stable` (the revision before it) the rest. */
  canary: { stable: { revision: number; runs: number }; percent: number } | null;
  /** The revision that ran before the last change, kept warm (one replica) until `until`, for an instant rollback. */
  warm: { revision: number; runs: number; until: string } | null;
}

/** Who disabled a deployment, when, and whether its replicas were stopped too (or kept warm). */
export interface DeploymentDisabled {
  at: string;
  by: string;
  stopReplicas: boolean;
}
