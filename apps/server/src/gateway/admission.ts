import * as crypto from "node:crypto";
import { hasRole, type Principal } from "@flowplane/core";
import { TtlCache } from "./ttl-cache.js";
import type { GatewayRoute } from "./types.js";

/**
 * Who may reach which route (DESIGN 7), decided before the request body is read:
 * - no key, or a key that is unknown, expired or revoked: 401;
 * - an unknown or undeployed route, a path whose project or app is not the route's, or a
 *   private route asked on the public listener: 404 (one answer, so nothing leaks);
 * - a key whose user has no role in the route's project: 401, as the DESIGN says.
 *
 * Both lookups are cached briefly. Keys: at most `keyTtlMs` (default 4 s), so a revoked key
 * stops working within 5 s even counting the lookup itself. Routes: at most 1 s, so an undeploy
 * answers 404 about at once. Keys are cached under their sha256, so no raw key sits in a
 * long-lived structure.
 */
export type Admission =
  | { ok: true; route: GatewayRoute; principal: Principal; keyHash: string }
  | { ok: false; status: 401 | 404; message: string; unknownKey?: boolean };

export interface AdmissionOptions {
  listener: "public" | "private";
  resolveRoute(routeId: string): Promise<GatewayRoute | null>;
  authenticate(key: string): Promise<Principal | null>;
  now: () => number;
  keyTtlMs?: number;
  routeTtlMs?: number;
  maxEntries?: number;
}

/** The revocation promise (DESIGN: within 5 s) bounds the key cache; the route cache is kept short for undeploys. */
export const MAX_KEY_TTL_MS = 4_000;
/**
 * A body that took at least this long to come (or to find room) has its key admitted again
 * before it is forwarded (pipeline.ts step 4b; nginx's fast path keeps the same rule, nginx/lua.ts).
 * Shorter is inside the revocation promise already: a key's cached answer is at most
 * MAX_KEY_TTL_MS old, and 4 s + 1 s is the 5 s the docs promise.
 */
export const READMIT_AFTER_MS = 1_000;
export const MAX_ROUTE_TTL_MS = 1_000;

/**
 * One-shot `crypto.hash` (Node >= 20.12) where there is one: a Hash object per request is a
 * native handle the garbage collector must finalize, which showed in the gateway's profile.
 */
const sha256: (s: string) => string = typeof crypto.hash === "function"
  ? (s) => crypto.hash("sha256", s, "base64")
  : (s) => crypto.createHash("sha256").update(s).digest("base64");

export class Admissions {
  private readonly keys: TtlCache<Principal | null>;
  private readonly routes: TtlCache<GatewayRoute | null>;

  constructor(private readonly o: AdmissionOptions) {
    const maxEntries = o.maxEntries ?? 10_000;
    this.keys = new TtlCache({ ttlMs: Math.min(o.keyTtlMs ?? MAX_KEY_TTL_MS, MAX_KEY_TTL_MS), maxEntries, now: o.now });
    this.routes = new TtlCache({ ttlMs: Math.min(o.routeTtlMs ?? MAX_ROUTE_TTL_MS, MAX_ROUTE_TTL_MS), maxEntries, now: o.now });
  }

  /** Synchronous when both lookups are cached, a promise otherwise. */
  admit(key: string | undefined, path: { projectId: string; appId: string; routeId: string }): Admission | Promise<Admission> {
    if (!key) return { ok: false, status: 401, message: "send an access key as the x-access-key header (or x-api-key, Authorization: Bearer, or the x-api-key query parameter)" };
    const hashed = sha256(key);
    const principal = this.keys.peek(hashed);
    const route = this.routes.peek(path.routeId);
    if (principal && route) return this.decide(principal.value, route.value, path, hashed);
    // Both lookups at once: on a cache miss the two round trips overlap.
    return Promise.all([
      this.keys.get(hashed, () => this.o.authenticate(key)),
      // A route id with a NUL (`%00` in the path) names no route, and PostgreSQL refuses the
      // query outright: answered as any unknown route (404), never looked up (it was a 500).
      path.routeId.includes("\u0000") ? null : this.routes.get(path.routeId, () => this.o.resolveRoute(path.routeId)),
    ]).then(([p, r]) => this.decide(p, r, path, hashed));
  }

  /** Drops every cached route answer (a deployment changed: undeployed, disabled, moved). */
  forgetRoutes(): void {
    this.routes.clear();
  }

  /** True when the key is cached as a valid one: answered from memory, never a lookup (the rate limiter asks). */
  verified(key: string | undefined): boolean {
    return key !== undefined && key !== "" && Boolean(this.keys.peek(sha256(key))?.value);
  }

  private decide(principal: Principal | null, route: GatewayRoute | null, path: { projectId: string; appId: string }, keyHash: string): Admission {
    if (!principal) return { ok: false, status: 401, message: "the access key is unknown, expired or revoked", unknownKey: true };
    if (!route || route.projectId !== path.projectId || route.appId !== path.appId || (route.networkAccess === "private" && this.o.listener === "public")) {
      return { ok: false, status: 404, message: "no such route" };
    }
    if (!hasRole(principal, route.projectId, "viewer")) {
      return { ok: false, status: 401, message: "the access key's user has no role in this route's project" };
    }
    return { ok: true, route, principal, keyHash };
  }
}
