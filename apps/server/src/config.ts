import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { DEFAULT_WARM_SECONDS, fieldErrors, type DnsPeer } from "@flowplane/core";
import { DEFAULT_MAX_PROCESSES, DEFAULT_SCRATCH_BYTES, DEFAULT_UID_BASE, DEFAULT_UID_COUNT } from "@flowplane/driver-local";
import { checkCidr } from "./cidr.js";
import { DEFAULT_KUBERNETES_DNS, parseKubernetesDns } from "./kubernetes-dns.js";
import { parseCorsOrigins, type CorsOrigins } from "./gateway/cors.js";
import type { ConnectionLimits } from "./http/connection-cap.js";

/**
 * Configuration, read from the environment once (in main), validated, then passed down.
 * Defaults give a working single-machine install: `npm start` needs nothing set.
 */
export interface Config {
  host: string;
  port: number;
  privatePort: number;
  dataDir: string;
  databaseUrl: string | undefined;
  driver: "local" | "kubernetes";
  /** Base URL clients use to reach the public listener (endpoint URLs are built from it). */
  externalUrl: string;
  privateUrl: string;
  /** 32-byte credential encryption key; when absent, a 0600 key file in dataDir. */
  secretKey: Buffer | undefined;
  bodyLimitBytes: number;
  /** What any request body may take before more time is bought by its bytes (http/body-pace.ts). */
  bodyTimeoutMs: number;
  /**
   * Client connections each process holds at once per listener, in all, from one address, and
   * from one local deployment's uid (http/connection-cap.ts; perAddress, perDeployment 0: no
   * bound). perDeployment applies where serve.ts knows the deployments' uids (local driver, root).
   */
  connections: { public: ConnectionLimits; private: ConnectionLimits };
  /** The API's budget of unknown or invalid access keys per client address (auth-failures.ts): `burst` at once, refilled at `perSecond`. */
  apiBadKeys: { burst: number; perSecond: number };
  /** Which parts run in this process: the API (and web UI), the gateway listeners, the reconciler. */
  roles: Set<Role>;
  /** Base URL runtime replicas use to reach this control plane (bundle download). */
  internalUrl: string;
  /** How the local driver starts a replica: the runtime's command line. */
  runtimeCommand: string[] | undefined;
  /** Names of this process's environment variables copied into every replica (e.g. HTTPS_PROXY). */
  runtimePassthroughEnv: string[];
  /** Model hosts on loopback/private networks the lfx engine may call (docs/lfx.md); given to every local replica. */
  modelHosts: string;
  /** The lfx executable replicas run (FLOWPLANE_LFX_BIN); undefined: where scripts/setup-lfx.sh installs it. */
  lfxBin: string | undefined;
  /** Local driver: where each deployment's working folder (its replicas' HOME and TMPDIR) is made; undefined: in the OS temp folder. */
  runtimeWorkDir: string | undefined;
  /** Local driver as root: the first of the `runtimeUidCount` uids given to deployments, one each. */
  runtimeUidBase: number;
  /** How many uids from `runtimeUidBase` are replicas' (fixed): what the driver hands out, and whose holder of the data lock is no control plane. */
  runtimeUidCount: number;
  /** Bytes of scratch space (its working folder and /tmp, each a tmpfs of this size) a sandboxed local replica gets. */
  runtimeScratchBytes: number;
  /** Processes and threads each deployment's uid may hold at once (local driver, root, not `none`). */
  runtimeMaxProcesses: number;
  /** Stop the local runtime processes when this process stops (default: leave them for the next start to adopt). */
  stopRuntimesOnExit: boolean;
  resyncSeconds: number;
  /** How many deployments the reconciler works on at once (default: 4 on the local driver, 32 on Kubernetes). */
  reconcileConcurrency: number;
  /**
   * Kubernetes driver: the runtime image, flowplane's own namespace, a kubeconfig (else
   * in-cluster), and the client-side limit on its requests to the API server (`qps` a second,
   * `burst` at once), the ranges egress must not reach, and where DNS queries may go
   * (FLOWPLANE_KUBERNETES_DNS, kubernetes-dns.ts).
   */
  kubernetes: { image: string; systemNamespace: string; kubeconfig: string | undefined; installation: string; qps: number; burst: number; egressExclude: string[]; dns: DnsPeer[] };
  /**
   * Gateway worker processes (FLOWPLANE_GATEWAY_WORKERS, default one per core, at most the
   * container's CPU limit: defaultGatewayWorkers): they own the
   * public and private listeners and proxy the gateway's routes; the API stays in this process
   * (docs/gateway.md). 0 keeps the gateway in this process, on its event loop.
   */
  gatewayWorkers: number;
  /**
   * Which process takes the public gateway port (FLOWPLANE_GATEWAY_PROXY, docs/gateway.md):
   * - `node`: the gateway workers (the default);
   * - `haproxy`: flowplane's own HAProxy child, which serves the calls it can serve exactly
   *   and passes the rest to the workers on loopback. Needs at least one worker.
   * - `nginx`: the same with flowplane's own nginx + Lua child (nginx/; being built, not yet
   *   held to the HAProxy path's parity suites). Needs at least one worker.
   */
  gatewayProxy: { kind: "node" } | { kind: "haproxy"; bin: string; slots: number; maxConnections: number } | { kind: "nginx"; bin: string; maxConnections: number };
  /** Which browser origins may call the gateway's routes (FLOWPLANE_GATEWAY_CORS_ORIGINS, gateway/cors.ts); off unless set. */
  gatewayCors: CorsOrigins;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** How long the revision before a change keeps one warm replica, for an instant rollback (0: none; docs/revisions.md). */
  warmRevisionSeconds: number;
  /** The run history (docs/runs-and-logs.md): whether gateways record calls, what retention keeps, how often it sweeps. */
  runs: { record: boolean; maxAgeHours: number; maxPerDeployment: number; sweepSeconds: number };
  /** What each deployment's stored traces may take, in bytes; past it its oldest are deleted (docs/traces.md). */
  tracesMaxBytesPerDeployment: number;
  /** How often the metrics sampler reads replicas (docs/metrics.md). */
  metricsSampleSeconds: number;
  /** The bearer token that may read /metrics besides an org owner's key (metrics-access.ts); undefined: none. */
  metricsToken: string | undefined;
  /** An OpenTelemetry collector's OTLP/HTTP endpoint that runs' traces are exported to (traces/otlp.ts); null: no export. */
  otlpEndpoint: string | null;
}

