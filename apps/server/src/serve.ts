import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Fastify, { type FastifyInstance } from "fastify";
import { UnauthenticatedError, deriveKey, revisionEndpointsKey, type Logger, type RuntimeDriver, type RuntimeIsolation, type Store } from "@flowplane/core";
import type { KubeConfig } from "@flowplane/driver-kubernetes";
import { LocalDriver } from "@flowplane/driver-local";
import { findLfxBin } from "@flowplane/engine-lfx";
import type { RootLogger } from "@flowplane/logging";
import { ensureOrgOwner, loadInstanceId, loadSecretKey } from "./bootstrap.js";
import type { Config } from "./config.js";
import { createControlPlane } from "./control-plane.js";
import { RateLimiter, registerGateway, type GatewayOptions } from "./gateway/index.js";
import { storeRouteResolver } from "./gateway-routes.js";
import { IdleController } from "./idle/idle-controller.js";
import { DeploymentSampler } from "./deployment-metrics/sampler.js";
import { PublishedEndpoints } from "./endpoints/published-endpoints.js";
import { answerUnknownPaths, fastifyLogging } from "./http/logging.js";
import { createMetrics, registerMetricsRoute } from "./metrics.js";
import { BufferedRunRecorder } from "./runs/recorder.js";
import { RunRetentionSweeper } from "./runs/retention.js";
import { createOtlpExporter } from "./traces/otlp.js";
import { Reconciler } from "./reconciler/reconciler.js";
import { locateWebRoot, registerWeb } from "./web.js";

/**
 * The runtime replica command: `flowplane-runtime` from this install (its bin, which runs the
 * bundled runtime when that is fresh: a shorter cold start), unless configured. V8's young
 * generation is capped at 8 MiB per semi-space (16 by default): a replica under load holds about
 * 14 MiB less for the same CPU time per request (docs/contracts.md, "What a replica costs"; the
 * runtime image's entrypoint and bench/lib/common.mjs start it the same way).
 */
function runtimeCommand(config: Config): string[] {
  if (config.runtimeCommand) return config.runtimeCommand;
  return [process.execPath, "--max-semi-space-size=8", fileURLToPath(new URL("../bin/flowplane-runtime.js", import.meta.resolve("@flowplane/runtime")))];
}

/**
 * The Kubernetes driver's module (and its client library) is loaded only when it is used:
 * importing it takes seconds, which every start on the local driver, and so every restart
 * after a crash, would otherwise pay before the gateway serves again.
 */
/** The operator's model hosts (FLOWPLANE_MODEL_HOSTS) as manifest options: runtime env and NetworkPolicy egress. */
function modelHostsOf(config: Config): { modelHosts?: string[] } {
  const hosts = config.modelHosts.split(",").map((h) => h.trim()).filter(Boolean);
  return hosts.length ? { modelHosts: hosts } : {};
}

const kubernetesModule = () => import("@flowplane/driver-kubernetes");

async function kubeConfigOf(config: Config): Promise<KubeConfig> {
  const { KubeConfig } = await kubernetesModule();
  const kc = new KubeConfig();
  if (config.kubernetes.kubeconfig) kc.loadFromFile(config.kubernetes.kubeconfig);
  else kc.loadFromCluster();
  return kc;
}

async function createDriver(config: Config, kubeConfig: KubeConfig | undefined, secretKey: Buffer, log: Logger): Promise<RuntimeDriver> {
  if (kubeConfig) {
    const { image, systemNamespace, installation } = config.kubernetes;
    const { KubernetesDriver } = await kubernetesModule();
    return KubernetesDriver.create({ kubeConfig, image, systemNamespace, installation, checksumKey: deriveKey(secretKey, "manifest checksum"), log, ...modelHostsOf(config) });
  }
  const baseEnv: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  for (const name of config.runtimePassthroughEnv) {
    const v = process.env[name];
    if (v !== undefined) baseEnv[name] = v;
  }
  if (config.modelHosts) baseEnv.FLOWPLANE_MODEL_HOSTS = config.modelHosts;
  const lfxBin = findLfxBin(config.lfxBin);
  return LocalDriver.create({
    root: join(config.dataDir, "deployments"), command: runtimeCommand(config), baseEnv, log,
    // Replicas never see the data folder, even when it lies inside the install they run from.
    isolation: { hide: [config.dataDir], uidBase: config.runtimeUidBase, ...(config.runtimeWorkDir ? { workRoot: config.runtimeWorkDir } : {}), ...(lfxBin ? { lfxBin } : {}) },
  });
}

/**
 * The reconciler's lease holder name. With the local driver it names the data folder (its
 * instance id), not the process: only the process that owns the folder can drive its replicas
 * (they are adopted from its state files), so a control plane restarted after a crash
 * (kill -9) takes its leases back at once instead of waiting for the dead process's leases to
 * expire. Elsewhere (Kubernetes, several control planes) it is unique per process.
 */
