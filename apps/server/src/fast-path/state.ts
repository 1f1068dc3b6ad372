import { hasRole, type LimitSet, type Logger, type NewRun, type Principal } from "@flowplane/core";
import { candidatesFor } from "../gateway/revision-choice.js";
import type { GatewayRoute, GatewaySources } from "../gateway/types.js";
import { deploymentLabels, statusClass, type Metrics } from "../metrics.js";
import { runOf } from "../runs/call.js";
import { monotonicNow } from "../clock.js";
import { safeToken } from "./token.js";

/** The Node gateway's own key cache TTL (admission.ts MAX_KEY_TTL_MS): a key entry lives no longer, so revocation is as quick. */
export const KEY_ENTRY_MS = 4_000;
/**
 * A key some fast-path call used is read again from the store this long after its last read,
 * before its entry expires (KEY_ENTRY_MS), so its calls never leave the fast path on the
 * entry's account. The entry still never outlives KEY_ENTRY_MS from the start of the read
 * that admitted it: a revocation is as quick as before.
 */
export const KEY_REFRESH_MS = 3_000;
/** How long a route the store no longer has is still named for the proxy's log lines about it (they come within seconds). */
const SEEN_GRACE_MS = 60_000;
/** The Node gateway's route cache TTL: eligible routes are read again this often (a warm revision's grace period ends with time). */
const ROUTE_REFRESH_MS = 1_000;

/** A limit set that limits something (rate-limit.ts: a rate, or a concurrency; a burst needs a rate). */
const limited = (l: LimitSet | undefined): boolean => l !== undefined && (l.requestsPerSecond !== null || l.maxConcurrent !== null);

/**
 * A route a native proxy may serve on its own: every per-request feature it has is one the
 * proxy does exactly, so the answer is the Node gateway's. Public HTTP routes only (private
 * routes are the private listener's, which stays Node's; MCP reads bodies and sessions), not
 * disabled (the kill switch's 503 is Node's), without limits (rate-limit.ts), not scaling to
 * zero (activity and wake-ups), and with one live revision serving all calls whose replicas
 * name themselves (no split, no rollback renaming them).
 */
export function fastRoute(route: GatewayRoute): boolean {
  if (route.kind !== "http" || route.networkAccess !== "public" || route.disabled) return false;
  if (limited(route.limits?.deployment) || limited(route.limits?.perKey) || route.wakeTimeoutSeconds !== undefined) return false;
  const live = route.live;
  if (live !== undefined && (live.length !== 1 || live[0]!.percent !== 100 || live[0]!.runs !== live[0]!.revision)) return false;
  return [route.routeId, route.deploymentId, route.projectId, route.appId].every(safeToken);
}

/** When a lookup began: the forgets counted so far, and the clock (ms). */
export interface LookupStart {
  generation: number;
  at: number;
}

/** One fast-path call as the proxy logged it. */
export interface FastCall {
  requestId: string;
  routeId: string;
  userId: string | undefined;
  keyId: string | undefined;
  method: string;
  /** The path on the replica, without the query. */
  path: string;
  status: number;
  latencyMs: number;
  revision: number | null;
  errorCode: string | undefined;
}

/** Calls the proxy counted instead of logging each (nginx/lua-log.ts: calls that cannot be runs), alike in all of these fields. */
export interface FastCount {
  routeId: string;
  userId: string | undefined;
  keyId: string | undefined;
  status: number;
  latencyMs: number;
  revision: number | null;
  calls: number;
}

/** A route that may go on the fast path, with its gateway secret and its replicas' endpoints (http, at `/`). */
export interface FastCandidate {
  routeId: string;
  route: GatewayRoute;
  secret: string;
  endpoints: URL[];
}

/** A key entry the fast path wants: `sha256hex/projectId`, who (`userId|keyId`), and when the read that admitted the key began. */
export interface WantedKey {
  entry: string;
  who: string;
  userId: string;
  keyId: string;
  readAt: number;
}

interface KeyEntry {
  principal: Principal;
  /** When the read that found the key started (ms): the entry goes KEY_ENTRY_MS after it. */
  at: number;
  /** A fast-path call used the key since that read. */
  used: boolean;
  /** A read again is under way. */
  reading: boolean;
}