/**
 * A number variable set to the empty string is unset, its default applies: an empty value is
 * most often a compose file's `${VAR}` or a chart's value nobody filled in, and `z.coerce`
 * read it as 0 (FLOWPLANE_GATEWAY_WORKERS="" moved the gateway into the control plane's
 * process, FLOWPLANE_WARM_REVISION_SECONDS="" kept no revision warm). URLs and paths stay
 * refused when empty: an empty DATABASE_URL falling back to the embedded store would lose data.
 * Blank means only spaces too: `z.coerce` reads " " (an env file's `VAR= `) as 0 just the same.
 */
const blankIsUnset = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const numberVar = <T extends z.ZodType>(schema: T) => z.preprocess(blankIsUnset, schema);

const port = (name: string, dflt: number) =>
  numberVar(z.coerce.number({ error: `${name} must be a port number` }).int().min(1, `${name} must be 1..65535`).max(65535, `${name} must be 1..65535`).default(dflt));

const schema = z.object({
  FLOWPLANE_HOST: z.string().min(1).default("127.0.0.1"),
  FLOWPLANE_PORT: port("FLOWPLANE_PORT", 8080),
  FLOWPLANE_PRIVATE_PORT: port("FLOWPLANE_PRIVATE_PORT", 8081),
  FLOWPLANE_DATA_DIR: z.string().min(1).default(".flowplane"),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "DATABASE_URL must be a postgres:// URL").optional(),
  FLOWPLANE_DRIVER: z.enum(["local", "kubernetes"], { error: 'FLOWPLANE_DRIVER must be "local" or "kubernetes"' }).default("local"),
  FLOWPLANE_EXTERNAL_URL: z.url({ error: "FLOWPLANE_EXTERNAL_URL must be a URL" }).optional(),
  FLOWPLANE_PRIVATE_URL: z.url({ error: "FLOWPLANE_PRIVATE_URL must be a URL" }).optional(),
  FLOWPLANE_SECRET_KEY: z.string().optional(),
  FLOWPLANE_BODY_LIMIT_BYTES: numberVar(z.coerce.number().int().min(1024, "FLOWPLANE_BODY_LIMIT_BYTES must be at least 1024").default(10 * 1024 * 1024)),
  FLOWPLANE_BODY_TIMEOUT_SECONDS: numberVar(z.coerce.number().int("FLOWPLANE_BODY_TIMEOUT_SECONDS must be a whole number of seconds").min(1, "FLOWPLANE_BODY_TIMEOUT_SECONDS must be at least 1").max(86_400, "FLOWPLANE_BODY_TIMEOUT_SECONDS must be at most 86400").default(300)),
  FLOWPLANE_ROLES: z.string().default("api,gateway,reconciler"),
  FLOWPLANE_INTERNAL_URL: z.url({ error: "FLOWPLANE_INTERNAL_URL must be a URL" }).optional(),
  FLOWPLANE_RUNTIME_COMMAND: z.string().optional(),
  FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: z.string().default(""),
  FLOWPLANE_MODEL_HOSTS: z.string().default("").refine((v) => v.split(",").every((h) => h.trim() === "" || /^[A-Za-z0-9.:_-]+(\/\d{1,3})?$/.test(h.trim())), "FLOWPLANE_MODEL_HOSTS must be a comma list of host names, IP addresses or CIDR ranges"),
  FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE: z.string().default("").superRefine((v, ctx) => {
    for (const h of v.split(",").filter((x) => x.trim() !== "")) {
      const checked = checkCidr(h);
      if (!checked.ok) ctx.addIssue({ code: "custom", message: `FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE must be a comma list of CIDR ranges (a network address, IPv4 or IPv6, / and a prefix length of at least 1), e.g. 34.118.224.0/20,2600:1900::/28; '${h.trim()}' is not${checked.should ? `: write ${checked.should}` : ""}` });
    }
  }),
  // Parsed here, once: each bad entry is an issue of its own, naming the entry and why.
  FLOWPLANE_KUBERNETES_DNS: z.string().default(DEFAULT_KUBERNETES_DNS).transform((v, ctx) => {
    const r = parseKubernetesDns(v);
    if (r.ok) return r.peers;
    for (const { entry, reason } of r.errors) {
      ctx.addIssue({ code: "custom", message: `FLOWPLANE_KUBERNETES_DNS must be a comma list of namespace/label=value (the DNS pods, e.g. ${DEFAULT_KUBERNETES_DNS}) and IP addresses or CIDR ranges (e.g. 169.254.20.10); '${entry}' is not: ${reason}` });
    }
    return z.NEVER;
  }),
  FLOWPLANE_LFX_BIN: z.string().min(1).optional(),
  FLOWPLANE_RUNTIME_WORK_DIR: z.string().min(1).optional(),
  FLOWPLANE_RUNTIME_SCRATCH_MIB: numberVar(z.coerce.number({ error: "FLOWPLANE_RUNTIME_SCRATCH_MIB must be a number" }).int("FLOWPLANE_RUNTIME_SCRATCH_MIB must be a whole number").min(1, "FLOWPLANE_RUNTIME_SCRATCH_MIB must be 1..65536").max(65_536, "FLOWPLANE_RUNTIME_SCRATCH_MIB must be 1..65536").default(DEFAULT_SCRATCH_BYTES / 1048576)),
  FLOWPLANE_RUNTIME_MAX_PROCESSES: numberVar(z.coerce.number({ error: "FLOWPLANE_RUNTIME_MAX_PROCESSES must be a number" }).int("FLOWPLANE_RUNTIME_MAX_PROCESSES must be a whole number").min(64, "FLOWPLANE_RUNTIME_MAX_PROCESSES must be 64..1048576").max(1_048_576, "FLOWPLANE_RUNTIME_MAX_PROCESSES must be 64..1048576").default(DEFAULT_MAX_PROCESSES)),
  FLOWPLANE_RUNTIME_UID_BASE: numberVar(z.coerce.number().int().min(1000, "FLOWPLANE_RUNTIME_UID_BASE must be at least 1000").max(2 ** 31 - 1 - DEFAULT_UID_COUNT, `FLOWPLANE_RUNTIME_UID_BASE must leave room for ${DEFAULT_UID_COUNT} uids below 2^31`).default(DEFAULT_UID_BASE)),
  FLOWPLANE_STOP_RUNTIMES_ON_EXIT: z.enum(["true", "false"], { error: 'FLOWPLANE_STOP_RUNTIMES_ON_EXIT must be "true" or "false"' }).default("false"),
  FLOWPLANE_RESYNC_SECONDS: numberVar(z.coerce.number().int().min(1, "FLOWPLANE_RESYNC_SECONDS must be at least 1").max(3600).default(10)),
  FLOWPLANE_RECONCILE_CONCURRENCY: numberVar(z.coerce.number({ error: "FLOWPLANE_RECONCILE_CONCURRENCY must be a number" }).int().min(1, "FLOWPLANE_RECONCILE_CONCURRENCY must be 1..256").max(256, "FLOWPLANE_RECONCILE_CONCURRENCY must be 1..256").optional()),
  FLOWPLANE_RUNTIME_IMAGE: z.string().min(1).default("flowplane/runtime:0.1.0"),
  FLOWPLANE_SYSTEM_NAMESPACE: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "FLOWPLANE_SYSTEM_NAMESPACE must be a namespace name").default("flowplane"),
  KUBECONFIG: z.string().optional(),
  FLOWPLANE_KUBERNETES_QPS: numberVar(z.coerce.number({ error: "FLOWPLANE_KUBERNETES_QPS must be a number" }).min(1, "FLOWPLANE_KUBERNETES_QPS must be 1..10000").max(10_000, "FLOWPLANE_KUBERNETES_QPS must be 1..10000").default(200)),
  FLOWPLANE_KUBERNETES_BURST: numberVar(z.coerce.number({ error: "FLOWPLANE_KUBERNETES_BURST must be a number" }).int("FLOWPLANE_KUBERNETES_BURST must be a whole number").min(1, "FLOWPLANE_KUBERNETES_BURST must be 1..10000").max(10_000, "FLOWPLANE_KUBERNETES_BURST must be 1..10000").default(400)),
  FLOWPLANE_INSTALLATION: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "FLOWPLANE_INSTALLATION must be a DNS label").default("default"),
  FLOWPLANE_GATEWAY_WORKERS: numberVar(z.coerce.number({ error: "FLOWPLANE_GATEWAY_WORKERS must be a number" }).int("FLOWPLANE_GATEWAY_WORKERS must be a whole number").min(0, "FLOWPLANE_GATEWAY_WORKERS must be 0..64 (0: in the control plane's process)").max(64, "FLOWPLANE_GATEWAY_WORKERS must be 0..64 (0: in the control plane's process)").optional()),
  FLOWPLANE_GATEWAY_PROXY: z.enum(["node", "haproxy", "nginx"], { error: 'FLOWPLANE_GATEWAY_PROXY must be "node", "haproxy" or "nginx"' }).default("node"),
  // Parsed here, once: a bad entry stops the server naming it, rather than a browser failing later.
  FLOWPLANE_GATEWAY_CORS_ORIGINS: z.string().default("").transform((v, ctx) => {
    try {
      return parseCorsOrigins(v);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `FLOWPLANE_GATEWAY_CORS_ORIGINS must be * or a comma list of origins; ${(err as Error).message}` });
      return z.NEVER;
    }
  }),
  FLOWPLANE_HAPROXY_BIN: z.string().min(1, "FLOWPLANE_HAPROXY_BIN must be a path").default("haproxy"),
  FLOWPLANE_NGINX_BIN: z.string().min(1, "FLOWPLANE_NGINX_BIN must be a path").default("nginx"),
  FLOWPLANE_HAPROXY_MAXCONN: numberVar(z.coerce.number({ error: "FLOWPLANE_HAPROXY_MAXCONN must be a number" }).int("FLOWPLANE_HAPROXY_MAXCONN must be a whole number").min(1, "FLOWPLANE_HAPROXY_MAXCONN must be 1..1000000").max(1_000_000, "FLOWPLANE_HAPROXY_MAXCONN must be 1..1000000").default(4096)),
  FLOWPLANE_HAPROXY_SLOTS: numberVar(z.coerce.number({ error: "FLOWPLANE_HAPROXY_SLOTS must be a number" }).int("FLOWPLANE_HAPROXY_SLOTS must be a whole number").min(1, "FLOWPLANE_HAPROXY_SLOTS must be 1..4096").max(4096, "FLOWPLANE_HAPROXY_SLOTS must be 1..4096").default(256)),
  FLOWPLANE_MAX_CONNECTIONS: numberVar(z.coerce.number({ error: "FLOWPLANE_MAX_CONNECTIONS must be a number" }).int("FLOWPLANE_MAX_CONNECTIONS must be a whole number").min(1, "FLOWPLANE_MAX_CONNECTIONS must be 1..1000000").max(1_000_000, "FLOWPLANE_MAX_CONNECTIONS must be 1..1000000").default(16_384)),
  FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS: numberVar(z.coerce.number({ error: "FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS must be a number" }).int("FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS must be a whole number").min(0, "FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS must be 0..1000000 (0: no bound)").max(1_000_000, "FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS must be 0..1000000 (0: no bound)").default(1_024)),
  FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT: numberVar(z.coerce.number({ error: "FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT must be a number" }).int("FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT must be a whole number").min(0, "FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT must be 0..1000000 (0: no bound)").max(1_000_000, "FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT must be 0..1000000 (0: no bound)").default(1_024)),
  FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS_PRIVATE: numberVar(z.coerce.number({ error: "FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS_PRIVATE must be a number" }).int("FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS_PRIVATE must be a whole number").min(0, "FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS_PRIVATE must be 0..1000000 (0: no bound)").max(1_000_000, "FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS_PRIVATE must be 0..1000000 (0: no bound)").optional()),
  FLOWPLANE_RUN_HISTORY: z.enum(["true", "false"], { error: 'FLOWPLANE_RUN_HISTORY must be "true" or "false"' }).default("true"),
  FLOWPLANE_API_BAD_KEY_BURST: numberVar(z.coerce.number({ error: "FLOWPLANE_API_BAD_KEY_BURST must be a number" }).int("FLOWPLANE_API_BAD_KEY_BURST must be a whole number").min(1, "FLOWPLANE_API_BAD_KEY_BURST must be 1..10000000").max(10_000_000, "FLOWPLANE_API_BAD_KEY_BURST must be 1..10000000").default(20)),
  FLOWPLANE_API_BAD_KEY_PER_SECOND: numberVar(z.coerce.number({ error: "FLOWPLANE_API_BAD_KEY_PER_SECOND must be a number" }).positive("FLOWPLANE_API_BAD_KEY_PER_SECOND must be above 0").max(1_000_000, "FLOWPLANE_API_BAD_KEY_PER_SECOND must be at most 1000000").default(2)),
  FLOWPLANE_RUNS_MAX_AGE_HOURS: numberVar(z.coerce.number({ error: "FLOWPLANE_RUNS_MAX_AGE_HOURS must be a number" }).int("FLOWPLANE_RUNS_MAX_AGE_HOURS must be a whole number").min(1, "FLOWPLANE_RUNS_MAX_AGE_HOURS must be 1..87600").max(87_600, "FLOWPLANE_RUNS_MAX_AGE_HOURS must be 1..87600").default(168)),
  FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT: numberVar(z.coerce.number({ error: "FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT must be a number" }).int("FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT must be a whole number").min(1, "FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT must be 1..100000000").max(100_000_000, "FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT must be 1..100000000").default(100_000)),
  FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT: numberVar(z.coerce.number({ error: "FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT must be a number" }).int("FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT must be a whole number").min(1_048_576, "FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT must be 1048576..1099511627776").max(1_099_511_627_776, "FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT must be 1048576..1099511627776").default(268_435_456)),
  FLOWPLANE_RUNS_SWEEP_SECONDS: numberVar(z.coerce.number({ error: "FLOWPLANE_RUNS_SWEEP_SECONDS must be a number" }).int("FLOWPLANE_RUNS_SWEEP_SECONDS must be a whole number").min(1, "FLOWPLANE_RUNS_SWEEP_SECONDS must be 1..86400").max(86_400, "FLOWPLANE_RUNS_SWEEP_SECONDS must be 1..86400").default(300)),
  FLOWPLANE_METRICS_SAMPLE_SECONDS: numberVar(z.coerce.number({ error: "FLOWPLANE_METRICS_SAMPLE_SECONDS must be a number" }).int("FLOWPLANE_METRICS_SAMPLE_SECONDS must be a whole number").min(1, "FLOWPLANE_METRICS_SAMPLE_SECONDS must be 1..60").max(60, "FLOWPLANE_METRICS_SAMPLE_SECONDS must be 1..60").default(10)),
  // At least 32 characters: it is checked on a listener every replica reaches (wrong ones are charged to the address's failed-authentication budget, but a budget only slows guessing).
  // Empty is unset, as for FLOWPLANE_SECRET_KEY (the other optional secret, from the same Secret): a compose file's `${METRICS_TOKEN}`
  // or a chart's unset value renders "", and that stopped the server; unset fails closed (only an org owner's access key reads /metrics).
  FLOWPLANE_METRICS_TOKEN: z.preprocess((v) => (v === "" ? undefined : v), z.string().min(32, "FLOWPLANE_METRICS_TOKEN must be at least 32 characters (e.g. openssl rand -hex 32)").regex(/^\S+$/, "FLOWPLANE_METRICS_TOKEN may not hold spaces (it is sent as Authorization: Bearer)").optional()),
  FLOWPLANE_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: "FLOWPLANE_OTLP_ENDPOINT must be an http(s) URL (the collector's OTLP/HTTP endpoint, e.g. http://collector:4318)" }).optional(),
  FLOWPLANE_WARM_REVISION_SECONDS: numberVar(z.coerce.number({ error: "FLOWPLANE_WARM_REVISION_SECONDS must be a number" }).int("FLOWPLANE_WARM_REVISION_SECONDS must be a whole number").min(0, "FLOWPLANE_WARM_REVISION_SECONDS must be 0..86400").max(86_400, "FLOWPLANE_WARM_REVISION_SECONDS must be 0..86400").default(DEFAULT_WARM_SECONDS)),
  FLOWPLANE_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

