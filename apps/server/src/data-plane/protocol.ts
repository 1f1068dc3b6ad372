import type { NewRun, Principal, Role as ProjectRole } from "@flowplane/core";
import type { GatewayRoute, Listener } from "../gateway/index.js";
import type { LimitedRoute, RefusalReason } from "../gateway/rate-limit.js";
import type { CorsOrigins } from "../gateway/cors.js";
import type { ConnectionLimits } from "../http/connection-cap.js";

/**
 * The messages between the control plane and its data-plane workers, over each worker's IPC
 * channel (node:cluster). The control plane pushes; a worker asks only on a cache miss (once
 * per key or route per TTL, never once per request).
 */

/** What a worker needs to start: passed once, as its environment variable FLOWPLANE_DATA_PLANE (JSON). */
export interface WorkerSettings {
  host: string;
  /** The public and private listeners' ports (shared with the other workers through the control plane's bound sockets). */
  ports: Record<Listener, number>;
  /** The control plane's own loopback listeners, for a non-gateway request on a connection a worker kept (rare; see fallback.ts). */
  controlPlane: Record<Listener, string>;
  /** Sent with a relayed request beside its client's address, which the API believes only with it (http/relayed-client.ts). */
  relaySecret: string;
  bodyLimit: number;
  /** A request body's grace before its bytes must buy it time (http/body-pace.ts). */
  bodyTimeoutMs: number;
  /** Client connections the worker holds at once per listener, in all, from one address and from one local deployment (http/connection-cap.ts). */
  connections: Record<Listener, ConnectionLimits>;
  /** The uids the local driver hands deployments, where loopback connections are told apart by their owner's (http/local-peers.ts); absent: they are not. */
  deploymentUids?: { base: number; count: number };
  /** This worker's share of every rate limit: 1 / the number of workers (rate-limit.ts, docs/gateway.md). */
  share: number;
  /** Scale to zero runs in the control plane: report activity and ask for wake-ups (else neither). */
  idle: boolean;
  /** The run history is on: send finished calls to the control plane's recorder, in batches. */
  runs: boolean;
  /** Which browser origins may call the routes (FLOWPLANE_GATEWAY_CORS_ORIGINS, gateway/cors.ts). */
  cors: CorsOrigins;
  /** How long a route answer is cached (ms): changes are pushed (`forget-routes`), this bounds the rest. */
  routeCacheTtlMs: number;
  /** How long a key, route or wake lookup may wait for the control plane before the request is answered 504 (ms). */
  lookupTimeoutMs: number;
  /**
   * Behind flowplane's HAProxy or nginx (FLOWPLANE_GATEWAY_PROXY): the public listener is this
   * Unix socket instead of `host`, and each of its connections names its client (below), believed
   * as it comes. So only the proxy may reach it: it is in the data folder (0700), or as root in the
   * proxy's account's folder (0700), which no replica sees (a uid of its own, or a sandbox that
   * hides the folder), where a loopback port was open to every local process, a replica's
   * included, to name any client address.
   */
  behindProxy?: {
    path: string;
    /**
     * How the proxy names each connection's client: a PROXY line first (HAProxy, the default), or
     * `header`: CLIENT_ADDRESS_HEADER in the one request of each connection (nginx, whose HTTP
     * proxy cannot send a PROXY line; data-plane/client-header.ts). Set by the proxy's front only.
     */
    clientAddress?: "proxy-line" | "header";
    /**
     * The account the proxy runs as when the control plane is root (fast-path/front-account.ts):
     * the socket is then given to its group, mode 0660, in a folder of root's that only that group
     * enters (FrontFolder.socketDir: by path, so never in a folder the account may write). Unset:
     * the socket stays this user's alone (0700, the umask), in the data folder.
     */
    owner?: { uid: number; gid: number };
  };
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}

export const SETTINGS_ENV = "FLOWPLANE_DATA_PLANE";

/** A principal as it crosses the channel (a Map does not survive JSON). */
export interface WirePrincipal {
  userId: string;
  name: string;
  kind: Principal["kind"];
  orgOwner: boolean;
  roles: [string, ProjectRole][];
  /** The key's id: a worker's run records name it as their caller's key (runs/call.ts). */
  keyId?: string;
}