export interface FastPathStateOptions {
  sources: GatewaySources;
  log: Logger;
  /** The proxy's name in log lines ("haproxy"). */
  name: string;
  metrics?: Metrics;
  runs?: { add(runs: NewRun[]): void };
  /** Clock of key entries' ages and lookups, in ms (tests move it). Default monotonic (clock.ts): it bounds a revoked key's life on the proxy. */
  now?: () => number;
  /** The caller behind a key known only by its sha256 (null: no such live key). Without it, a key's entry expires and the next call through Node reads it again. */
  keyByHash?: (hash: string) => Promise<Principal | null>;
  /** How often keys in use are considered for a read again (ms; default 100, at most 250). */
  keyCheckIntervalMs?: number;
  /** The wanted state may have changed: the proxy's programmer runs a pass. */
  changed: () => void;
}

/**
 * What the fast path may serve, whatever the proxy: the routes and keys the Node gateway looked
 * up lately, as the store answered them. Fed by what the data plane's control side already
 * learns (routes and keys the workers ask for), so a deployment reaches the fast path after its
 * first call through Node; a proxy's programmer (haproxy/program.ts) turns it into the proxy's
 * entries. The calls the proxy logs are recorded here, as the workers record theirs.
 *
 * Invariants: a key entry never outlives KEY_ENTRY_MS from the start of the read that admitted
 * it; an answer about a deployment that changed after its lookup began is never taken (the
 * change's own read is); route ids the store does not have are not kept (any caller can name one).
 */
export class FastPathState {
  /** Routes some call asked for (by route id): their last answer and gateway secret. */
  private readonly routes = new Map<string, { route: GatewayRoute | null; secret: string }>();
  /** Keys admitted lately, by sha256 hex (only those a fast-path call used are read again, KEY_REFRESH_MS). */
  private readonly keys = new Map<string, KeyEntry>();
  /** Key id → sha256, for the keys above: a proxy's log names a key by its id. */
  private readonly hashOfKeyId = new Map<string, string>();
  /** The last route each route id named (a log line may come after the route left the fast path). */
  private readonly seen = new Map<string, GatewayRoute>();
  /** Routes the store no longer has, and since when: forgotten from `seen` SEEN_GRACE_MS later. */
  private readonly leftAt = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Counts forgets: a lookup notes it when it begins (beginLookup), to know what changed since. */
  private generationCount = 0;
  /**
   * Each deployment's last forget (its generation). A lookup's answer about a deployment
   * forgotten after the lookup began may predate the change: it is dropped, and that
   * deployment alone (no other deployment's answer is, so no tenant's changes can hold back
   * another's routes). Cleared when it grows large; lookups begun before `forgetFloor` then
   * count every deployment as forgotten.
   */
  private readonly forgotAt = new Map<string, number>();
  private forgetFloor = 0;
  /** Refresh reads of keys that failed since the last warning, and when that was. */
  private keyReadFailures = 0;
  private keyReadWarnedAt = -Infinity; // on `now`, which may start near 0 (monotonic): the first warning is not held back
  readonly now: () => number;

  constructor(private readonly o: FastPathStateOptions) {
    this.now = o.now ?? monotonicNow;
    this.timers.push(
      setInterval(() => void this.refreshRoutes(), ROUTE_REFRESH_MS),
      setInterval(() => this.refreshKeys(), Math.min(o.keyCheckIntervalMs ?? 100, 250)),
    );
    for (const t of this.timers) t.unref();
  }

  /** The forgets counted so far. */
  get generation(): number {
    return this.generationCount;
  }

  /** Noted when a lookup (of a route or a key) begins; its answer is handed back with it. */
  beginLookup(): LookupStart {
    return { generation: this.generationCount, at: this.now() };
  }

  /** A Node gateway resolved a route: a candidate for the fast path, unless the answer may predate a change of its deployment. */
  routeResolved(routeId: string, route: GatewayRoute | null, secret: string | null, start: LookupStart = this.beginLookup()): void {
    if (!route) this.dropRoute(routeId);
    else if (!this.forgottenSince(route.deploymentId, start.generation)) {
      this.routes.set(routeId, { route, secret: secret ?? "" });
      this.seen.set(routeId, route);
    }
    this.o.changed();
  }