async function leaseHolder(config: Config): Promise<string> {
  if (config.driver === "local") return `local:${hostname()}:${await loadInstanceId(config.dataDir)}`;
  return `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
}

/**
 * The composition of a control-plane process once its database is open: the roles it was
 * given (API, gateway listeners, reconciler with a driver), then the banner, then it runs
 * until SIGINT or SIGTERM. main.ts loads this module while the database opens.
 */
export async function serve({ config, log, store }: { config: Config; log: RootLogger; store: Store }): Promise<void> {
  const secretKey = await loadSecretKey(config.dataDir, config.secretKey);
  const metrics = createMetrics();
  let reconciler: Reconciler | undefined;
  let idle: IdleController | undefined;
  const kubeConfig = config.driver === "kubernetes" ? await kubeConfigOf(config) : undefined;
  const tokenReviewVerifier = kubeConfig ? (await kubernetesModule()).tokenReviewVerifier : undefined;
  const roles = config.roles;
  // A driver supervises: with the local driver only the reconciler's process may run one (two
  // on one folder would adopt, probe and kill each other's replicas). A gateway without the
  // reconciler reads the endpoints the reconciler publishes (endpoints/README.md); the
  // Kubernetes driver's gateway-side instance only watches pods.
  const driver = roles.has("reconciler") || (roles.has("gateway") && config.driver === "kubernetes")
    ? await createDriver(config, kubeConfig, secretKey, log)
    : undefined;
  // The metrics endpoint's sampler (deployment-metrics/): where the driver runs. In-flight counts
  // come from the gateway's activity reports, which reach the idle controller only when the
  // gateway runs in this process too.
  const sampler = driver && roles.has("reconciler")
    ? new DeploymentSampler({
      targets: () => store.listActiveDeployments(), driver, log,
      ...(roles.has("gateway") ? { inFlight: (id: string) => idle?.inFlight(id) ?? 0 } : {}),
      periodMs: config.metricsSampleSeconds * 1000,
    })
    : undefined;
  // Runs' traces to an OpenTelemetry collector, when one is configured (the SDK loads at the first trace).
  const traceExporter = config.otlpEndpoint ? createOtlpExporter({ endpoint: config.otlpEndpoint, log }) : undefined;
  const cp = createControlPlane({
    ...(traceExporter ? { traceExporter } : {}),
    kubernetes: { image: config.kubernetes.image, systemNamespace: config.kubernetes.systemNamespace, installation: config.kubernetes.installation, ...modelHostsOf(config) },
    internalUrl: config.internalUrl,
    // In a cluster, replicas prove who they are with their projected ServiceAccount token.
    ...(kubeConfig && tokenReviewVerifier ? { verifier: tokenReviewVerifier({ kubeConfig, deploymentFor: async (name) => (await store.findDeploymentByResourceName(name))?.id ?? null }) } : {}),
    store,
    secretKey,
    urls: { public: config.externalUrl, private: config.privateUrl },
    bodyLimit: config.bodyLimitBytes,
    warmRevisionSeconds: config.warmRevisionSeconds,
    logger: log,
    notify: (id) => reconciler?.enqueue(id),
    // The logs endpoint reads through this process's driver (docs/runs-and-logs.md).
    ...(driver ? { logs: driver } : {}),
    ...(sampler ? { sampler } : {}),
  });
  // Only the API's process keeps admin.key: a process without the API role (a gateway with a
  // data folder of its own) would find no admin.key there and rotate the owner's key.
  const admin = roles.has("api") ? await ensureOrgOwner({ store, identity: cp.identity, dataDir: config.dataDir, now: () => new Date() }) : undefined;
  if (driver?.isolation.mode === "none") log.warn({ isolation: driver.isolation.detail }, "replicas are NOT isolated: a flow can read the data folder (admin key, secret key, database)");
  const published = roles.has("gateway") && !driver
    ? await PublishedEndpoints.start({ store, log })
    : undefined;
  // With a revision: that revision's replicas only (the traffic split; docs/revisions.md).
  const endpoints = driver
    ? (name: string, revision?: number) => driver.endpoints(name, revision)
    : published ? (name: string, revision?: number) => published.endpoints(revision === undefined ? name : revisionEndpointsKey(name, revision)) : undefined;

  // Without the API role the public listener still serves the gateway (and /metrics).
  const app: FastifyInstance = roles.has("api") ? cp.app : Fastify({ ...fastifyLogging(log), bodyLimit: config.bodyLimitBytes });
  if (!roles.has("api")) answerUnknownPaths(app);
  let privateApp: FastifyInstance | undefined;
  // The run history (docs/runs-and-logs.md): gateways record, the API's process enforces retention.
  const runs = roles.has("gateway") && config.runs.record ? new BufferedRunRecorder({ store, registry: metrics.registry, log }) : undefined;
  const retention = roles.has("api")
    ? new RunRetentionSweeper({ store, log, intervalMs: config.runs.sweepSeconds * 1000, retention: { maxAgeMs: config.runs.maxAgeHours * 3_600_000, maxPerDeployment: config.runs.maxPerDeployment } })
    : undefined;
  if (roles.has("gateway") && endpoints) {
    // One limiter for both listeners: a deployment's limits count its calls on either. With N
    // gateway processes, each gets share 1/N of every limit (rate-limit.ts); this process is the only one.
    const rateLimiter = new RateLimiter({ share: 1, onRefused: (reason) => metrics.gatewayRateLimited.inc({ reason }) });
    // Scale to zero needs the gateway's activity in the reconciler's process (idle-controller.ts);
    // a gateway elsewhere holds and wakes nothing, and then no deployment is put to sleep either.
    if (roles.has("reconciler") && driver) {
      idle = new IdleController({ store, endpoints, notify: (id) => reconciler?.enqueue(id), log, sweepMs: 2_000 });
    }
    const gateway = (listener: "public" | "private"): GatewayOptions => ({
      rateLimiter,
      ...(idle ? { idle } : {}),
      listener,
      resolveRoute: storeRouteResolver(store),
      // Half the gateway's longest route cache: a rollback to a warm revision or a canary's
      // promote/abort moves calls as soon as the route is read again (bench/rollback.mjs: the
      // goal is 1 s from the API call). One indexed read per active route per 0.5 s.
      routeCacheTtlMs: 500,
      // Only "no such key" is a null; a database failure must surface (uncached 500), not be cached as a 401.
      authenticate: (key) => cp.identity.authenticate(key).catch((e: unknown) => {
        if (e instanceof UnauthenticatedError) return null;
        throw e;
      }),
      endpoints,
      gatewaySecret: cp.gatewaySecrets,
      bodyLimit: config.bodyLimitBytes,
      metrics,
      ...(runs ? { runs } : {}),
    });
    await registerGateway(app, gateway("public"));
    privateApp = Fastify({ ...fastifyLogging(log), bodyLimit: config.bodyLimitBytes });
    answerUnknownPaths(privateApp);
    await registerGateway(privateApp, gateway("private"));
  }
  // Metrics name routes and deployments: served on the private listener when there is one.
  registerMetricsRoute(privateApp ?? app, metrics);
  if (roles.has("api")) await registerWeb(app, { root: locateWebRoot() }); // the web UI at `/` (web.ts)

  if (roles.has("reconciler") && driver) {
    reconciler = new Reconciler({
      store, driver, credentials: cp.credentials, tokens: cp.tokens, gatewaySecret: cp.gatewaySecrets,
      bundleUrl: (id) => `${config.internalUrl}/internal/v1/deployments/${id}/bundle`,
      maxBodyBytes: config.bodyLimitBytes,
      holder: await leaseHolder(config),
      resyncMs: config.resyncSeconds * 1000,
      concurrency: config.reconcileConcurrency,
      // Cheap (a write only when a set changes), and what lets gateways run in other processes.
      publishEndpoints: config.driver === "local",
      log,
      metrics: {
        observeReconcile: (s, result) => metrics.reconcileDuration.observe({ result: result === "skipped" ? "requeued" : result }, s),
        setPhaseCounts: (counts) => {
          metrics.deploymentsByPhase.reset();
          for (const [phase, n] of Object.entries(counts)) metrics.deploymentsByPhase.set({ phase }, n);
        },
      },
    });
  }

  await app.listen({ host: config.host, port: config.port });
  if (privateApp) await privateApp.listen({ host: config.host, port: config.privatePort });
  reconciler?.start();
  retention?.start();
  idle?.start();
  sampler?.start();

  const where = config.databaseUrl ? "PostgreSQL (DATABASE_URL)" : `PGlite in ${join(config.dataDir, "pglite")}`;
  process.stdout.write(
    `flowplane is running at ${config.externalUrl} (roles: ${[...roles].join(", ")})\n` +
    (roles.has("api") ? `  web UI:    ${config.externalUrl}/ (sign in with the admin key)\n` : "") +
    `  API:       ${config.externalUrl}/api/v1 (OpenAPI: ${config.externalUrl}/api/v1/openapi.json)\n` +
    (privateApp ? `  gateway:   public ${config.externalUrl}, private ${config.privateUrl}\n` : "") +
    `  storage:   ${where}\n` +
    (driver ? isolationLine(driver.isolation) : "") +
    (admin ? `  admin key: ${admin.path}${admin.created ? " (new)" : ""} - send it as the x-access-key header\n` : "  admin key: kept by the process with the api role\n"));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    idle?.stop();
    await sampler?.stop();
    await reconciler?.stop();
    if (driver && config.stopRuntimesOnExit) for (const name of await driver.list()) await driver.delete(name);
    await driver?.close();
    await published?.close();
    await privateApp?.close();
    await app.close();
    // After the listeners: the calls they finished are recorded too.
    await runs?.close();
    await retention?.close();
    await traceExporter?.close();
    await store.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}


/** The banner's isolation line: loud when replicas can read the data folder. */
function isolationLine(i: RuntimeIsolation): string {
  if (i.mode === "none") return `  isolation: WARNING - NOT ISOLATED: ${i.detail}\n`;
  return `  isolation: ${i.mode} - ${i.detail}\n`;
}