export function toWire(p: Principal): WirePrincipal {
  return { userId: p.userId, name: p.name, kind: p.kind, orgOwner: p.orgOwner, roles: [...p.roles], ...(p.keyId !== undefined ? { keyId: p.keyId } : {}) };
}

export function fromWire(p: WirePrincipal): Principal {
  return { userId: p.userId, name: p.name, kind: p.kind, orgOwner: p.orgOwner, roles: new Map(p.roles), ...(p.keyId !== undefined ? { keyId: p.keyId } : {}) };
}

/**
 * One ready set as it crosses the channel: the base URLs of a deployment's ready replicas
 * (`runs` absent), or of those started for one of its live revisions (`runs`: the traffic split's).
 */
export interface ReadySet {
  resourceName: string;
  runs?: number;
  urls: string[];
  /** Each URL's listener (core's listenerId), where the driver knows it (GatewaySources.replicaListener): the worker checks new connections to this deployment's replica there against it. */
  listeners?: Record<string, string>;
}

/** Worker -> control plane. */
export type FromWorker =
  /** Both listeners accept connections. */
  | { t: "listening" }
  /** A key lookup (cache miss). The raw key crosses the local channel only; it is never logged. */
  | { t: "authenticate"; id: number; key: string }
  /** A route lookup (cache miss); the answer carries the route's endpoints and gateway secret too. */
  | { t: "route"; id: number; routeId: string }
  /** The answer to `metrics`: this worker's registry as prom-client JSON. */
  | { t: "metrics"; id: number; metrics: unknown[] }
  /**
   * Scale to zero: requests started and ended per deployment since the last report, as
   * `[deploymentId, started, ended]`. Throttled: the first activity after a quiet spell at once,
   * the rest at most every ACTIVITY_INTERVAL_MS (never one message per request).
   */
  | { t: "activity"; items: [string, number, number][] }
  /** A request found no ready replica of a deployment that scales to zero: wake it (one ask per deployment at a time per worker). */
  | { t: "wake"; id: number; deploymentId: string; timeoutMs: number }
  /** Finished calls for the run history, already turned into runs (runs/call.ts), in batches. */
  | { t: "runs"; runs: NewRun[] }
  /** The answer to `flush`: everything held before it was sent (IPC keeps the order). */
  | { t: "flushed"; id: number }
  /** The answer to `admit`: a ticket (its number, to release it by) or a refusal. */
  | { t: "admitted"; id: number; ticket?: number; headers: Record<string, string>; refusal?: { reason: RefusalReason; message: string } }
  /** A connection whose first request is not for the gateway: the socket goes with this message, `head` is what was read of it (base64). */
  | { t: "handoff"; listener: Listener; head: string; client?: { address: string; port?: number } };

/** Control plane -> worker. */
export type ToWorker =
  | { t: "authenticate"; id: number; principal: WirePrincipal | null; error?: true }
  /** `ready`: the route's ready sets: the deployment's, then each of its live revisions'. */
  | { t: "route"; id: number; route: GatewayRoute | null; ready: ReadySet[]; secret: string | null; error?: true }
  /** A ready set changed (pushed for every ready set of a route some worker asked about). */
  | { t: "endpoints"; ready: ReadySet }
  /** A deployment changed (undeployed, disabled, edited): cached route answers are dropped at once. */
  | { t: "forget-routes" }
  | { t: "metrics"; id: number }
  /** The wake-up is over (a replica is ready, or it timed out): the deployment's ready sets as they are now. */
  | { t: "wake"; id: number; ready: ReadySet[] }
  /** The control plane stops: send what is held (runs, activity) and answer `flushed`. */
  | { t: "flush"; id: number }
  /**
   * A gateway call the control plane serves itself (on a connection a worker handed over) to a
   * limited deployment: admitted by this worker's limiter, so that it counts against a worker's
   * share rather than a share of the control plane's own (rate-limit.ts, docs/gateway.md).
   */
  | { t: "admit"; id: number; route: LimitedRoute; keyHash: string }
  /** That call is done: its ticket's slots go back. */
  | { t: "release"; ticket: number };

/** How often a worker reports scale-to-zero activity at most (ms), and sends a partial batch of runs. */
export const ACTIVITY_INTERVAL_MS = 250;
export const RUNS_INTERVAL_MS = 250;
