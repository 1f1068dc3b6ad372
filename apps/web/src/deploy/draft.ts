import { IO_DEFAULT_MAX_CHARS, modelChoiceKeys, plainNamesAmong, type BundleVersion, type FieldError, type Resources, type RuntimeConfig, type DeployStep } from "@flowplane/core/api";


/** What the form holds: strings as typed, so the server can name a bad value instead of the form hiding it. */
export interface Draft {
  displayName: string;
  projectId: string;
  bundle: string;
  version: string;
  networkAccess: "public" | "private";
  engine: RuntimeConfig["engine"];
  logLevel: RuntimeConfig["logLevel"];
  timeout: string;
  /** Rate limits as typed; empty: no limit (LIMIT_FIELDS). */
  rateLimit: string;
  burst: string;
  maxConcurrent: string;
  keyRateLimit: string;
  keyBurst: string;
  keyMaxConcurrent: string;
  /** Scale to zero: minutes without a request (empty: never), and how long a request is held while it wakes. */
  idleMinutes: string;
  wakeTimeout: string;
  /** Keep runs' inputs and outputs with their traces (runtime.io; off by default), and the cut of each value as typed. */
  recordIO: boolean;
  ioMaxChars: string;
  /** Which fields a run request may set through tweaks (runtime.tweaksPolicy; permissive by default). */
  tweaksPolicy: RuntimeConfig["tweaksPolicy"];
  credentials: Record<string, string>;
  /** Plain parameter values as shown (prefilled with the version's defaults). */
  parameters: Record<string, string>;
  /**
   * Plain parameters the deployer keeps secret ("Keep secret"): their value is typed into
   * `credentials` and sent there, so the server holds it as a credential (api/secret-parameters.ts).
   */
  secret: string[];
  replicas: string;
  cpuRequest: string;
  cpuLimit: string;
  memoryRequest: string;
  memoryLimit: string;
}

export const DEFAULT_RESOURCES: Resources = { replicas: 1, cpu: { request: "500m", limit: "1000m" }, memory: { request: "512Mi", limit: "1Gi" } };

export function initialDraft(bundle: string, version: string, projectId: string): Draft {
  return {
    displayName: "", projectId, bundle, version, networkAccess: "public", engine: "auto", logLevel: "info", timeout: "60",
    rateLimit: "", burst: "", maxConcurrent: "", keyRateLimit: "", keyBurst: "", keyMaxConcurrent: "",
    idleMinutes: "", wakeTimeout: "60", recordIO: false, ioMaxChars: String(IO_DEFAULT_MAX_CHARS), tweaksPolicy: "permissive",
    credentials: {}, parameters: {}, secret: [],
    replicas: String(DEFAULT_RESOURCES.replicas),
    cpuRequest: DEFAULT_RESOURCES.cpu.request, cpuLimit: DEFAULT_RESOURCES.cpu.limit,
    memoryRequest: DEFAULT_RESOURCES.memory.request, memoryLimit: DEFAULT_RESOURCES.memory.limit,
  };
}

/** A whole number as a number; anything else as typed, so the server's message names it. */
const num = (s: string): number | string => (/^\s*-?\d+\s*$/.test(s) ? Number(s) : s);

/** The rate-limit fields of the runtime step: which draft key holds which API field. */
export const LIMIT_FIELDS: readonly { key: "rateLimit" | "burst" | "maxConcurrent" | "keyRateLimit" | "keyBurst" | "keyMaxConcurrent"; scope: "deployment" | "perKey"; field: "requestsPerSecond" | "burst" | "maxConcurrent"; label: string; hint: string }[] = [
  { key: "rateLimit", scope: "deployment", field: "requestsPerSecond", label: "Requests per second", hint: "e.g. 10 or 0.5" },
  { key: "burst", scope: "deployment", field: "burst", label: "Burst", hint: "Default: the rate, rounded up" },
  { key: "maxConcurrent", scope: "deployment", field: "maxConcurrent", label: "Max concurrent", hint: "Requests in flight at once" },
  { key: "keyRateLimit", scope: "perKey", field: "requestsPerSecond", label: "Requests per second", hint: "For each key on its own" },
  { key: "keyBurst", scope: "perKey", field: "burst", label: "Burst", hint: "Default: the rate, rounded up" },
  { key: "keyMaxConcurrent", scope: "perKey", field: "maxConcurrent", label: "Max concurrent", hint: "Per key, in flight at once" },
];

