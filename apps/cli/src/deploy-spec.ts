import type { Command } from "commander";
import { DEPLOY_STEPS, tweaksPolicySchema, type DeployDraft, type DeployStep, type Deployment, type DryRun } from "@flowplane/core/api";
import type { ApiClient } from "./client.js";
import { CREDENTIAL_HELP, parseAssignments } from "./credentials.js";
import { CliError, Exit, usageError } from "./errors.js";

/** The flags that carry the dialog's fields; shared by deploy (all), edit (runtime) and scale (resources). */
export interface SpecFlags {
  name?: string;
  bundle?: string;
  network?: string;
  engine?: string;
  logLevel?: string;
  timeout?: string;
  rateLimit?: string;
  burst?: string;
  maxConcurrent?: string;
  keyRateLimit?: string;
  keyBurst?: string;
  keyMaxConcurrent?: string;
  idleAfter?: string;
  wakeTimeout?: string;
  recordIo?: boolean;
  ioMaxChars?: string;
  tweaksPolicy?: string;
  param?: string[];
  credential?: string[];
  replicas?: string;
  cpuRequest?: string;
  cpuLimit?: string;
  memoryRequest?: string;
  memoryLimit?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function addRuntimeOptions(c: Command): Command {
  return c
    .option("--engine <engine>", "flow engine: auto, native or lfx (default auto)")
    .option("--log-level <level>", "runtime log level: debug, info, warn or error (default info)")
    .option("--timeout <seconds>", "request timeout of a flow run, in seconds (default 60)")
    .option("--rate-limit <rps>", "requests per second to this deployment, all callers together; none: no limit (default none)")
    .option("--burst <n>", "requests at once after a quiet spell, with --rate-limit (default: the rate, rounded up)")
    .option("--max-concurrent <n>", "requests in flight at once to this deployment; none: no limit (default none)")
    .option("--key-rate-limit <rps>", "requests per second for each access key on its own; none: no limit (default none)")
    .option("--key-burst <n>", "each key's burst, with --key-rate-limit (default: the rate, rounded up)")
    .option("--key-max-concurrent <n>", "requests in flight at once per access key; none: no limit (default none)")
    .option("--idle-after <minutes>", "scale to zero: stop every replica after this many minutes without a request; none: never (default none)")
    .option("--wake-timeout <seconds>", "how long the gateway holds a request while the deployment wakes (default 60)")
    .option("--record-io", "keep each run's input and output and each component's inputs and outputs with its trace, credential values and access keys redacted (default off)")
    .option("--no-record-io", "stop keeping inputs and outputs")
    .option("--io-max-chars <n>", "with --record-io: cut each kept value to this many characters, 16..65536 (default 2048)")
    .option("--tweaks-policy <policy>", "which fields a run request may set through tweaks: permissive (any but Langflow's protected fields; the default), declared (only those the flow's author marked editable via API; a flow with none marked stays permissive) or off (none; the input and session id still reach the flow)");
}

export function addValueOptions(c: Command): Command {
  return c
    .option("--param <NAME=VALUE>", "set a parameter (overrides its publish default); repeatable", collect)
    .option("--credential <spec>", `set a credential, or a plain parameter to keep secret: ${CREDENTIAL_HELP}`, collect);
}

export function addResourceOptions(c: Command): Command {
  return c
    .option("--replicas <n>", "replicas, 1..5 (default 1)")
    .option("--cpu-request <q>", "CPU request, a Kubernetes quantity (default 500m)")
    .option("--cpu-limit <q>", "CPU limit (default 1000m)")
    .option("--memory-request <q>", "memory request (default 512Mi)")
    .option("--memory-limit <q>", "memory limit (default 1Gi)");
}

/** `NAME[@VERSION]`; the version defaults to `latest`, which the server pins at deploy time. */
export function parseBundleRef(ref: string): { name: string; version: string } {
  const at = ref.lastIndexOf("@");
  const [name, version] = at > 0 ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, "latest"];
  if (!name || !version) throw usageError(`--bundle ${ref}: use NAME or NAME@VERSION`);
  return { name, version };
}

/**
 * Numbers are passed as numbers; anything else is passed as typed, so the server's own
 * validation message ("replicas must be a number") is the one the user reads, as in the dialog.
 */
const numberish = (v: string): number | string => (/^-?\d+$/.test(v.trim()) ? Number(v) : v);

function clean<T extends object>(o: T): T | undefined {
  const entries = Object.entries(o).filter(([, v]) => v !== undefined && !(typeof v === "object" && v !== null && Object.keys(v).length === 0));
  return entries.length ? (Object.fromEntries(entries) as T) : undefined;
}

