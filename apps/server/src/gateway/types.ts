import type { BodyBudget } from "../http/body-budget.js";
import type { Limits, LiveRevision, Logger, Principal } from "@flowplane/core";
import type { Metrics } from "../metrics.js";
import type { AccessLine } from "./access-log.js";
import type { RunRecorder } from "../runs/recorder.js";
import type { RateLimiter } from "./rate-limit.js";
import type { CorsOrigins } from "./cors.js";

/** One deployed route, as the control plane resolves it (DESIGN 7: every deployment has an HTTP and an MCP route). */
export interface GatewayRoute {
  projectId: string;
  appId: string;
  routeId: string;
  /** `http`: the replica's HTTP API at its root. `mcp`: its MCP server at `/mcp`. */
  kind: "http" | "mcp";
  deploymentId: string;
  /** The driver's name for the deployment's runtime (what `endpoints` takes). */
  resourceName: string;
  networkAccess: "public" | "private";
  /** How long the replica may stay silent: before its answer's headers, and between two chunks of a stream. */
  requestTimeoutSeconds: number;
  /** The kill switch is on: every call is answered 503 with Retry-After, never forwarded. */
  disabled?: boolean;
  /** The deployment's current revision, named by `x-flowplane-revision` on every proxied answer (headers.ts). */
  revision?: number;
  /**
   * The live revisions with their shares of the calls (core's liveRevisions): the current one,
   * a canary's stable one, the warm one (0%). The gateway picks one per call (revision-choice.ts)
   * and sends it to that revision's replicas. Absent: any ready replica.
   */
  live?: LiveRevision[];
  /** The deployment's rate and concurrency limits (rate-limit.ts); none when absent. */
  limits?: Limits;
  /**
   * Set when the deployment scales to zero (or sleeps): with no ready replica, the gateway holds
   * a request this long while `GatewayOptions.idle` wakes it, instead of answering 503 at once.
   */
  wakeTimeoutSeconds?: number;
}

/**
 * The gateway's link to scale to zero (the control plane's idle controller). Two calls, so that
 * a gateway in another process can reach it by RPC just as well.
 */
export interface GatewayIdle {
  /** A request to the deployment started (+1) or ended (-1): what keeps it awake. Synchronous and cheap. */
  activity(deploymentId: string, delta: 1 | -1): void;
  /** Wakes the deployment if it sleeps; resolves once a replica is ready, or after `timeoutMs`. One wake-up for concurrent calls. */
  wake(deploymentId: string, timeoutMs: number): Promise<void>;
}

/** Which listener a gateway serves: `public` serves only public routes (private ones answer 404); `private` serves both. */
export type Listener = "public" | "private";

/**
 * What a gateway needs to know, however it learns it: in the control plane's process these read
 * the store, the driver and the secret key directly; in a data-plane worker they read what the
 * control plane pushed over IPC (data-plane/worker.ts).
 */
export interface GatewaySources {
  /** The route by id; null when unknown, undeployed or being deleted. Cached by the gateway for at most 1 s. */
  resolveRoute(routeId: string): Promise<GatewayRoute | null>;
  /** The caller behind an access key; null when unknown, expired or revoked. Cached by the gateway for at most 4 s. */
  authenticate(key: string): Promise<Principal | null>;
  /**
   * Base URLs of the ready replicas; asked on every request (the set may change at any time).
   * With `revision`: only those started for that revision (`LiveRevision.runs`).
   */
  endpoints(resourceName: string, revision?: number): string[];
  /**
   * The listener (core's listenerId) the deployment's replica at this endpoint serves on, when
   * its driver made it on this machine (core's RuntimeDriver.replicaListener): each new
   * connection to it is checked against it before a byte is written (forward.ts). null: the
   * address is another deployment's replica's now (nothing is sent). Undefined: not checked.
   */
  replicaListener?(resourceName: string, endpoint: string): string | null | undefined;
  /**
   * The secret added to every request forwarded to a deployment's replicas (core's
   * createGatewaySecrets); they refuse requests without it. Never logged.
   */
  gatewaySecret(deploymentId: string): string;
}

export interface GatewayOptions extends GatewaySources {
  listener: Listener;
  /** Largest request body in bytes (413 above). */
  bodyLimit: number;
  metrics: Metrics;
  /** The access log and upstream failures are written here (never a URL, header or body). */
  log: Logger;
  /** Where the access line goes; default: `log.info(line, "gateway request")`. */
  accessLog?: (line: AccessLine) => void;
  /** The run history's recorder: every finished call admitted to a deployment is handed to it. None: no history. */
  runs?: RunRecorder;
  /** Clock of the caches and the rate limiter, in ms (tests move it). Default monotonic (`performance.now()`): a stepped wall clock must not stretch the 4 s a revoked key may live here. */
  now?: () => number;
  /** Key cache TTL in ms, at most (and by default) 4000. */
  keyCacheTtlMs?: number;
  /** Route cache TTL in ms, at most (and by default) 1000. */
  routeCacheTtlMs?: number;
  /** Connections the proxy keeps per replica (default 128). */
  connectionsPerReplica?: number;
  /** Connect timeout to a replica in ms (default 5000). */
  connectTimeoutMs?: number;
  /**
   * The rate limiter (rate-limit.ts). Pass one instance to every listener of a process so that a
   * deployment's limits count both; default: a limiter of this gateway alone, with share 1.
   */
  rateLimiter?: RateLimiter;
  /**
   * How much request-body memory callers hold at once (http/body-budget.ts): each body is read
   * whole before it is forwarded. Pass one instance to every listener of a process; default: a
   * budget of this gateway alone, from `bodyLimit`.
   */
  bodyBudget?: BodyBudget;
  /** Scale to zero: activity reports and wake-ups (absent: no deployment sleeps, nothing is held). */
  idle?: GatewayIdle;
  /** Which browser origins may call the routes (FLOWPLANE_GATEWAY_CORS_ORIGINS, cors.ts); absent or off: no CORS at all. */
  cors?: CorsOrigins;
}

/**
 * A source that asks another process (a data-plane worker asking its control plane) rejects
 * with this when no answer came in time: the gateway answers 504 rather than hold the request.
 */
export class LookupTimeoutError extends Error {
  constructor(readonly lookup: string, readonly timeoutMs: number) {
    super(`the control plane did not answer a ${lookup} lookup within ${timeoutMs} ms`);
  }
}
