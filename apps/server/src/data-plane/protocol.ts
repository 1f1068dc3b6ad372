import type { Principal, Role as ProjectRole } from "@flowplane/core";
import type { GatewayRoute, Listener } from "../gateway/index.js";

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
  bodyLimit: number;
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
}

export function toWire(p: Principal): WirePrincipal {
  return { userId: p.userId, name: p.name, kind: p.kind, orgOwner: p.orgOwner, roles: [...p.roles] };
}

export function fromWire(p: WirePrincipal): Principal {
  return { userId: p.userId, name: p.name, kind: p.kind, orgOwner: p.orgOwner, roles: new Map(p.roles) };
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
  /** A connection whose first request is not for the gateway: the socket goes with this message, `head` is what was read of it (base64). */
  | { t: "handoff"; listener: Listener; head: string };

/** Control plane -> worker. */
export type ToWorker =
  | { t: "authenticate"; id: number; principal: WirePrincipal | null; error?: true }
  | { t: "route"; id: number; route: GatewayRoute | null; endpoints: string[]; secret: string | null; error?: true }
  /** A ready set changed (pushed for every resource a worker asked a route of). */
  | { t: "endpoints"; resourceName: string; urls: string[] }
  /** A deployment changed (undeployed, disabled, edited): cached route answers are dropped at once. */
  | { t: "forget-routes" }
  | { t: "metrics"; id: number };