/**
 * The choices of `runtime.tweaksPolicy` (Langflow 1.13's `tweaks_policy`): which fields a run
 * request may set through `tweaks`, as the dialog, Review and the details page word them. Keyed
 * by the contract's values, so a value added there is a type error here until it is worded.
 */
export const TWEAKS_CHOICES: Record<RuntimeConfig["tweaksPolicy"], { label: string; hint: string }> = {
  permissive: { label: "Permissive (default)", hint: "A run request may tweak any field but Langflow's protected ones (code, queries, database URLs)." },
  declared: { label: "Declared fields only", hint: "Only the fields the flow's author marked editable via API in Langflow; a flow with none marked stays permissive." },
  off: { label: "Off", hint: "No tweaks at all; a run request's input and session id still reach the flow." },
};

/** `runtime.limits` of the request: only the fields typed; a decimal number as a number, anything else as typed. */
function limitsOf(d: Draft) {
  const out: Record<string, Record<string, number | string>> = {};
  for (const f of LIMIT_FIELDS) {
    const v = d[f.key].trim();
    if (v === "") continue;
    (out[f.scope] ??= {})[f.field] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return Object.keys(out).length ? out : undefined;
}

/** `runtime.scaleToZero`: sent when minutes are typed; a decimal number as a number, anything else as typed. */
function scaleToZeroOf(d: Draft) {
  const minutes = d.idleMinutes.trim();
  if (minutes === "") return undefined;
  return { idleMinutes: /^\d+(\.\d+)?$/.test(minutes) ? Number(minutes) : minutes, wakeTimeoutSeconds: num(d.wakeTimeout) };
}

/**
 * The request body of POST /projects/{p}/deployments. Plain parameters are sent only where
 * they differ from the version's default; empty credentials are left out, so the server
 * reports them as missing. A plain parameter kept secret goes under credentials, and only when
 * a value is typed (left empty, its published default applies, in the clear as any default).
 */
export function toRequest(d: Draft, version: BundleVersion | null) {
  const secret = secretParameters(d, version);
  const defaults = new Map((version?.parameters ?? []).filter((p) => p.kind !== "credential" && !secret.includes(p.name)).map((p) => [p.name, p.default]));
  const parameters = Object.fromEntries(Object.entries(d.parameters).filter(([k, v]) => defaults.has(k) && v !== (defaults.get(k) ?? "")));
  // Values typed for another version's credentials (or for a provider no longer chosen) are not
  // sent: this deployment does not need them.
  const known = version ? new Set([...credentialFields(d, version).map((c) => c.name), ...secret]) : null;
  const credentials = Object.fromEntries(Object.entries(d.credentials).filter(([k, v]) => v !== "" && (!known || known.has(k))));
  return {
    displayName: d.displayName,
    bundle: { name: d.bundle, version: d.version },
    networkAccess: d.networkAccess,
    runtime: { engine: d.engine, logLevel: d.logLevel, requestTimeoutSeconds: num(d.timeout), ...(limitsOf(d) ? { limits: limitsOf(d) } : {}), ...(scaleToZeroOf(d) ? { scaleToZero: scaleToZeroOf(d) } : {}),
      ...(d.recordIO ? { io: { record: true, maxChars: num(d.ioMaxChars) } } : {}), tweaksPolicy: d.tweaksPolicy },
    credentials,
    ...(Object.keys(parameters).length ? { parameters } : {}),
    resources: {
      replicas: num(d.replicas),
      cpu: { request: d.cpuRequest, limit: d.cpuLimit },
      memory: { request: d.memoryRequest, limit: d.memoryLimit },
    },
  };
}

/** A credential the dialog asks for: declared by the version, or the key of a chosen model's provider. */
export interface CredentialField {
  name: string;
  /** For a provider key: the provider and the model choices that pick it. */
  forChoice?: { provider: string; choices: string[] };
}

/**
 * The credentials this deployment needs, as the server's validation counts them: the version's
 * declared ones, then the key of each provider a model choice picks (the shared
 * `modelChoiceKeys`, which the server's `checkValues` also calls). A key appears as soon as the
 * typed choice names a provider that needs one, and goes when the choice changes.
 */
export function credentialFields(d: Draft, version: BundleVersion): CredentialField[] {
  const declared: CredentialField[] = version.parameters.filter((p) => p.kind === "credential").map((p) => ({ name: p.name }));
  const keys = modelChoiceKeys(version.parameters, d.parameters).map((k) => ({ name: k.name, forChoice: { provider: k.provider, choices: k.choices } }));
  return [...declared, ...keys];
}

/** The plain parameters of this version the deployer keeps secret (a name checked for another version is not one). */
export function secretParameters(d: Pick<Draft, "secret">, version: BundleVersion | null): string[] {
  return version ? plainNamesAmong(version.parameters, d.secret) : [];
}

/**
 * "Keep secret" checked or cleared for a plain parameter: the value typed so far moves with it,
 * from the clear field to the credential (password) field or back, so nothing is typed twice.
 */
export function keepSecret(d: Draft, name: string, on: boolean): Partial<Draft> {
  const { [name]: typed, ...rest } = on ? d.parameters : d.credentials;
  const moved = typed !== undefined && typed !== "" ? { [name]: typed } : {};
  return on
    ? { secret: [...d.secret.filter((n) => n !== name), name], parameters: rest, credentials: { ...d.credentials, ...moved } }
    : { secret: d.secret.filter((n) => n !== name), credentials: rest, parameters: { ...d.parameters, ...moved } };
}

/** Which step shows a field's message (the server's own split: errorsForStep). */
export function stepOfField(field: string): DeployStep {
  if (field.startsWith("credentials") || field.startsWith("parameters")) return "credentials";
  if (field.startsWith("resources")) return "task";
  return "configure";
}

export const fieldMessage = (errors: FieldError[], field: string): string | undefined => errors.find((e) => e.field === field)?.message;

/** The form field a server message is about (field paths are the API's, the draft's keys are the form's). */
const FORM_KEY: Record<string, keyof Draft> = {
  displayName: "displayName", projectId: "projectId", networkAccess: "networkAccess",
  "runtime.engine": "engine", "runtime.logLevel": "logLevel", "runtime.requestTimeoutSeconds": "timeout",
  ...Object.fromEntries(LIMIT_FIELDS.map((f) => [`runtime.limits.${f.scope}.${f.field}`, f.key])),
  "runtime.scaleToZero.idleMinutes": "idleMinutes", "runtime.scaleToZero.wakeTimeoutSeconds": "wakeTimeout",
  "runtime.io.record": "recordIO", "runtime.io.maxChars": "ioMaxChars", "runtime.tweaksPolicy": "tweaksPolicy",
  "resources.replicas": "replicas", "resources.cpu.request": "cpuRequest", "resources.cpu.limit": "cpuLimit",
  "resources.memory.request": "memoryRequest", "resources.memory.limit": "memoryLimit",
};

/** `credentials.NAME` and `parameters.NAME` stand for themselves; other fields map to one form key. */
export function formKeyOf(field: string): string {
  if (field.startsWith("credentials.") || field.startsWith("parameters.")) return field;
  return FORM_KEY[field] ?? field;
}

function formValue(d: Draft, key: string): string {
  if (key.startsWith("credentials.")) return d.credentials[key.slice(12)] ?? "";
  if (key.startsWith("parameters.")) return d.parameters[key.slice(11)] ?? "";
  const v = (d as unknown as Record<string, unknown>)[key];
  return typeof v === "string" ? v : "x";
}

/** The form keys a change touches: named credentials and parameters one by one. */
export function touchedBy(d: Draft, patch: Partial<Draft>): string[] {
  return Object.entries(patch).flatMap(([k, v]) => {
    if ((k === "credentials" || k === "parameters") && v && typeof v === "object") {
      const before = d[k];
      return Object.entries(v as Record<string, string>).filter(([n, x]) => before[n] !== x).map(([n]) => `${k}.${n}`);
    }
    return [k];
  });
}

/**
 * Messages worth showing now: a field the user has not touched yet and that is still empty is
 * not an error to shout about (Next stays disabled all the same); everything else, and
 * everything on Review, is shown as the server said it.
 */
export function visibleErrors(errors: FieldError[], d: Draft, touched: ReadonlySet<string>, review: boolean): FieldError[] {
  if (review) return errors;
  return errors.filter((e) => {
    const key = formKeyOf(e.field);
    return e.field === "" || touched.has(key) || formValue(d, key) !== "";
  });
}
