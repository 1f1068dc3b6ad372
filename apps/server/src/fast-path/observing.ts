import { hashAccessKey, type Principal } from "@flowplane/core";
import type { GatewayRoute, GatewaySources } from "../gateway/types.js";
import type { LookupStart } from "./state.js";

/** What a native proxy's programmer takes from the gateway's lookups (haproxy/program.ts, nginx/program.ts). */
export interface LookupFeed {
  beginLookup(): LookupStart;
  routeResolved(routeId: string, route: GatewayRoute | null, secret: string | null, start?: LookupStart): void;
  keyResolved(hash: string, principal: Principal | null, readAt?: number): void;
}

/**
 * The gateway's sources, telling a native proxy's programmer what every lookup answers: the
 * routes and keys the proxy serves are those the Node gateways (workers or this process) were
 * asked for lately. The raw key goes no further than its sha256 (core's hashAccessKey). Each
 * answer goes with when its lookup began: one that read the store before a change pushed
 * meanwhile is not taken, and a key is kept for 4 s from its read's start.
 */
export function observingSources(sources: GatewaySources, feed: LookupFeed): GatewaySources {
  return {
    ...sources,
    async resolveRoute(routeId) {
      const start = feed.beginLookup();
      const route = await sources.resolveRoute(routeId);
      feed.routeResolved(routeId, route, route ? sources.gatewaySecret(route.deploymentId) : null, start);
      return route;
    },
    async authenticate(key) {
      const start = feed.beginLookup();
      const principal = await sources.authenticate(key);
      feed.keyResolved(hashAccessKey(key), principal, start.at);
      return principal;
    },
  };
}