  /** A Node gateway read a key: the store's answer, kept KEY_ENTRY_MS from when the read began (`readAt`, as the workers' own key cache dates it). */
  keyResolved(hash: string, principal: Principal | null, readAt = this.now()): void {
    this.dropKey(hash);
    if (principal) {
      this.keys.set(hash, { principal, at: readAt, used: false, reading: false });
      if (principal.keyId) this.hashOfKeyId.set(principal.keyId, hash);
    }
    this.o.changed();
  }

  /**
   * A deployment changed (the same push the workers get): its routes are taken as unknown and
   * read again now; an answer from a lookup begun before this is not taken. Returns the route
   * map keys (`routeKey`) its routes had, for the proxy to take off at once.
   */
  forget(deploymentId: string): GatewayRoute[] {
    this.generationCount++;
    if (this.forgotAt.size >= 10_000) {
      this.forgotAt.clear();
      this.forgetFloor = this.generationCount;
    }
    this.forgotAt.set(deploymentId, this.generationCount);
    const had: GatewayRoute[] = [];
    const ids: string[] = [];
    for (const [id, r] of this.routes) {
      // Also a route this deployment's last change left unread yet (its entry gone already): read again now too.
      if ((r.route ?? this.seen.get(id))?.deploymentId !== deploymentId) continue;
      if (r.route) had.push(r.route);
      ids.push(id);
      r.route = null;
    }
    // Only its routes are read again now (the others are read every second anyway).
    if (ids.length > 0) void this.refreshRoutes(ids);
    return had;
  }

  /** True when `deploymentId` was forgotten after a lookup that began at `generation`. */
  forgottenSince(deploymentId: string, generation: number): boolean {
    return generation < this.forgetFloor || (this.forgotAt.get(deploymentId) ?? -1) > generation;
  }

  /** One fast-path call the proxy logged, recorded as the Node gateway records its calls. */
  recordCall(call: FastCall): void {
    const route = this.observed(call, 1);
    if (!route) return;
    const run = runOf({
      route, userId: call.userId, keyId: call.keyId, requestId: call.requestId, method: call.method, path: call.path, headers: {},
      body: null, status: call.status, latencyMs: call.latencyMs, errorCode: call.errorCode, revision: call.revision,
    }, Date.now()); // the run's time: a record, on the wall clock (this.now is for durations)
    if (run) this.o.runs?.add([run]);
  }

  /** Calls the proxy counted (never runs): recorded as that many calls alike, in the histogram and the key's use. */
  recordCount(count: FastCount): void {
    this.observed(count, count.calls);
  }

  /** What every call a proxy served counts for, `calls` times: its latency, and its key used. The route, or undefined when it is not one the proxy was given. */
  private observed(call: Pick<FastCall, "routeId" | "keyId" | "status" | "latencyMs" | "revision">, calls: number): GatewayRoute | undefined {
    const route = this.seen.get(call.routeId);
    if (!route) return undefined;
    this.o.metrics?.gatewayRequestDuration.observe(
      { route_id: route.routeId, kind: route.kind, status_class: statusClass(call.status), ...deploymentLabels(route, call.revision) },
      call.latencyMs / 1000,
      calls,
    );
    if (call.keyId) {
      const hash = this.hashOfKeyId.get(call.keyId);
      const key = hash === undefined ? undefined : this.keys.get(hash);
      if (key) key.used = true;
    }
    return route;
  }

  /**
   * The routes that may go on the fast path now, in the order they were first asked for: keys
   * past KEY_ENTRY_MS and routes gone for SEEN_GRACE_MS are dropped first.
   */
  candidates(): FastCandidate[] {
    const now = this.now();
    for (const [hash, k] of this.keys) if (now - k.at >= KEY_ENTRY_MS) this.dropKey(hash);
    // Undeployed routes' last answers go once their last log lines are in (a deploy-and-undeploy
    // pipeline would otherwise grow `seen` for the life of the process).
    for (const [id, at] of this.leftAt) {
      if (this.routes.has(id)) this.leftAt.delete(id);
      else if (now - at >= SEEN_GRACE_MS) { this.seen.delete(id); this.leftAt.delete(id); }
    }
    const out: FastCandidate[] = [];
    for (const [routeId, { route, secret }] of this.routes) {
      if (!route || !fastRoute(route) || !safeToken(secret)) continue;
      const urls = candidatesFor(this.o.sources.endpoints, route.resourceName, route.live?.[0]?.runs, false);
      const endpoints = urls.map((u) => new URL(u)).filter((u) => u.protocol === "http:" && u.pathname === "/");
      if (endpoints.length === 0 || endpoints.length !== urls.length) continue;
      out.push({ routeId, route, secret, endpoints });
    }
    return out;
  }

