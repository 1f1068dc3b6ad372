import { CREDENTIAL_NAMES_ENV, GATEWAY_SECRET_ENV, IO_BOUNDS, IO_MAX_CHARS_ENV, PARAMETER_NAMES_ENV, REVISION_ENV, SECRET_PARAMETER_NAMES_ENV, TWEAKS_POLICIES, TWEAKS_POLICY_ENV, reservedNameReason, type TweaksPolicy } from "@flowplane/core/replica";
// The parser alone, not the lfx engine: a native replica never loads the lfx adapter.
import { parseModelHosts } from "@flowplane/engine-lfx/model-hosts";

/**
 * The runtime's configuration, read from the environment once (in main.ts) and validated here.
 * See README.md for the contract. The deployment's parameters (Langflow global variables) are
 * the variables FLOWPLANE_PARAMETER_NAMES lists, and only those: they go to the engine, never
 * to a log. The rest of the environment (PATH, HOME, proxies, Kubernetes' service variables)
 * configures the process, not the flow.
 *
 * Checked by hand rather than with a zod schema: this is the one place a replica would need zod
 * before it serves, and zod's module graph costs it about 14 MiB and a quarter of a second of its
 * cold start (issue #16). Every problem is collected, each named by its variable, never its value.
 */
class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  private problem(name: string, message: string): undefined {
    this.problems.push(`${name}: ${message}`);
    return undefined;
  }

  /** A non-empty string, or undefined when unset. */
  text(name: string): string | undefined {
    const v = this.env[name];
    if (v === undefined) return undefined;
    return v.length > 0 ? v : this.problem(name, "must not be empty");
  }

  /** A whole number in [min, max] (an empty value reads as 0, as before), or undefined when unset. */
  int(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.env[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n)) return this.problem(name, "must be a whole number");
    if (n < min || n > max) return this.problem(name, max === Number.MAX_SAFE_INTEGER ? `must be at least ${min}` : `must be from ${min} to ${max}`);
    return n;
  }

  /** One of `values`, or undefined when unset. */
  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const v = this.env[name];
    if (v === undefined) return undefined;
    return (values as readonly string[]).includes(v) ? (v as T) : this.problem(name, `must be one of ${values.join(", ")}`);
  }

  /** A value `parse` accepts (it throws with the reason otherwise), or undefined when unset. */
  parsed<T>(name: string, parse: (v: string) => T): T | undefined {
    const v = this.env[name];
    if (v === undefined) return undefined;
    try {
      return parse(v);
    } catch (err) {
      return this.problem(name, (err as Error).message);
    }
  }

  fail(message: string): void {
    this.problems.push(`environment: ${message}`);
  }
}