/** A limit flag: `none` clears the limit (null), a number is passed as a number, anything else as typed (the server says why). */
const limitValue = (v: string | undefined): number | string | null | undefined =>
  v === undefined ? undefined : v.trim() === "none" ? null : /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;

/** The tweaks policies, the contract's own list: permissive, declared, off. */
export const TWEAKS_POLICIES: readonly string[] = tweaksPolicySchema.options;

/** `--tweaks-policy`: one of the contract's values, checked here so a typo is named before anything is sent (the server checks too). */
function tweaksPolicyOf(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!TWEAKS_POLICIES.includes(v)) throw usageError(`--tweaks-policy ${v}: choose ${TWEAKS_POLICIES.slice(0, -1).join(", ")} or ${TWEAKS_POLICIES.at(-1)}`);
  return v;
}

export function runtimeFrom(f: SpecFlags): DeployDraft["runtime"] {
  const limits = clean({
    deployment: clean({ requestsPerSecond: limitValue(f.rateLimit), burst: limitValue(f.burst), maxConcurrent: limitValue(f.maxConcurrent) }),
    perKey: clean({ requestsPerSecond: limitValue(f.keyRateLimit), burst: limitValue(f.keyBurst), maxConcurrent: limitValue(f.keyMaxConcurrent) }),
  });
  const scaleToZero = clean({ idleMinutes: limitValue(f.idleAfter), wakeTimeoutSeconds: f.wakeTimeout === undefined ? undefined : numberish(f.wakeTimeout) });
  const io = clean({ record: f.recordIo, maxChars: f.ioMaxChars === undefined ? undefined : numberish(f.ioMaxChars) });
  return clean({ engine: f.engine, logLevel: f.logLevel, requestTimeoutSeconds: f.timeout === undefined ? undefined : numberish(f.timeout), limits, scaleToZero, io, tweaksPolicy: tweaksPolicyOf(f.tweaksPolicy) });
}

export function resourcesFrom(f: SpecFlags): DeployDraft["resources"] {
  return clean({
    replicas: f.replicas === undefined ? undefined : numberish(f.replicas),
    cpu: clean({ request: f.cpuRequest, limit: f.cpuLimit }),
    memory: clean({ request: f.memoryRequest, limit: f.memoryLimit }),
  });
}

/** The deploy request the flags describe (credentials already read from their sources). */
export function requestFrom(f: SpecFlags, credentials: Record<string, string>): DeployDraft {
  const parameters = parseAssignments(f.param ?? [], "--param");
  const req: DeployDraft = { credentials };
  if (f.name !== undefined) req.displayName = f.name;
  if (f.bundle !== undefined) req.bundle = parseBundleRef(f.bundle);
  req.networkAccess = f.network ?? "public";
  const runtime = runtimeFrom(f);
  if (runtime) req.runtime = runtime;
  if (Object.keys(parameters).length) req.parameters = parameters;
  const resources = resourcesFrom(f);
  if (resources) req.resources = resources;
  return req;
}

/** The server's validation of one step (the dialog's Next button), without deploying anything. */
export async function dryRun(client: ApiClient, projectId: string, req: DeployDraft, step: DeployStep): Promise<DryRun> {
  const r = await client.do("createDeployment", { params: { projectId }, query: { dryRun: "true", step }, body: req });
  if (!("valid" in r)) throw new CliError(Exit.unexpected, "the server deployed where a dry run was asked: is it a flowplane server?");
  return r;
}

/** Deploys for real: the answer is the new deployment. */
export async function createDeployment(client: ApiClient, projectId: string, req: DeployDraft): Promise<Deployment> {
  const r = await client.do("createDeployment", { params: { projectId }, body: req });
  if ("valid" in r) throw new CliError(Exit.unexpected, "the server answered a dry run where a deployment was asked: is it a flowplane server?");
  return r;
}

/** Every step but Review, validated by the server; the errors grouped under the step that owns them. */
export async function validateSteps(client: ApiClient, projectId: string, req: DeployDraft): Promise<{ step: (typeof DEPLOY_STEPS)[number]; errors: DryRun["errors"] }[]> {
  const steps = DEPLOY_STEPS.filter((s) => s.step !== "review");
  const results = await Promise.all(steps.map((s) => dryRun(client, projectId, req, s.step)));
  return steps.map((step, i) => ({ step, errors: results[i]!.errors })).filter((r) => r.errors.length > 0);
}