/** `api`: REST API and web UI. `gateway`: the public and private gateway listeners. `reconciler`: makes deployments run. */
export type Role = "api" | "gateway" | "reconciler";
const ROLES: Role[] = ["api", "gateway", "reconciler"];

export class ConfigError extends Error {}

/** A 32-byte key given as 64 hex characters or as base64. */
function parseKey(v: string): Buffer {
  const k = /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, "hex") : Buffer.from(v, "base64");
  if (k.length !== 32) throw new ConfigError("FLOWPLANE_SECRET_KEY must be 32 bytes, as 64 hex characters or base64");
  return k;
}

export function loadConfig(env: NodeJS.ProcessEnv, cwd: string): Config {
  const r = schema.safeParse(env);
  if (!r.success) throw new ConfigError(`invalid configuration: ${fieldErrors(r.error).map((e) => `${e.field}: ${e.message}`).join("; ")}`);
  const e = r.data;
  const trim = (u: string) => u.replace(/\/+$/, "");
  const roles = e.FLOWPLANE_ROLES.split(",").map((r) => r.trim()).filter(Boolean);
  const badRole = roles.find((r) => !ROLES.includes(r as Role));
  if (badRole !== undefined || roles.length === 0) throw new ConfigError(`invalid configuration: FLOWPLANE_ROLES: use a comma list of ${ROLES.join(", ")}${badRole ? ` ("${badRole}" is none of them)` : ""}`);
  let runtimeCommand: string[] | undefined;
  if (e.FLOWPLANE_RUNTIME_COMMAND) {
    try {
      runtimeCommand = JSON.parse(e.FLOWPLANE_RUNTIME_COMMAND) as string[];
    } catch {
      runtimeCommand = undefined;
    }
    if (!Array.isArray(runtimeCommand) || runtimeCommand.length === 0 || !runtimeCommand.every((x) => typeof x === "string")) {
      throw new ConfigError('invalid configuration: FLOWPLANE_RUNTIME_COMMAND must be a JSON array of strings, e.g. ["node", "/opt/flowplane/runtime/main.js"]');
    }
  }
  const gatewayWorkers = e.FLOWPLANE_GATEWAY_WORKERS ?? defaultGatewayWorkers(readCpuMax());
  if (e.FLOWPLANE_GATEWAY_PROXY !== "node" && gatewayWorkers === 0) {
    throw new ConfigError(`invalid configuration: FLOWPLANE_GATEWAY_PROXY: ${e.FLOWPLANE_GATEWAY_PROXY} passes what it does not serve to the gateway workers; FLOWPLANE_GATEWAY_WORKERS must be at least 1`);
  }
  return {
    // `localhost` is 127.0.0.1, with ::1 held beside it (listen-twin.ts): given the name, Fastify
    // would open a second server of its own for ::1, without what flowplane adds to its server
    // (the gateway's path switch, refusal before the body, the body pace).
    host: e.FLOWPLANE_HOST === "localhost" ? "127.0.0.1" : e.FLOWPLANE_HOST,
    port: e.FLOWPLANE_PORT,
    privatePort: e.FLOWPLANE_PRIVATE_PORT,
    dataDir: isAbsolute(e.FLOWPLANE_DATA_DIR) ? e.FLOWPLANE_DATA_DIR : resolve(cwd, e.FLOWPLANE_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    driver: e.FLOWPLANE_DRIVER,
    externalUrl: trim(e.FLOWPLANE_EXTERNAL_URL ?? `http://localhost:${e.FLOWPLANE_PORT}`),
    privateUrl: trim(e.FLOWPLANE_PRIVATE_URL ?? `http://localhost:${e.FLOWPLANE_PRIVATE_PORT}`),
    secretKey: e.FLOWPLANE_SECRET_KEY ? parseKey(e.FLOWPLANE_SECRET_KEY) : undefined,
    bodyLimitBytes: e.FLOWPLANE_BODY_LIMIT_BYTES,
    bodyTimeoutMs: e.FLOWPLANE_BODY_TIMEOUT_SECONDS * 1000,
    connections: {
      // A local deployment's loopback connections, told apart by the uid owning their socket: bound
      // alike on both listeners, whatever bounds addresses (a balancer in front hides addresses,
      // not local uids).
      public: { total: e.FLOWPLANE_MAX_CONNECTIONS, perAddress: e.FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS, perDeployment: e.FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT },
      // Its own setting: on Kubernetes the public listener's clients come through an ingress (one
      // address for all), the private one's from each replica's own pod address.
      // Each IPv6 address its own client there: replicas' pods, which share a node's /64.
      private: { total: e.FLOWPLANE_MAX_CONNECTIONS, perAddress: e.FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS_PRIVATE ?? e.FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS, ipv6Prefix: 128, perDeployment: e.FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT },
    },
    apiBadKeys: { burst: e.FLOWPLANE_API_BAD_KEY_BURST, perSecond: e.FLOWPLANE_API_BAD_KEY_PER_SECOND },
    roles: new Set(roles as Role[]),
    internalUrl: trim(e.FLOWPLANE_INTERNAL_URL ?? `http://127.0.0.1:${e.FLOWPLANE_PORT}`),
    runtimeCommand,
    runtimePassthroughEnv: e.FLOWPLANE_RUNTIME_PASSTHROUGH_ENV.split(",").map((x) => x.trim()).filter(Boolean),
    modelHosts: e.FLOWPLANE_MODEL_HOSTS.trim(),
    lfxBin: e.FLOWPLANE_LFX_BIN,
    runtimeWorkDir: e.FLOWPLANE_RUNTIME_WORK_DIR === undefined ? undefined : resolve(cwd, e.FLOWPLANE_RUNTIME_WORK_DIR),
    runtimeUidBase: e.FLOWPLANE_RUNTIME_UID_BASE,
    runtimeUidCount: DEFAULT_UID_COUNT,
    runtimeScratchBytes: e.FLOWPLANE_RUNTIME_SCRATCH_MIB * 1048576,
    runtimeMaxProcesses: e.FLOWPLANE_RUNTIME_MAX_PROCESSES,
    stopRuntimesOnExit: e.FLOWPLANE_STOP_RUNTIMES_ON_EXIT === "true",
    resyncSeconds: e.FLOWPLANE_RESYNC_SECONDS,
    // Local replicas cost CPU to start (lfx: seconds of it); Kubernetes passes wait on API round trips.
    reconcileConcurrency: e.FLOWPLANE_RECONCILE_CONCURRENCY ?? (e.FLOWPLANE_DRIVER === "kubernetes" ? 32 : 4),
    kubernetes: {
      image: e.FLOWPLANE_RUNTIME_IMAGE, systemNamespace: e.FLOWPLANE_SYSTEM_NAMESPACE, kubeconfig: e.KUBECONFIG, installation: e.FLOWPLANE_INSTALLATION,
      qps: e.FLOWPLANE_KUBERNETES_QPS, burst: e.FLOWPLANE_KUBERNETES_BURST,
      egressExclude: e.FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE.split(",").map(checkCidr).flatMap((c) => (c.ok ? [c.cidr] : [])),
      dns: e.FLOWPLANE_KUBERNETES_DNS,
    },
    gatewayWorkers,
    gatewayProxy: e.FLOWPLANE_GATEWAY_PROXY === "haproxy" ? { kind: "haproxy", bin: e.FLOWPLANE_HAPROXY_BIN, slots: e.FLOWPLANE_HAPROXY_SLOTS, maxConnections: e.FLOWPLANE_HAPROXY_MAXCONN }
      // FLOWPLANE_HAPROXY_MAXCONN bounds the client connections either native proxy holds.
      : e.FLOWPLANE_GATEWAY_PROXY === "nginx" ? { kind: "nginx", bin: e.FLOWPLANE_NGINX_BIN, maxConnections: e.FLOWPLANE_HAPROXY_MAXCONN }
      : { kind: "node" },
    gatewayCors: e.FLOWPLANE_GATEWAY_CORS_ORIGINS,
    logLevel: e.FLOWPLANE_LOG_LEVEL,
    otlpEndpoint: e.FLOWPLANE_OTLP_ENDPOINT ?? null,
    warmRevisionSeconds: e.FLOWPLANE_WARM_REVISION_SECONDS,
    runs: { record: e.FLOWPLANE_RUN_HISTORY === "true", maxAgeHours: e.FLOWPLANE_RUNS_MAX_AGE_HOURS, maxPerDeployment: e.FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT, sweepSeconds: e.FLOWPLANE_RUNS_SWEEP_SECONDS },
    tracesMaxBytesPerDeployment: e.FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT,
    metricsSampleSeconds: e.FLOWPLANE_METRICS_SAMPLE_SECONDS,
    metricsToken: e.FLOWPLANE_METRICS_TOKEN,
  };
}

/** cgroup v2's CPU limit of this process's container ("<quota> <period>", or "max <period>"), or undefined outside one. */
export function readCpuMax(): string | undefined {
  try {
    return readFileSync("/sys/fs/cgroup/cpu.max", "utf8");
  } catch {
    return undefined;
  }
}

/**
 * One gateway worker per core, but no more than the CPU limit rounds up to: a pod limited to one
 * CPU on a 64-core node gets one worker, not 64 (`os.availableParallelism()` counts the node's
 * cores on Node 20). `cpuMax` is cgroup v2's `cpu.max`.
 */
export function defaultGatewayWorkers(cpuMax: string | undefined): number {
  const cores = availableParallelism();
  const [quota, period] = (cpuMax ?? "").trim().split(/\s+/).map(Number);
  if (!quota || !period || !Number.isFinite(quota) || !Number.isFinite(period)) return cores;
  return Math.max(1, Math.min(cores, Math.ceil(quota / period)));
}