/** FLOWPLANE_PARAMETER_NAMES, FLOWPLANE_CREDENTIAL_NAMES: a JSON array of names (empty or unset: none). */
function parameterNames(v: string): string[] {
  if (v === "") return [];
  let names: unknown;
  try {
    names = JSON.parse(v);
  } catch {
    // reported below
  }
  if (Array.isArray(names) && names.every((n) => typeof n === "string")) return names as string[];
  throw new Error("must be a JSON array of variable names");
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export type BundleSource =
  | { kind: "url"; url: string; token: { value: string } | { file: string } | null; retries: number; retryBaseMs: number; retryMaxMs: number }
  | { kind: "path"; path: string };

export interface RuntimeConfig {
  bundle: BundleSource;
  expectedVersion: string | null;
  expectedDigest: string | null;
  host: string;
  port: number;
  /**
   * A listening socket inherited under this descriptor, served instead of binding host:port
   * (FLOWPLANE_RUNTIME_FD: the local driver binds a replica's ports itself, so that no other
   * process can take them before the replica does).
   */
  fd?: number;
  /**
   * `/health` and `/ready` also on this port, a listener of their own that no run queues them
   * behind (probes/probe-server.ts), or on the inherited socket `fd` (FLOWPLANE_PROBE_FD); null:
   * only on the main port.
   */
  probes: { port: number; fd?: number } | null;
  engine: "auto" | "native" | "lfx";
  /**
   * The lfx engine: its executable (null: where scripts/setup-lfx.sh installs it), start-up
   * limit, the model hosts on loopback/private networks it may call (FLOWPLANE_MODEL_HOSTS),
   * and the process environment `lfx serve` starts from: what is neither a runtime setting nor
   * a parameter (PATH, HOME, the operator's proxies...); the parameters come on top.
   */
  lfx: { bin: string | null; startTimeoutMs: number; processEnv: Record<string, string>; modelHosts: string[] };
  logLevel: LogLevel;
  /**
   * Fields on every log line: the deployment and the replica this process is (the driver sets
   * FLOWPLANE_DEPLOYMENT_ID and FLOWPLANE_REPLICA), so its lines read like the control plane's.
   * Empty for a runtime started by hand.
   */
  logBindings: { deploymentId?: string; replica?: string };
  /** The deployment's revision this replica runs (FLOWPLANE_REVISION), named on every answer; null when not given. */
  revision: number | null;
  requestTimeoutMs: number;
  shutdownGraceMs: number;
  /**
   * After SIGTERM, how long the replica keeps serving (answering with `Connection: close`)
   * before it waits out in-flight requests and closes: requests already on their way from a
   * gateway that has not yet stopped routing here are served, not reset.
   */
  drainDelayMs: number;
  maxBodyBytes: number;
  /**
   * The secret every request but the probes must carry (the gateway adds it); null: every
   * caller is served, for a runtime started by hand (a driver always sets it).
   */
  gatewaySecret: string | null;
  /** The deployment's parameters: the variables FLOWPLANE_PARAMETER_NAMES lists, reserved names left out. Values never logged. */
  parameters: Record<string, string>;
  /** Listed parameter names left out because they are reserved (names only, for a warning). */
  droppedParameters: string[];
  /**
   * Plain parameters the deployment keeps secret (FLOWPLANE_SECRET_PARAMETER_NAMES): requests
   * treat them as credentials (http/secret-holders.ts). Empty: none.
   */
  secretParameters: string[];
  /**
   * Where the replica sends its runs' traces (traces.ts): beside the bundle it downloads, with
   * the same identity token (`.../deployments/{id}/bundle` -> `.../traces`). Null for a runtime
   * started from a bundle file, which has no control plane to send them to.
   */
  traces: { url: string; token: { value: string } | { file: string } | null } | null;
  /**
   * Runs' inputs and outputs kept with their traces (the deployment's runtime.io; FLOWPLANE_IO_MAX_CHARS
   * set), each value cut to `maxChars`, after every value in `secrets` (the credentials
   * FLOWPLANE_CREDENTIAL_NAMES names, the gateway secret, the identity token) is replaced. Null: none kept.
   */
  io: { maxChars: number; secrets: string[] } | null;
  /** Which fields run requests may tweak (the deployment's runtime.tweaksPolicy; FLOWPLANE_TWEAKS_POLICY, default permissive). */
  tweaksPolicy: TweaksPolicy;
}

/** Validates the environment; throws an Error listing every problem (names only, never values). */
export function readConfig(env: Readonly<Record<string, string | undefined>>): RuntimeConfig {
  const r = new EnvReader(env);
  const e = {
    FLOWPLANE_BUNDLE_URL: r.parsed("FLOWPLANE_BUNDLE_URL", (v) => {
      if (!URL.canParse(v)) throw new Error("must be a URL");
      return v;
    }),
    FLOWPLANE_BUNDLE_PATH: r.text("FLOWPLANE_BUNDLE_PATH"),
    FLOWPLANE_BUNDLE_VERSION: r.text("FLOWPLANE_BUNDLE_VERSION"),
    FLOWPLANE_BUNDLE_DIGEST: r.parsed("FLOWPLANE_BUNDLE_DIGEST", (v) => {
      if (!/^sha256:[0-9a-f]{64}$/.test(v)) throw new Error("must be sha256:<64 hex digits>");
      return v;
    }),
    FLOWPLANE_IDENTITY_TOKEN: r.text("FLOWPLANE_IDENTITY_TOKEN"),
    FLOWPLANE_IDENTITY_TOKEN_FILE: r.text("FLOWPLANE_IDENTITY_TOKEN_FILE"),
    FLOWPLANE_BUNDLE_RETRIES: r.int("FLOWPLANE_BUNDLE_RETRIES", 0) ?? 5,
    FLOWPLANE_BUNDLE_RETRY_BASE_MS: r.int("FLOWPLANE_BUNDLE_RETRY_BASE_MS", 1) ?? 500,
    FLOWPLANE_BUNDLE_RETRY_MAX_MS: r.int("FLOWPLANE_BUNDLE_RETRY_MAX_MS", 1) ?? 30_000,
    FLOWPLANE_RUNTIME_PORT: r.int("FLOWPLANE_RUNTIME_PORT", 0, 65535),
    PORT: r.int("PORT", 0, 65535),
    FLOWPLANE_RUNTIME_HOST: r.text("FLOWPLANE_RUNTIME_HOST") ?? "127.0.0.1",
    FLOWPLANE_PROBE_PORT: r.int("FLOWPLANE_PROBE_PORT", 0, 65535),
    FLOWPLANE_RUNTIME_FD: r.int("FLOWPLANE_RUNTIME_FD", 3),
    FLOWPLANE_PROBE_FD: r.parsed("FLOWPLANE_PROBE_FD", (v) => {
      const fd = Number(v);
      if (!/^\d+$/.test(v) || fd < 3) throw new Error("must be a whole number from 3");
      if (v === env.FLOWPLANE_RUNTIME_FD) throw new Error("must differ from FLOWPLANE_RUNTIME_FD");
      return fd;
    }),
    FLOWPLANE_ENGINE: r.oneOf("FLOWPLANE_ENGINE", ["auto", "native", "lfx"] as const) ?? "auto",
    FLOWPLANE_LFX_BIN: r.text("FLOWPLANE_LFX_BIN"),
    FLOWPLANE_LFX_START_TIMEOUT_MS: r.int("FLOWPLANE_LFX_START_TIMEOUT_MS", 1) ?? 120_000,
    FLOWPLANE_MODEL_HOSTS: r.parsed("FLOWPLANE_MODEL_HOSTS", parseModelHosts) ?? parseModelHosts(""),
    FLOWPLANE_LOG_LEVEL: r.oneOf("FLOWPLANE_LOG_LEVEL", ["debug", "info", "warn", "error"] as const) ?? "info",
    FLOWPLANE_DEPLOYMENT_ID: r.text("FLOWPLANE_DEPLOYMENT_ID"),
    [REVISION_ENV]: r.int(REVISION_ENV, 1),
    FLOWPLANE_REPLICA: r.text("FLOWPLANE_REPLICA"),
    FLOWPLANE_REQUEST_TIMEOUT_MS: r.int("FLOWPLANE_REQUEST_TIMEOUT_MS", 1) ?? 300_000,
    FLOWPLANE_SHUTDOWN_GRACE_MS: r.int("FLOWPLANE_SHUTDOWN_GRACE_MS", 0) ?? 30_000,
    FLOWPLANE_DRAIN_DELAY_MS: r.int("FLOWPLANE_DRAIN_DELAY_MS", 0) ?? 1000,
    FLOWPLANE_MAX_BODY_BYTES: r.int("FLOWPLANE_MAX_BODY_BYTES", 1) ?? 1_048_576,
    [GATEWAY_SECRET_ENV]: r.parsed(GATEWAY_SECRET_ENV, (v) => {
      if (v.length < 16) throw new Error("must be at least 16 characters");
      return v;
    }),
    [PARAMETER_NAMES_ENV]: r.parsed(PARAMETER_NAMES_ENV, parameterNames) ?? [],
    [IO_MAX_CHARS_ENV]: r.int(IO_MAX_CHARS_ENV, IO_BOUNDS.maxChars.min, IO_BOUNDS.maxChars.max),
    [CREDENTIAL_NAMES_ENV]: r.parsed(CREDENTIAL_NAMES_ENV, parameterNames) ?? [],
    [SECRET_PARAMETER_NAMES_ENV]: r.parsed(SECRET_PARAMETER_NAMES_ENV, parameterNames) ?? [],
    [TWEAKS_POLICY_ENV]: r.oneOf(TWEAKS_POLICY_ENV, TWEAKS_POLICIES) ?? "permissive",
  };
  if (!e.FLOWPLANE_BUNDLE_URL && !e.FLOWPLANE_BUNDLE_PATH) r.fail("set FLOWPLANE_BUNDLE_URL (with an identity token) or FLOWPLANE_BUNDLE_PATH");
  if (r.problems.length > 0) throw new Error(`invalid runtime configuration: ${r.problems.join("; ")}`);
  const token = e.FLOWPLANE_IDENTITY_TOKEN_FILE ? { file: e.FLOWPLANE_IDENTITY_TOKEN_FILE } : e.FLOWPLANE_IDENTITY_TOKEN ? { value: e.FLOWPLANE_IDENTITY_TOKEN } : null;
  const bundle: BundleSource = e.FLOWPLANE_BUNDLE_PATH
    ? { kind: "path", path: e.FLOWPLANE_BUNDLE_PATH }
    : { kind: "url", url: e.FLOWPLANE_BUNDLE_URL as string, token, retries: e.FLOWPLANE_BUNDLE_RETRIES, retryBaseMs: e.FLOWPLANE_BUNDLE_RETRY_BASE_MS, retryMaxMs: e.FLOWPLANE_BUNDLE_RETRY_MAX_MS };
  const parameters: Record<string, string> = {};
  const droppedParameters: string[] = [];
  const listed = new Set(e[PARAMETER_NAMES_ENV]);
  for (const name of listed) {
    const v = env[name];
    if (v === undefined) continue;
    if (reservedNameReason(name) === null) parameters[name] = v;
    else droppedParameters.push(name);
  }
  const processEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith("FLOWPLANE_") && !listed.has(k)) processEnv[k] = v;
  return {
    bundle,
    expectedVersion: e.FLOWPLANE_BUNDLE_VERSION ?? null,
    expectedDigest: e.FLOWPLANE_BUNDLE_DIGEST ?? null,
    host: e.FLOWPLANE_RUNTIME_HOST,
    port: e.FLOWPLANE_RUNTIME_PORT ?? e.PORT ?? 8000,
    ...(e.FLOWPLANE_RUNTIME_FD !== undefined ? { fd: e.FLOWPLANE_RUNTIME_FD } : {}),
    probes: e.FLOWPLANE_PROBE_PORT === undefined ? null : { port: e.FLOWPLANE_PROBE_PORT, ...(e.FLOWPLANE_PROBE_FD !== undefined ? { fd: e.FLOWPLANE_PROBE_FD } : {}) },
    engine: e.FLOWPLANE_ENGINE,
    lfx: { bin: e.FLOWPLANE_LFX_BIN ?? null, startTimeoutMs: e.FLOWPLANE_LFX_START_TIMEOUT_MS, processEnv, modelHosts: e.FLOWPLANE_MODEL_HOSTS },
    logLevel: e.FLOWPLANE_LOG_LEVEL,
    logBindings: {
      ...(e.FLOWPLANE_DEPLOYMENT_ID ? { deploymentId: e.FLOWPLANE_DEPLOYMENT_ID } : {}),
      ...(e.FLOWPLANE_REPLICA ? { replica: e.FLOWPLANE_REPLICA } : {}),
    },
    revision: e[REVISION_ENV] ?? null,
    requestTimeoutMs: e.FLOWPLANE_REQUEST_TIMEOUT_MS,
    shutdownGraceMs: e.FLOWPLANE_SHUTDOWN_GRACE_MS,
    drainDelayMs: e.FLOWPLANE_DRAIN_DELAY_MS,
    maxBodyBytes: e.FLOWPLANE_MAX_BODY_BYTES,
    gatewaySecret: e[GATEWAY_SECRET_ENV] ?? null,
    parameters,
    droppedParameters: droppedParameters.sort(),
    secretParameters: e[SECRET_PARAMETER_NAMES_ENV],
    traces: bundle.kind === "url" && /\/bundle$/.test(new URL(bundle.url).pathname)
      ? { url: bundle.url.replace(/\/bundle(?=$|[?#])/, "/traces"), token }
      : null,
    io: e[IO_MAX_CHARS_ENV] === undefined ? null : {
      maxChars: e[IO_MAX_CHARS_ENV],
      secrets: [
        ...e[CREDENTIAL_NAMES_ENV].map((n) => env[n]).filter((v): v is string => typeof v === "string"),
        ...(e[GATEWAY_SECRET_ENV] ? [e[GATEWAY_SECRET_ENV]] : []),
        ...(e.FLOWPLANE_IDENTITY_TOKEN ? [e.FLOWPLANE_IDENTITY_TOKEN] : []),
      ],
    },
    tweaksPolicy: e[TWEAKS_POLICY_ENV],
  };
}
