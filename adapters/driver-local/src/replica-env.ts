import { DEFAULT_BODY_LIMIT_BYTES, GATEWAY_SECRET_ENV, PARAMETER_NAMES_ENV, REPLICA_PROCESS_ENV, REVISION_ENV, parseQuantity, partitionParameters, recordIOEnv, reservedNameReason, secretParametersEnv, tweaksPolicyEnv, type RuntimeSpec } from "@flowplane/core";

/**
 * A replica's whole environment, built from an explicit list and nothing else (never from the
 * control plane's own environment):
 * - `baseEnv`: what the operator chose to pass through (FLOWPLANE_RUNTIME_PASSTHROUGH_ENV) and PATH;
 * - the runtime's own settings (FLOWPLANE_*), which nothing else can override;
 * - the deployment's parameters, minus reserved names (`reservedNameReason`): a parameter named
 *   NODE_OPTIONS, LD_PRELOAD or FLOWPLANE_BUNDLE_URL would steer the replica's process, not the flow.
 *
 * FLOWPLANE_PARAMETER_NAMES tells the runtime which variables are the flow's: the parameters,
 * and the passed-through names that are not reserved (OPENAI_API_BASE is a flow variable; PATH
 * is not).
 */
export interface ReplicaEnv {
  env: Record<string, string>;
  /** Reserved parameter names left out (names only: they are reported, the values never). */
  dropped: string[];
}

export function replicaEnv(spec: RuntimeSpec, o: { replica: string; port: number; probePort: number; fd?: number; probeFd?: number; baseEnv: Readonly<Record<string, string>>; shutdownGraceMs: number }): ReplicaEnv {
  // The one resource limit a plain process can be held to without cgroups: V8's heap, at 3/4
  // of the memory limit (the rest is code, buffers and the native engine's I/O). CPU is not
  // limited, and an lfx engine's Python process is not covered (see the README).
  const memory = parseQuantity(spec.resources.memory.limit) ?? 0;
  const heapMiB = Math.max(64, Math.floor((memory * 0.75) / 2 ** 20));
  const { kept, dropped } = partitionParameters(spec.env);
  const passedThrough = Object.keys(o.baseEnv).filter((n) => reservedNameReason(n) === null);
  const parameterNames = [...new Set([...passedThrough, ...Object.keys(kept)])].sort();
  const env: Record<string, string> = {
    ...o.baseEnv,
    NODE_OPTIONS: `--max-old-space-size=${heapMiB}`,
    // glibc's malloc arenas capped (REPLICA_PROCESS_ENV says why): less memory held after load.
    ...REPLICA_PROCESS_ENV,
    ...kept,
    FLOWPLANE_BUNDLE_URL: spec.bundleUrl,
    FLOWPLANE_BUNDLE_VERSION: spec.bundle.version,
    FLOWPLANE_BUNDLE_DIGEST: spec.bundle.digest,
    FLOWPLANE_IDENTITY_TOKEN: spec.identityToken,
    [GATEWAY_SECRET_ENV]: spec.gatewaySecret,
    [PARAMETER_NAMES_ENV]: JSON.stringify(parameterNames),
    FLOWPLANE_RUNTIME_HOST: "127.0.0.1",
    FLOWPLANE_RUNTIME_PORT: String(o.port),
    // /health and /ready on a listener of their own: no run queues the driver's probes behind it.
    FLOWPLANE_PROBE_PORT: String(o.probePort),
    // Both listeners already bound by the driver and inherited under these descriptors (processes.ts loopbackListener).
    ...(o.fd !== undefined ? { FLOWPLANE_RUNTIME_FD: String(o.fd) } : {}),
    ...(o.probeFd !== undefined ? { FLOWPLANE_PROBE_FD: String(o.probeFd) } : {}),
    FLOWPLANE_ENGINE: spec.engine,
    FLOWPLANE_LOG_LEVEL: spec.logLevel,
    // Bound to every line the runtime logs, under the names the driver's own lines use.
    FLOWPLANE_DEPLOYMENT_ID: spec.deploymentId,
    FLOWPLANE_REPLICA: o.replica,
    // Named on every answer, so the gateway's revision header is exact during a rolling update.
    ...(spec.revision !== undefined ? { [REVISION_ENV]: String(spec.revision) } : {}),
    FLOWPLANE_REQUEST_TIMEOUT_MS: String(spec.requestTimeoutSeconds * 1000),
    // The gateway's body limit: the gateway refuses (413) anything the replica would.
    FLOWPLANE_MAX_BODY_BYTES: String(spec.maxBodyBytes ?? DEFAULT_BODY_LIMIT_BYTES),
    FLOWPLANE_SHUTDOWN_GRACE_MS: String(o.shutdownGraceMs),
    // Inputs and outputs kept (runtime.io): names of the credentials to redact, never a value.
    ...recordIOEnv(spec.recordIO),
    // Plain parameters kept secret, guarded as credentials by the replica: names, never a value.
    ...secretParametersEnv(spec.secretParameters),
    // Which fields run requests may tweak, when not every field but Langflow's protected ones.
    ...tweaksPolicyEnv(spec.tweaksPolicy),
  };
  return { env, dropped };
}

/**
 * Linux's limit on one `NAME=value` string of a new process (MAX_ARG_STRLEN, 32 pages,
 * counting the terminating NUL). A longer one makes exec fail with E2BIG.
 */
export const MAX_ENV_ENTRY_BYTES = 131_072;

/**
 * Why this environment cannot be given to a process, naming the variable and never its value;
 * null when it can. Checked before spawning, because spawn's own errors echo the value.
 */
export function envProblem(env: Readonly<Record<string, string>>): string | null {
  for (const [name, value] of Object.entries(env)) {
    if (name.includes("\0") || name.includes("=")) return `the variable name "${name.replace(/\0/g, "\\0")}" contains a NUL character or "="`;
    if (value.includes("\0")) return `the value of "${name}" contains a NUL character, which a process environment cannot hold`;
    const bytes = Buffer.byteLength(name, "utf8") + 1 + Buffer.byteLength(value, "utf8") + 1;
    if (bytes > MAX_ENV_ENTRY_BYTES) return `the value of "${name}" is ${Math.ceil(bytes / 1024)} KiB; one environment variable holds at most ${MAX_ENV_ENTRY_BYTES / 1024} KiB`;
  }
  return null;
}