  /** The key entries for routes of `projects` on the fast path: `sha256hex/projectId` -> `userId|keyId`, for a key whose user may call that project. */
  wantedKeys(projects: ReadonlySet<string>): Map<string, string> {
    return new Map(this.wantedKeyEntries(projects).map((k) => [k.entry, k.who]));
  }

  /** The same, each with when the read that admitted its key began: a proxy whose entries expire by themselves (nginx) sets them to go KEY_ENTRY_MS after it. */
  wantedKeyEntries(projects: ReadonlySet<string>): WantedKey[] {
    const want: WantedKey[] = [];
    for (const [hash, { principal, at }] of this.keys) {
      const who = [principal.userId, principal.keyId ?? "-"].join("|");
      if (!safeToken(who)) continue;
      for (const p of projects) if (hasRole(principal, p, "viewer")) want.push({ entry: `${hash}/${p}`, who, userId: principal.userId, keyId: principal.keyId ?? "-", readAt: at });
    }
    return want;
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
  }

  /**
   * Reads again, by hash, each key a fast-path call used that is KEY_REFRESH_MS old: its entry
   * stays on the proxy unbroken or goes when the key is no more. A failed read changes nothing:
   * the entry expires at KEY_ENTRY_MS as it would have.
   */
  private refreshKeys(): void {
    const read = this.o.keyByHash;
    if (!read) return;
    const now = this.now();
    for (const [hash, key] of this.keys) {
      if (!key.used || key.reading || now - key.at < KEY_REFRESH_MS) continue;
      key.reading = true;
      read(hash).then(
        // Only if no fresher read replaced the entry meanwhile; dated from when this read started.
        (principal) => { if (this.keys.get(hash) === key) this.keyResolved(hash, principal, now); },
        // Not tried again (`reading` stays): the entry expires as it would have, and the next
        // call through the workers reads the key. A failing store is not asked ten times a second.
        () => { this.keyReadFailures++; },
      );
    }
    if (this.keyReadFailures > 0 && now - this.keyReadWarnedAt >= 10_000) {
      this.o.log.warn({ failures: this.keyReadFailures }, `${this.o.name}: reading keys in use again failed; they leave the fast path when their entries expire`);
      this.keyReadFailures = 0;
      this.keyReadWarnedAt = now;
    }
  }

  /** A route the store does not have (any more): not read again; its last answer kept a while for late log lines. */
  private dropRoute(id: string): void {
    this.routes.delete(id);
    if (this.seen.has(id) && !this.leftAt.has(id)) this.leftAt.set(id, this.now());
  }

  /** Forgets a key and its id. */
  private dropKey(hash: string): void {
    const had = this.keys.get(hash);
    if (had?.principal.keyId !== undefined && this.hashOfKeyId.get(had.principal.keyId) === hash) this.hashOfKeyId.delete(had.principal.keyId);
    this.keys.delete(hash);
  }

  /** Reads the routes again (`ids`, else every route asked for), then lets the programmer bring the proxy up to date. */
  async refreshRoutes(ids: readonly string[] = [...this.routes.keys()]): Promise<void> {
    // An answer about a deployment forgotten during these reads may predate its change: dropped
    // (that forget reads its routes again). Unknown routes are not kept.
    const generation = this.generationCount;
    await Promise.all(ids.map((id) => this.o.sources.resolveRoute(id).then(
      (route) => {
        if (!route) { this.dropRoute(id); return; }
        const r = this.routes.get(id);
        if (r && !this.forgottenSince(route.deploymentId, generation)) { r.route = route; this.seen.set(id, route); }
      },
      () => { const r = this.routes.get(id); if (r) r.route = null; },
    )));
    this.o.changed();
  }
}
