import type { Server as NetServer } from "node:net";
import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { REPLICA_NODE_FLAGS, UnauthenticatedError, deriveKey, revisionEndpointsKey, type DnsPeer, type Logger, type RuntimeDriver, type RuntimeIsolation, type Store } from "@flowplane/core";
import type { KubeConfig } from "@flowplane/driver-kubernetes";
import { LocalDriver, emptyUid, evictReplicaListeners } from "@flowplane/driver-local";
import { holdTwin, twinHost } from "./listen-twin.js";
import { ConnectionCap, capConnections } from "./http/connection-cap.js";
import { LocalPeers } from "./http/local-peers.js";
import { findLfxBin } from "@flowplane/engine-lfx";
import type { RootLogger } from "@flowplane/logging";
import { ensureOrgOwner, loadInstanceId, loadSecretKey } from "./bootstrap.js";
import { AdminKeyProver } from "./http/admin-key-proof.js";
import type { Config } from "./config.js";
import { createControlPlane } from "./control-plane.js";
import { RateLimiter, createGateway, serveGatewayPaths, type Gateway, type GatewaySources, type Listener } from "./gateway/index.js";
import { DataPlane } from "./data-plane/supervisor.js";
import { frontAccount, makeFrontFolder, type FrontFolder } from "./fast-path/front-account.js";
import { HaproxyFront } from "./haproxy/front.js";
import { NginxFront } from "./nginx/front.js";
import { storeRouteResolver } from "./gateway-routes.js";
import { IdleController } from "./idle/idle-controller.js";
import { DeploymentSampler } from "./deployment-metrics/sampler.js";
import { PublishedEndpoints } from "./endpoints/published-endpoints.js";
import { checkListenerTable } from "./gateway/listener-table.js";
import { answerUnknownPaths } from "./http/logging.js";
import { listenerApp } from "./http/listener.js";
import { DEFAULT_BODY_PACE, enforceBodyPace } from "./http/body-pace.js";
import { createMetrics, registerMetricsRoute } from "./metrics.js";
import { metricsAccess } from "./metrics-access.js";
import { BufferedRunRecorder } from "./runs/recorder.js";
import { RunRetentionSweeper } from "./runs/retention.js";
import { createOtlpExporter } from "./traces/otlp.js";
import { Reconciler } from "./reconciler/reconciler.js";
import { locateWebRoot, registerWeb } from "./web.js";
import { BodyBudget, bodyBudgetLimits } from "./http/body-budget.js";

/** How long a data-plane worker waits for its control plane to answer a key, route or wake lookup before answering 504. */
const LOOKUP_TIMEOUT_MS = 5_000;
/** The gateway's route cache TTL (its maximum, gateway/admission.ts) where changes are pushed. */
const ROUTE_TTL_MS = 1_000;

/**
 * The runtime replica command: `flowplane-runtime` from this install (its bin, which runs the
 * bundled runtime when that is fresh: a shorter cold start), with core's REPLICA_NODE_FLAGS,
 * unless configured.
 */
function runtimeCommand(config: Config): string[] {
  if (config.runtimeCommand) return config.runtimeCommand;
  return [process.execPath, ...REPLICA_NODE_FLAGS, fileURLToPath(new URL("../bin/flowplane-runtime.js", import.meta.resolve("@flowplane/runtime")))];
}

/** A key the store does not know (unknown, expired, revoked) is a null; anything else (the database failing) stays an error. */
function unknownKeyIsNull(e: unknown): null {
  if (e instanceof UnauthenticatedError) return null;
  throw e;
}

/**
 * The operator's network settings as manifest options: the model hosts (FLOWPLANE_MODEL_HOSTS:
 * runtime env and NetworkPolicy egress), the ranges egress must not reach
 * (FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE) and where DNS queries may go (FLOWPLANE_KUBERNETES_DNS).
 */
function networkOptionsOf(config: Config): { modelHosts?: string[]; egressExclude?: string[]; dns: DnsPeer[] } {
  const hosts = config.modelHosts.split(",").map((h) => h.trim()).filter(Boolean);
  const exclude = config.kubernetes.egressExclude;
  return { ...(hosts.length ? { modelHosts: hosts } : {}), ...(exclude.length ? { egressExclude: exclude } : {}), dns: config.kubernetes.dns };
}

/**
 * The Kubernetes driver's module (and its client library) is loaded only when it is used:
 * importing it takes seconds, which every start on the local driver, and so every restart
 * after a crash, would otherwise pay before the gateway serves again.
 */
const kubernetesModule = () => import("@flowplane/driver-kubernetes");

async function kubeConfigOf(config: Config): Promise<KubeConfig> {
  // Keep-alive connections to the API server (PooledKubeConfig): not a TLS handshake per request.
  const { PooledKubeConfig } = await kubernetesModule();
  const kc = new PooledKubeConfig();
  if (config.kubernetes.kubeconfig) kc.loadFromFile(config.kubernetes.kubeconfig);
  else kc.loadFromCluster();
  return kc;
}

async function createDriver(config: Config, kubeConfig: KubeConfig | undefined, secretKey: Buffer, log: Logger): Promise<RuntimeDriver> {
  if (kubeConfig) {
    const { image, systemNamespace, installation, qps, burst } = config.kubernetes;
    const { KubernetesDriver } = await kubernetesModule();
    return KubernetesDriver.create({ kubeConfig, image, systemNamespace, installation, qps, burst, checksumKey: deriveKey(secretKey, "manifest checksum"), log, ...networkOptionsOf(config) });
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
    isolation: { hide: [config.dataDir], uidBase: config.runtimeUidBase, uidCount: config.runtimeUidCount, scratchBytes: config.runtimeScratchBytes, maxProcesses: config.runtimeMaxProcesses, ...(config.runtimeWorkDir ? { workRoot: config.runtimeWorkDir } : {}), ...(lfxBin ? { lfxBin } : {}) },
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
  // The gateways in this process, and the data plane's workers: told when a deployment changes.
  const gateways: Gateway[] = [];
  let dataPlane: DataPlane | undefined;
  /** flowplane's native proxy in front of the workers (FLOWPLANE_GATEWAY_PROXY haproxy or nginx), if any. */
  let front: HaproxyFront | NginxFront | undefined;
  /** Where that proxy, run as an unprivileged account, meets the workers (fast-path/front-account.ts); removed at the end. */
  let frontFolder: FrontFolder | undefined;
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
  // Made at each start, held by this process and its gateway workers only (http/relayed-client.ts).
  const relaySecret = randomBytes(32).toString("base64url");
  // One body budget for this process: the API's bodies and those of the gateway it serves itself.
  const bodyBudget = new BodyBudget(bodyBudgetLimits(config.bodyLimitBytes));
  // The CLI's admin-key challenge names the public listener, the one a CLI on this machine calls:
  // its port and the addresses held at it (the twin once holdTwins has it).
  let publicTwin: string | null = null;
  const adminKeyProver = roles.has("api") ? new AdminKeyProver(() => ({ port: config.port, addresses: publicTwin ? [config.host, publicTwin] : [config.host] })) : undefined;
  const cp = createControlPlane({
    bodyBudget,
    ...(adminKeyProver ? { adminKeyProver } : {}),
    ...(traceExporter ? { traceExporter } : {}),
    traceMaxBytes: config.tracesMaxBytesPerDeployment,
    relaySecret,
    badKeyBudget: config.apiBadKeys,
    kubernetes: { image: config.kubernetes.image, systemNamespace: config.kubernetes.systemNamespace, installation: config.kubernetes.installation, ...networkOptionsOf(config) },
    internalUrl: config.internalUrl,
    // In a cluster, replicas prove who they are with their projected ServiceAccount token.
    ...(kubeConfig && tokenReviewVerifier ? { verifier: tokenReviewVerifier({ kubeConfig, installation: config.kubernetes.installation, deploymentFor: async (name) => (await store.findDeploymentByResourceName(name))?.id ?? null }) } : {}),
    store,
    secretKey,
    urls: { public: config.externalUrl, private: config.privateUrl },
    bodyLimit: config.bodyLimitBytes,
    warmRevisionSeconds: config.warmRevisionSeconds,
    logger: log,
    notify: (id) => {
      reconciler?.enqueue(id);
      // Undeployed, disabled or edited: the gateways drop their cached routes now, not within 1 s.
      for (const g of gateways) g.forgetRoutes();
      dataPlane?.forgetRoutes();
      front?.forgetRoutes(id);
    },
    // The logs endpoint reads through this process's driver (docs/runs-and-logs.md).
    ...(driver ? { logs: driver } : {}),
    ...(sampler ? { sampler } : {}),
  });
  // Only the API's process keeps admin.key: a process without the API role (a gateway with a
  // data folder of its own) would find no admin.key there and rotate the owner's key.
  const admin = roles.has("api") ? await ensureOrgOwner({ store, identity: cp.identity, dataDir: config.dataDir, now: () => new Date() }) : undefined;
  if (admin) adminKeyProver?.hold(admin.key);
  if (driver?.isolation.mode === "none") log.warn({ isolation: driver.isolation.detail }, "replicas are NOT isolated: a flow can read the data folder (admin key, secret key, database)");
  // Each connection to a local replica is checked in /proc/net/tcp (gateway/forward.ts): a process that cannot see its own listeners there must not start as a gateway.
  if (roles.has("gateway") && config.driver === "local") await checkListenerTable();
  const published = roles.has("gateway") && !driver
    ? await PublishedEndpoints.start({ store, log })
    : undefined;
  // With a revision: that revision's replicas only (the traffic split; docs/revisions.md).
  const endpoints = driver
    ? (name: string, revision?: number) => driver.endpoints(name, revision)
    : published ? (name: string, revision?: number) => published.endpoints(revision === undefined ? name : revisionEndpointsKey(name, revision)) : undefined;

  // Without the API role the public listener still serves the gateway (and /metrics).
  // Built as the API's and the private listener's are (http/listener.ts): the one error shape.
  const app: FastifyInstance = roles.has("api") ? cp.app : listenerApp({ logger: log, bodyLimit: config.bodyLimitBytes });
  if (!roles.has("api")) answerUnknownPaths(app);
  let privateApp: FastifyInstance | undefined;
  let sources: GatewaySources | undefined;
  // The run history (docs/runs-and-logs.md): gateways record, the API's process enforces retention.
  const runs = roles.has("gateway") && config.runs.record ? new BufferedRunRecorder({ store, registry: metrics.registry, log, maxPerDeployment: config.runs.maxPerDeployment }) : undefined;
  const retention = roles.has("api")
    ? new RunRetentionSweeper({ store, log, intervalMs: config.runs.sweepSeconds * 1000, retention: { maxAgeMs: config.runs.maxAgeHours * 3_600_000, maxPerDeployment: config.runs.maxPerDeployment } })
    : undefined;
  if (roles.has("gateway") && endpoints) {
    // Scale to zero needs the gateway's activity in the reconciler's process (idle-controller.ts);
    // a gateway elsewhere holds and wakes nothing, and then no deployment is put to sleep either.
    // (The data-plane workers report to it over IPC: data-plane/supervisor.ts.)
    if (roles.has("reconciler") && driver) {
      idle = new IdleController({ store, endpoints, notify: (id) => reconciler?.enqueue(id), log, sweepMs: 2_000 });
    }
    sources = {
      resolveRoute: storeRouteResolver(store),
      // Only "no such key" is a null; a database failure must surface (uncached 500), not be cached as a 401.
      authenticate: (key) => cp.identity.authenticate(key).catch(unknownKeyIsNull),
      endpoints,
      // Each new connection to a local replica is checked against the listener its driver made (gateway/forward.ts).
      ...(driver?.replicaListener ? { replicaListener: (resourceName: string, endpoint: string) => driver.replicaListener?.(resourceName, endpoint) }
        : published ? { replicaListener: (resourceName: string, endpoint: string) => published.replicaListener(resourceName, endpoint) } : {}),
      gatewaySecret: cp.gatewaySecrets,
    };
    // Its 408s (body-pace.ts), parser and router refusals in the one error shape, as the public listener's (http/listener.ts).
    privateApp = listenerApp({ logger: log, bodyLimit: config.bodyLimitBytes });
    answerUnknownPaths(privateApp);
  }
  // Metrics name routes and deployments: served on the private listener when there is one, with
  // the data-plane workers' counters summed in; only to the metrics token or an org owner's key,
  // since replicas (tenants' flows) reach that listener (metrics-access.ts).
  registerMetricsRoute(privateApp ?? app, metrics, {
    access: metricsAccess({ token: config.metricsToken, authenticate: (key) => cp.identity.authenticate(key), failures: cp.authFailures }),
    others: async () => (dataPlane ? dataPlane.metrics() : []),
    relaySecret,
  });
  if (roles.has("api")) await registerWeb(app, { root: locateWebRoot() }); // the web UI at `/` (web.ts)

  if (roles.has("reconciler") && driver) {
    reconciler = new Reconciler({
      store, driver, credentials: cp.credentials, tokens: cp.tokens, gatewaySecret: cp.gatewaySecrets,
      bundleUrl: (id) => `${config.internalUrl}/internal/v1/deployments/${id}/bundle`,
      maxBodyBytes: config.bodyLimitBytes,
      holder: await leaseHolder(config),
      // PGlite's folder is locked to this process: no other control plane can reconcile, no lease is needed.
      storeIsOwn: !config.databaseUrl,
      resyncMs: config.resyncSeconds * 1000,
      concurrency: config.reconcileConcurrency,
      // The Kubernetes driver's watches wake a deployment's pass at each change of its pods and its
      // Deployment: an unsettled one is polled every 5 s as a safety net, not every 300 ms (at a
      // thousand starting at once, those polls were most of the passes; at 2 s still half of them,
      // docs/kubernetes-at-scale.md).
      // A burst of watch events (a new Deployment's ReplicaSet, pod, scheduling, readiness) makes one pass.
      ...(config.driver === "kubernetes" ? { busyRequeueMs: 5_000, changeDelayMs: 250 } : {}),
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

  await listenAll();
  // The same ports on the other loopback family, served here too, so no replica can take them (listen-twin.ts).
  const twins = await holdTwins();
  reconciler?.start();
  retention?.start();
  idle?.start();
  sampler?.start();

  /**
   * The listeners (docs/gateway.md). With gateway workers, they own the public and private
   * ports and hand this process every connection that is not for a gateway route; this process
   * listens on loopback only, for the rare request a worker passes through. Without workers (or
   * without the gateway role), this process listens itself. Either way this process runs the
   * same gateway pipeline behind a path switch, for gateway paths on the connections it serves.
   */
  async function listenAll(): Promise<void> {
    await app.ready();
    await privateApp?.ready();
    for (const [port] of ownPorts()) await evictSquatters(port);
    const workers = sources && privateApp ? config.gatewayWorkers : 0;
    // How long a route answer is cached. Where this process has the API, every change of a
    // deployment (a rollback, a canary's promote or abort, an edit, the kill switch) reaches
    // its gateways and workers at once (`notify` above: forgetRoutes), so the TTL only bounds
    // what changes with time (a warm revision's grace period ending). A gateway without the API
    // (split roles) learns of changes only by reading again: half as long, so a rollback to a
    // warm revision is live there within 0.5 s too (bench/rollback.mjs: goal 1 s).
    const routeCacheTtlMs = roles.has("api") ? ROUTE_TTL_MS : ROUTE_TTL_MS / 2;
    // FLOWPLANE_GATEWAY_PROXY=haproxy or nginx (docs/gateway.md): the proxy takes the public port;
    // the workers' public listener moves to a Unix socket in the proxy's folder behind it. What the
    // gateways look up (routes, keys) is what the proxy is programmed with.
    const proxy = config.gatewayProxy;
    const fronted = Boolean(sources && privateApp && workers > 0 && proxy.kind !== "node");
    // As root, the proxy runs as an account of its own, its files and the workers' socket in that
    // account's folder, the data folder closed to it (fast-path/front-account.ts). Otherwise it runs
    // as this user, its files and the socket in its folder in the data folder.
    const account = fronted ? frontAccount({ uid: process.getuid?.(), replicaUids: { base: config.runtimeUidBase, count: config.runtimeUidCount }, port: config.port }) : undefined;
    frontFolder = account ? await makeFrontFolder(account, { dataDir: config.dataDir, proxy: proxy.kind, endAll: emptyUid }) : undefined;
    const behindProxy = fronted
      ? {
        path: join(frontFolder?.socketDir ?? join(config.dataDir, proxy.kind), "node.sock"),
        clientAddress: proxy.kind === "nginx" ? "header" as const : "proxy-line" as const,
        ...(account ? { owner: account } : {}),
      }
      : undefined;
    const dropTo = account && frontFolder ? { account, folder: frontFolder } : undefined;
    const keyByHash = (hash: string) => cp.identity.authenticateKeyHash(hash).catch(unknownKeyIsNull);
    try {
      if (behindProxy && proxy.kind === "haproxy") {
        front = await HaproxyFront.start({
          bin: proxy.bin, slots: proxy.slots, maxConnections: proxy.maxConnections, dataDir: config.dataDir, bind: { host: config.host, port: config.port },
          node: behindProxy, threads: workers, sources: sources!, log, metrics, ...(runs ? { runs } : {}), cors: config.gatewayCors.mode !== "off", keyByHash, ...(dropTo ? { dropTo } : {}),
        });
      } else if (behindProxy && proxy.kind === "nginx") {
        front = await NginxFront.start({
          bin: proxy.bin, maxConnections: proxy.maxConnections, dataDir: config.dataDir, bind: { host: config.host, port: config.port },
          node: behindProxy, workers, sources: sources!, log, metrics, ...(runs ? { runs } : {}), cors: config.gatewayCors.mode !== "off", keyByHash, ...(dropTo ? { dropTo } : {}),
        });
      }
    } catch (err) {
      await frontFolder?.remove(); // the process ends on this error: nothing of the front's is left behind
      throw err;
    }
    const gatewaySources = sources && front ? front.observing(sources) : sources;
    // A local replica ready or gone: the front is reprogrammed at once, not at its next tick (it
    // cannot check a connection to a dead replica's port as the Node gateway does). Kubernetes
    // endpoints are Services, which a pod's end does not change.
    if (front && driver && config.driver === "local") {
      const programmed = front;
      driver.onChange(() => programmed.endpointsChanged());
    }
    if (sources && privateApp) {
      // One limiter for both listeners: a deployment's limits count its calls on either. With N
      // workers, each worker enforces 1/N of every limit (rate-limit.ts, docs/gateway.md); the
      // gateway calls this process serves itself (a gateway path on a kept-alive API connection)
      // to a limited deployment are admitted by a worker (`elsewhere`), so they count against a
      // worker's share, not one more of this process's. Its own counters (1/N) decide only with
      // no worker, or one that does not answer.
      const rateLimiter = new RateLimiter({
        share: 1 / Math.max(1, workers), onRefused: (reason) => metrics.gatewayRateLimited.inc({ reason }),
        elsewhere: (route, keyHash) => dataPlane?.admit(route, keyHash) ?? null,
      });
      const inProcess = (listener: Listener, server: typeof app.server) => {
        const g = createGateway({ ...gatewaySources!, listener, bodyLimit: config.bodyLimitBytes, metrics, log, rateLimiter, bodyBudget, routeCacheTtlMs, cors: config.gatewayCors, ...(idle ? { idle } : {}), ...(runs ? { runs } : {}) });
        gateways.push(g);
        serveGatewayPaths(server, g);
      };
      inProcess("public", app.server);
      inProcess("private", privateApp.server);
    }
    // Every request body the control plane's own listeners read keeps a pace (Fastify bounds none:
    // a body sent a byte a minute held its connection for ever); the workers hold theirs to the
    // same. Installed after every other request listener (the path switch replaces them).
    for (const server of [app.server, privateApp?.server]) {
      if (!server) continue;
      const stop = enforceBodyPace(server, { ...DEFAULT_BODY_PACE, graceMs: config.bodyTimeoutMs });
      server.once("close", stop);
    }
    // Every connection either server gets, in one count per listener (http/connection-cap.ts): those
    // it accepts itself, its ::1 twin's, those the workers hand over (counted by the client their
    // PROXY line named: adoptConnection sets it first) and the workers' relays to it.
    // A local deployment's loopback connections are bound by the uid owning their socket
    // (http/local-peers.ts): where the local driver gives each deployment a uid of its own (root,
    // and not isolation `none`, where replicas run as this process's user). One reader of the
    // tables for both listeners, the workers each their own.
    const deploymentUids = config.driver === "local" && process.getuid?.() === 0 && driver?.isolation.mode !== "none"
      ? { base: config.runtimeUidBase, count: config.runtimeUidCount }
      : undefined;
    const peers = deploymentUids ? new LocalPeers({ deploymentUids, log }) : undefined;
    capConnections(app.server, new ConnectionCap(config.connections.public, { ...(peers ? { peers } : {}) }));
    if (privateApp) capConnections(privateApp.server, new ConnectionCap(config.connections.private, { ...(peers ? { peers } : {}) }));
    if (sources && privateApp && workers > 0) {
      const loopback = { host: "127.0.0.1", port: 0 };
      const controlPlane = { public: await app.listen(loopback), private: await privateApp.listen(loopback) };
      dataPlane = await DataPlane.start({
        workers, sources: gatewaySources!, log, servers: { public: app.server, private: privateApp.server },
        ...(idle ? { idle } : {}), ...(runs ? { runs } : {}), 
        settings: {
          ...(behindProxy ? { behindProxy } : {}),
          host: config.host, ports: { public: config.port, private: config.privatePort }, controlPlane, relaySecret, bodyLimit: config.bodyLimitBytes, bodyTimeoutMs: config.bodyTimeoutMs, connections: config.connections, ...(deploymentUids ? { deploymentUids } : {}), logLevel: config.logLevel,
          share: 1 / workers, idle: Boolean(idle), runs: Boolean(runs), lookupTimeoutMs: LOOKUP_TIMEOUT_MS, routeCacheTtlMs, cors: config.gatewayCors,
        },
      });
      const plane = dataPlane;
      if (driver && config.driver === "local") driver.onChange((resourceName) => plane.endpointsChanged(resourceName));
      return;
    }
    await app.listen({ host: config.host, port: config.port });
    if (privateApp) await privateApp.listen({ host: config.host, port: config.privatePort });
  }

  /** This process's own listening ports (0: none asked), each with the server that answers it. */
  function ownPorts(): [number, FastifyInstance["server"]][] {
    return ([[config.port, app.server], ...(privateApp ? [[config.privatePort, privateApp.server]] : [])] as [number, FastifyInstance["server"]][]).filter(([port]) => port > 0);
  }

  /**
   * Local replicas share this machine's network and live on while this process restarts: one
   * whose flow listens on this process's port would answer its clients, keys and all, and keep it
   * from starting. Such a replica's deployment is ended (driver-local squatters.ts). True when one was.
   */
  async function evictSquatters(port: number): Promise<boolean> {
    if (config.driver !== "local") return false;
    const e = await evictReplicaListeners({ tcpPort: port }, { base: config.runtimeUidBase, count: config.runtimeUidCount });
    if (e.evicted.length > 0) log.warn({ port, uids: e.evicted }, "a replica was listening on this port while flowplane was down: every process of its deployment's uid was ended");
    return e.evicted.length > 0;
  }

  /** The same ports on the other loopback family, served by the same servers (listen-twin.ts). */
  async function holdTwins(): Promise<NetServer[]> {
    const host = twinHost(config.host);
    const held: NetServer[] = [];
    if (!host) return held;
    for (const [port, server] of ownPorts()) {
      let r = await holdTwin(host, port, server);
      if (r.state === "taken" && (await evictSquatters(port))) r = await holdTwin(host, port, server);
      if (r.state === "held") {
        held.push(r.server);
        if (port === config.port) publicTwin = host;
      } else if (r.state === "taken") log.warn({ address: `[${host}]:${port}` }, "another process listens on this port at the other loopback address: clients that resolve the name to it reach that process, not flowplane");
    }
    return held;
  }

  const where = config.databaseUrl ? "PostgreSQL (DATABASE_URL)" : `PGlite in ${join(config.dataDir, "pglite")}`;
  process.stdout.write(
    `flowplane is running at ${config.externalUrl} (roles: ${[...roles].join(", ")})\n` +
    (roles.has("api") ? `  web UI:    ${config.externalUrl}/ (sign in with the admin key)\n` : "") +
    `  API:       ${config.externalUrl}/api/v1 (OpenAPI: ${config.externalUrl}/api/v1/openapi.json)\n` +
    (privateApp ? `  gateway:   public ${config.externalUrl}, private ${config.privateUrl} (${dataPlane ? `${config.gatewayWorkers} worker processes` : "in this process"}${front ? `, behind ${front instanceof NginxFront ? "nginx" : "HAProxy"} pid ${front.pid()}` : ""})\n` : "") +
    `  storage:   ${where}\n` +
    (driver ? isolationLine(driver.isolation) : "") +
    (admin ? `  admin key: ${admin.path}${admin.created ? " (new)" : ""} - send it as the x-access-key header\n` : "  admin key: kept by the process with the api role\n"));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    await front?.close();
    await dataPlane?.close();
    await frontFolder?.remove();
    idle?.stop();
    await sampler?.stop();
    await reconciler?.stop();
    if (driver && config.stopRuntimesOnExit) for (const name of await driver.list()) await driver.delete(name);
    await driver?.close();
    await published?.close();
    // Not awaited: its connections belong to the app's server, which closes them below.
    for (const t of twins) t.close();
    await privateApp?.close();
    await app.close();
    for (const g of gateways) await g.close();
    // After the listeners and the workers (which hand over their last records on close): the calls they finished are recorded too.
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

