import { hasRole, type LimitSet, type Logger, type NewRun, type Principal } from "@flowplane/core";
import { candidatesFor } from "../gateway/revision-choice.js";
import type { GatewayRoute, GatewaySources } from "../gateway/types.js";
import { deploymentLabels, statusClass, type Metrics } from "../metrics.js";
import { runOf } from "../runs/call.js";
import { ROUTE_FIELDS, routeMapKey } from "./config.js";
import { parseFastLine } from "./log-line.js";
import { safeToken, type RuntimeApi } from "./runtime-api.js";
import { ServerAddresses } from "./server-addresses.js";
import { monotonicNow } from "../clock.js";

/** The Node gateway's own key cache TTL (admission.ts MAX_KEY_TTL_MS): a key entry lives no longer, so revocation is as quick. */
export const KEY_ENTRY_MS = 4_000;
/**
 * A key some fast-path call used is read again from the store this long after its last read,
 * before its entry expires (KEY_ENTRY_MS), so its calls never leave the fast path on the
 * entry's account. The entry still never outlives KEY_ENTRY_MS from the start of the read
 * that admitted it: a revocation is as quick as before.
 */
export const KEY_REFRESH_MS = 3_000;
/** How long a route the store no longer has is still named for HAProxy's log lines about it (they come within seconds). */
const SEEN_GRACE_MS = 60_000;
/** The Node gateway's route cache TTL: eligible routes are read again this often (a warm revision's grace period ends with time). */
const ROUTE_REFRESH_MS = 1_000;

export interface HaproxyProgramOptions {
  api: RuntimeApi;
  sources: GatewaySources;
  routesMap: string;
  keysMap: string;
  slots: number;
  log: Logger;
  metrics?: Metrics;
  runs?: { add(runs: NewRun[]): void };
  /** Clock of key entries' ages and lookups, in ms (tests move it). Default monotonic (clock.ts): it bounds a revoked key's life in the maps. */
  now?: () => number;
  /**
   * The caller behind a key known only by its sha256 (IdentityService.authenticateKeyHash; null:
   * no such live key). Without it, a key's entry expires and the next call through Node reads it again.
   */
  keyByHash?: (hash: string) => Promise<Principal | null>;
  /** How often the ready sets are compared and the servers changed (ms; default 100, as the workers' push). */
  syncIntervalMs?: number;
  /** A replica endpoint's host name to its IP address (default: the system resolver; server-addresses.ts says why). */
  resolve?: (host: string) => Promise<string>;
}

/**
 * The port a draining server's address is moved to and from (`set server … addr`), to have
 * HAProxy 2.6 close its pooled connections: see `sync`. Never connected to: the server is in
 * maintenance, so no call is sent to it.
 */
const PARKED_PORT = "1";

/**
 * A route HAProxy may serve on its own: every per-request feature it has is one HAProxy does
 * exactly (config.ts), so the answer is the Node gateway's. Public HTTP routes only (private
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

interface KeyEntry {
  principal: Principal;
  /** When the read that found the key started (ms): the entry goes KEY_ENTRY_MS after it. */
  at: number;
  /** A fast-path call used the key since that read. */
  used: boolean;
  /** A read again is under way. */
  reading: boolean;
}

/** The deployment a routes.map value names (config.ts ROUTE_FIELDS). */
const deploymentOf = (value: string): string | undefined => value.split("|")[ROUTE_FIELDS.indexOf("deployment")];

/** A server's own port: its name (with or without its `sN/` backend) ends in `ip:port` (server-addresses.ts). */
const ownPort = (server: string): string => server.slice(server.lastIndexOf(":") + 1);

/**
 * `set server` moving a server (`sN/ip:port`, server-addresses.ts) to its own port, or to
 * PARKED_PORT. Its parts were checked when the server was made (an IP address `isIP` accepted, a port of digits).
 */
function setAddress(server: string, parked: boolean): string {
  const port = ownPort(server);
  const ip = server.slice(server.indexOf("/") + 1, -port.length - 1);
  return `set server ${server} addr ${ip} port ${parked ? PARKED_PORT : port}`;
}

/** A key HAProxy holds twice (a racing add): never what is wanted, so the pass deletes both and adds the wanted one. */
const DUPLICATE = "\u0000duplicate";

/** A server as `show servers state` shows it: in forced maintenance (srv_admin_state bit 0x01), and its port (srv_port). */
export interface HeldServer {
  maintenance: boolean;
  port: string;
}

/** `show servers state` lines (`be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ... srv_port ...`) by `backend/server`. */
export function parseServers(text: string): Map<string, HeldServer> {
  const out = new Map<string, HeldServer>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(" ");
    if (f.length > 18 && /^\d+$/.test(f[0]!)) out.set(`${f[1]}/${f[3]}`, { maintenance: (Number(f[6]) & 1) === 1, port: f[18]! });
  }
  return out;
}

/** `show map` lines (`0x55d0c3a4e2f0 key value`) as key → value. */
export function parseMap(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(" ");
    if (f.length === 3 && f[0]!.startsWith("0x")) out.push([f[1]!, f[2]!]);
  }
  return out;
}

/** A limit set that limits something (rate-limit.ts: a rate, or a concurrency; a burst needs a rate). */
const limited = (l: LimitSet | undefined): boolean => l !== undefined && (l.requestsPerSecond !== null || l.maxConcurrent !== null);

/**
 * Programs flowplane's HAProxy through its runtime API (never a reload): the routes it may
 * serve, the keys it may admit and each deployment's candidate replicas. Fed by what the data
 * plane's control side already learns (routes and keys the workers ask for), so a deployment
 * reaches the fast path after its first call through Node; its calls are recorded from
 * HAProxy's log (`record`), as the workers' are.
 */
export class HaproxyProgram {
  /** Routes some call asked for (by route id): their last answer and gateway secret. */
  private readonly routes = new Map<string, { route: GatewayRoute | null; secret: string }>();
  /**
   * Keys admitted lately, by sha256 hex: the principal; when the read that found it started;
   * whether a fast-path call used it since (only those are read again, KEY_REFRESH_MS).
   */
  private readonly keys = new Map<string, KeyEntry>();
  /** Key id → sha256, for the keys above: HAProxy's log names a key by its id. */
  private readonly hashOfKeyId = new Map<string, string>();
  /** What HAProxy holds now. */
  private readonly routeEntries = new Map<string, string>();
  private readonly keyEntries = new Map<string, string>();
  private readonly slotOf = new Map<string, number>();
  /** Each slot's servers, by name (`ip:port`, server-addresses.ts). */
  private readonly servers = new Map<number, Set<string>>();
  /**
   * Servers put in maintenance and not yet deleted (`sN/ip:port`): calls in flight still
   * draining. The value: the server's port is parked (PARKED_PORT) rather than its own.
   */
  private readonly draining = new Map<string, boolean>();
  /**
   * Wanted servers HAProxy was found holding in maintenance or at another port (a batch that
   * failed between a park and a return, a `state ready` or `enable server` that never ran): the
   * next pass gives them their own port and takes them out of maintenance.
   */
  private readonly repair = new Set<string>();
  /** A batch failed: what HAProxy holds of the servers is read back on the next pass, not assumed. */
  private rereadServers = false;
  /** The last route each route id named (a log line may come after the route left the fast path). */
  private readonly seen = new Map<string, GatewayRoute>();
  /** Routes the store no longer has, and since when: forgotten from `seen` SEEN_GRACE_MS later. */
  private readonly leftAt = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private syncing = false;
  private closed = false;
  /** Counts forgets: a lookup notes it when it begins (beginLookup), to know what changed since. */
  private generation = 0;
  /**
   * Each deployment's last forget (its `generation`). A lookup's answer about a deployment
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
  private again = false;
  /**
   * The forgets' `del map`, sent on a connection of their own: they may reach
   * HAProxy after a batch sent later on the queue (two connections, no order between them). So a
   * pass first waits for them, then reads the routes map back (`reread`) instead of trusting
   * `routeEntries`: an entry a forget took off, or one a racing batch added after it, is seen as it is.
   */
  private clearing: Promise<unknown> = Promise.resolve();
  private reread = false;
  /**
   * A batch failed (a runtime API timeout, a dropped connection): what it would have changed is
   * unknown, and `keyEntries` already says it did. A key it was taking off (revoked, expired,
   * its role gone) would stay on HAProxy for good, no later pass seeing a reason to send the
   * `del map` again. So the next pass reads both maps back instead.
   */
  private rereadKeys = false;
  private readonly now: () => number;
  private readonly addresses: ServerAddresses;

  constructor(private readonly o: HaproxyProgramOptions) {
    this.now = o.now ?? monotonicNow;
    // A lookup answering after close() runs no pass: HAProxy is stopped next (HaproxyFront.close).
    this.addresses = new ServerAddresses({ log: o.log, now: this.now, onChange: () => { if (!this.closed) void this.sync(); }, ...(o.resolve ? { resolve: o.resolve } : {}) });
    this.timers.push(
      setInterval(() => void this.sync(), o.syncIntervalMs ?? 100),
      setInterval(() => void this.refreshRoutes(), ROUTE_REFRESH_MS),
      setInterval(() => this.refreshKeys(), Math.min(o.syncIntervalMs ?? 100, 250)),
    );
    for (const t of this.timers) t.unref();
  }

  /** Noted when a lookup (of a route or a key) begins; its answer is handed back with it. */
  beginLookup(): LookupStart {
    return { generation: this.generation, at: this.now() };
  }

  /**
   * A Node gateway resolved a route (the workers' lookup): a candidate for the fast path. An
   * unknown route is not kept (any caller can name any route id); an answer that may predate a
   * change of its deployment (a forget after `start`) is dropped: the next read takes it.
   */
  routeResolved(routeId: string, route: GatewayRoute | null, secret: string | null, start: LookupStart = this.beginLookup()): void {
    if (!route) this.dropRoute(routeId);
    else if (!this.forgottenSince(route.deploymentId, start.generation)) {
      this.routes.set(routeId, { route, secret: secret ?? "" });
      this.seen.set(routeId, route);
    }
    void this.sync();
  }

  /**
   * A Node gateway read a key (the workers' lookup): the store's answer, kept KEY_ENTRY_MS from
   * when the read began (`readAt`, as the workers' own key cache dates it).
   */
  keyResolved(hash: string, principal: Principal | null, readAt = this.now()): void {
    this.dropKey(hash);
    if (principal) {
      this.keys.set(hash, { principal, at: readAt, used: false, reading: false });
      if (principal.keyId) this.hashOfKeyId.set(principal.keyId, hash);
    }
    void this.sync();
  }

  /**
   * A deployment changed (the same push the workers get): its route entries go now, on a
   * connection of their own (not behind a pass in progress), so the change is live one route
   * lookup after the API answered, as with the workers; a pass that read the routes before
   * this adds none of them back (`generation`). Only that deployment's entries go: a route id
   * belongs to one deployment (its record holds it), so no other route's answer changed, and
   * the other deployments' calls stay on the fast path through every change of another.
   */
  forgetRoutes(deploymentId: string): void {
    this.generation++;
    if (this.forgotAt.size >= 10_000) {
      this.forgotAt.clear();
      this.forgetFloor = this.generation;
    }
    this.forgotAt.set(deploymentId, this.generation);
    const gone = new Set<string>();
    const ids: string[] = [];
    for (const [id, r] of this.routes) {
      // Also a route this deployment's last change left unread yet (its entry gone already): read again now too.
      if ((r.route ?? this.seen.get(id))?.deploymentId !== deploymentId) continue;
      if (r.route) gone.add(routeMapKey(r.route));
      ids.push(id);
      r.route = null;
    }
    for (const [k, v] of this.routeEntries) if (deploymentOf(v) === deploymentId) gone.add(k);
    if (gone.size > 0) {
      for (const k of gone) this.routeEntries.delete(k);
      this.reread = true;
      // A pass waits for every forget sent so far (this one chained beside the ones before).
      const sent = this.o.api.now([...gone].map((k) => `del map ${this.o.routesMap} ${k}`)).catch((err: unknown) => this.o.log.warn({ err }, "haproxy: taking routes off failed"));
      this.clearing = Promise.all([this.clearing, sent]).then(() => undefined);
    }
    // Only its routes are read again now (the others are read every second anyway).
    if (ids.length > 0) void this.refreshRoutes(ids);
  }

  /** HAProxy started again with empty maps and backends: everything is programmed anew. */
  restarted(): void {
    this.routeEntries.clear();
    this.keyEntries.clear();
    this.servers.clear();
    this.draining.clear();
    this.repair.clear();
    void this.sync();
  }

  /** One line of HAProxy's log: a fast-path call, recorded as the Node gateway records its calls. */
  record(line: string): void {
    const call = parseFastLine(line);
    if (!call) return;
    const route = this.seen.get(call.routeId);
    if (!route) return;
    this.o.metrics?.gatewayRequestDuration.observe(
      { route_id: route.routeId, kind: route.kind, status_class: statusClass(call.status), ...deploymentLabels(route, call.revision) },
      call.latencyMs / 1000,
    );
    if (call.keyId) {
      const hash = this.hashOfKeyId.get(call.keyId);
      const key = hash === undefined ? undefined : this.keys.get(hash);
      if (key) key.used = true;
    }
    const run = runOf({
      route, userId: call.userId, keyId: call.keyId, requestId: call.requestId, method: call.method, path: call.path, headers: {},
      body: null, status: call.status, latencyMs: call.latencyMs, errorCode: call.errorCode, revision: call.revision,
    }, Date.now()); // the run's time: a record, on the wall clock (this.now is for durations)
    if (run) this.o.runs?.add([run]);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
  }

  /**
   * Reads again, by hash, each key a fast-path call used that is KEY_REFRESH_MS old: its entry
   * stays on HAProxy unbroken (the same value: no map command) or goes when the key is no more.
   * A failed read changes nothing: the entry expires at KEY_ENTRY_MS as it would have.
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
      this.o.log.warn({ failures: this.keyReadFailures }, "haproxy: reading keys in use again failed; they leave the fast path when their entries expire");
      this.keyReadFailures = 0;
      this.keyReadWarnedAt = now;
    }
  }

  /** A route the store does not have (any more): not read again; its last answer kept a while for late log lines. */
  private dropRoute(id: string): void {
    this.routes.delete(id);
    if (this.seen.has(id) && !this.leftAt.has(id)) this.leftAt.set(id, this.now());
  }

  /** True when `deploymentId` was forgotten after a lookup that began at `generation`. */
  private forgottenSince(deploymentId: string, generation: number): boolean {
    return generation < this.forgetFloor || (this.forgotAt.get(deploymentId) ?? -1) > generation;
  }

  /** Forgets a key and its id. */
  private dropKey(hash: string): void {
    const had = this.keys.get(hash);
    if (had?.principal.keyId !== undefined && this.hashOfKeyId.get(had.principal.keyId) === hash) this.hashOfKeyId.delete(had.principal.keyId);
    this.keys.delete(hash);
  }

  /** Reads the routes again (`ids`, else every route asked for), then brings HAProxy up to date. */
  private async refreshRoutes(ids: readonly string[] = [...this.routes.keys()]): Promise<void> {
    // An answer about a deployment forgotten during these reads may predate its change: dropped
    // (that forget reads its routes again). Unknown routes are not kept.
    const generation = this.generation;
    await Promise.all(ids.map((id) => this.o.sources.resolveRoute(id).then(
      (route) => {
        if (!route) { this.dropRoute(id); return; }
        const r = this.routes.get(id);
        if (r && !this.forgottenSince(route.deploymentId, generation)) { r.route = route; this.seen.set(id, route); }
      },
      () => { const r = this.routes.get(id); if (r) r.route = null; },
    )));
    await this.sync();
  }

  /** Brings HAProxy to the wanted state; one pass at a time (a call meanwhile makes one more pass). */
  async sync(): Promise<void> {
    if (this.syncing) { this.again = true; return; }
    this.syncing = true;
    try {
      do {
        this.again = false;
        await this.pass();
      } while (this.again);
    } catch (err) {
      this.reread = true;
      this.rereadKeys = true;
      this.rereadServers = true;
      this.o.log.warn({ err }, "haproxy: programming failed; tried again on the next pass");
    } finally {
      this.syncing = false;
    }
  }

  private async pass(): Promise<void> {
    const { sources, routesMap, keysMap } = this.o;
    await this.clearing;
    if (this.reread) {
      this.reread = false;
      this.routeEntries.clear();
      for (const [k, v] of parseMap(await this.o.api.run([`show map ${routesMap}`]))) this.routeEntries.set(k, this.routeEntries.has(k) ? DUPLICATE : v);
    }
    if (this.rereadKeys) {
      this.rereadKeys = false;
      this.keyEntries.clear();
      for (const [k, v] of parseMap(await this.o.api.run([`show map ${keysMap}`]))) this.keyEntries.set(k, this.keyEntries.has(k) ? DUPLICATE : v);
    }
    const now = this.now();
    const generation = this.generation;
    for (const [hash, k] of this.keys) if (now - k.at >= KEY_ENTRY_MS) this.dropKey(hash);
    // Undeployed routes' last answers go once their last log lines are in (a deploy-and-undeploy
    // pipeline would otherwise grow `seen` for the life of the process).
    for (const [id, at] of this.leftAt) {
      if (this.routes.has(id)) this.leftAt.delete(id);
      else if (now - at >= SEEN_GRACE_MS) { this.seen.delete(id); this.leftAt.delete(id); }
    }
    // The wanted state.
    const wantRoutes = new Map<string, string>();
    /** Per slot: server name -> the address `add server` is given. */
    const wantServers = new Map<number, Map<string, string>>();
    const projects = new Set<string>();
    const usedSlots = new Set<number>();
    const hostnames = new Set<string>();
    for (const [routeId, { route, secret }] of this.routes) {
      if (!route || !fastRoute(route) || !safeToken(secret)) continue;
      const urls = candidatesFor(sources.endpoints, route.resourceName, route.live?.[0]?.runs, false);
      const endpoints = urls.map((u) => new URL(u)).filter((u) => u.protocol === "http:" && u.pathname === "/");
      if (endpoints.length === 0 || endpoints.length !== urls.length) continue;
      // The slot first: a route that cannot have one (all taken) costs no name lookup.
      const slot = this.slotFor(route.deploymentId, usedSlots);
      if (slot === undefined) continue;
      for (const u of endpoints) hostnames.add(u.hostname);
      // An endpoint named by a host name (a Service, on Kubernetes) goes on the fast path by its
      // IP address, once known; until then the route stays with the workers, and its slot is
      // not kept (not in usedSlots: freed at the end of the pass).
      const servers = endpoints.map((u) => this.addresses.serverFor(u.hostname, u.port || "80"));
      if (servers.some((x) => x === undefined)) continue;
      usedSlots.add(slot);
      wantServers.set(slot, new Map(servers.map((x) => [x!.name, x!.address])));
      wantRoutes.set(routeMapKey(route), [`s${slot}`, route.deploymentId, route.projectId, route.appId, route.revision ?? "", route.requestTimeoutSeconds * 1000, secret, routeId].join("|"));
      projects.add(route.projectId);
    }
    for (const [dep, slot] of this.slotOf) if (!usedSlots.has(slot)) this.slotOf.delete(dep);
    this.addresses.retain(hostnames);
    const wantKeys = new Map<string, string>();
    for (const [hash, { principal }] of this.keys) {
      const who = [principal.userId, principal.keyId ?? "-"].join("|");
      if (!safeToken(who)) continue;
      for (const p of projects) if (hasRole(principal, p, "viewer")) wantKeys.set(`${hash}/${p}`, who);
    }
    // Order: entries that go away first (a request never meets a route whose servers left), new servers before the routes naming them.
    const cmds: string[] = [];
    for (const [k, v] of this.keyEntries) if (wantKeys.get(k) !== v) { cmds.push(`del map ${keysMap} ${k}`); this.keyEntries.delete(k); }
    for (const [k, v] of this.routeEntries) if (wantRoutes.get(k) !== v) { cmds.push(`del map ${routesMap} ${k}`); this.routeEntries.delete(k); }
    await this.o.api.run(cmds);
    cmds.length = 0;
    const removed: string[] = [];
    let added = false;
    let readied = false;
    for (const slot of new Set([...this.servers.keys(), ...wantServers.keys()])) {
      const have = this.servers.get(slot) ?? new Set<string>();
      const want = wantServers.get(slot) ?? new Map<string, string>();
      for (const [name, address] of want) {
        const server = `s${slot}/${name}`;
        // A dynamic server keeps no idle connection unless told (2.6: no default-server applies): without
        // `pool-max-conn`, every call opened a new connection to the replica (measured: 3x HAProxy's CPU per call).
        // Idle connections are closed at its purges, every 10 s (half of those beyond an estimate of the connections needed).
        if (!have.has(name)) { cmds.push(`add server ${server} ${address} pool-max-conn -1 pool-purge-delay 10s`, `enable server ${server}`); added = true; }
        // Back before its connections had drained (a replica ready again), or found astray: its own
        // port (whatever the last batch did; HAProxy answers "no need to change" when it has it), and out of maintenance.
        else if (this.draining.has(server) || this.repair.has(server)) {
          cmds.push(setAddress(server, false), `set server ${server} state ready`);
          this.draining.delete(server);
          this.repair.delete(server);
          readied = true;
        }
      }
      for (const name of have) if (!want.has(name)) removed.push(`s${slot}/${name}`);
      this.servers.set(slot, new Set([...want.keys(), ...[...have].filter((n) => !want.has(n))]));
    }
    // In maintenance no new call goes there; calls in flight finish (as with the workers), and `del server`
    // succeeds once they have: until then it is refused and tried again on the next pass. HAProxy 2.6
    // also refuses it while its pool keeps an idle connection to the server: entering maintenance
    // closes those, but a call in flight then gives its connection back to the pool, which closes
    // it only at a later purge (every 10 s, closing only what exceeds an estimate of the connections
    // needed, which halves from the server's peak each period: 20 s to 90 s, or the replica's own
    // idle timeout; HAProxy 2.6's srv_cleanup_idle_conns). A changed address closes a
    // server's pooled connections at once (srv_update_addr_port), so each pass that finds the
    // server still there moves its port, to PARKED_PORT and back: the delete goes through a pass
    // or two after its last call ended, and the slot is free for another deployment.
    for (const s of removed) {
      const parked = this.draining.get(s);
      if (parked !== undefined) cmds.push(setAddress(s, !parked));
      cmds.push(`set server ${s} state maint`, `del server ${s}`);
      this.draining.set(s, parked === undefined ? false : !parked);
    }
    const answer = await this.o.api.run(cmds);
    if (removed.length > 0 || added || readied || this.rereadServers) {
      this.rereadServers = false;
      // What HAProxy holds now, not what the commands meant: a server it kept (connections still
      // closing) is removed again on the next pass, one it refused to add is added again, a wanted
      // one in maintenance or at another port is repaired, and a draining one's parked port is what HAProxy says.
      const held = parseServers(await this.o.api.run(["show servers state"]));
      for (const [slot, names] of this.servers) {
        for (const name of names) {
          const server = `s${slot}/${name}`;
          const h = held.get(server);
          if (!h) { names.delete(name); this.draining.delete(server); this.repair.delete(server); }
          else if (this.draining.has(server)) this.draining.set(server, h.port !== ownPort(name));
          else if (h.maintenance || h.port !== ownPort(name)) this.repair.add(server);
        }
      }
    }
    if (/error|unknown|failed/i.test(answer) && !/already exists/i.test(answer)) this.o.log.warn({ answer: answer.slice(0, 500) }, "haproxy: a server change was refused");
    cmds.length = 0;
    for (const [k, v] of wantRoutes) {
      if (this.routeEntries.has(k)) continue;
      // Its deployment changed while this pass ran: the next pass adds what the change left.
      if (this.forgottenSince(deploymentOf(v)!, generation)) { this.again = true; continue; }
      cmds.push(`add map ${routesMap} ${k} ${v}`);
      this.routeEntries.set(k, v);
    }
    for (const [k, v] of wantKeys) if (!this.keyEntries.has(k)) { cmds.push(`add map ${keysMap} ${k} ${v}`); this.keyEntries.set(k, v); }
    await this.o.api.run(cmds);
  }

  private slotFor(deploymentId: string, used: Set<number>): number | undefined {
    const had = this.slotOf.get(deploymentId);
    if (had !== undefined) return had;
    const taken = new Set(this.slotOf.values());
    for (let i = 0; i < this.o.slots; i++) {
      // A slot whose servers are still draining is not given to another deployment yet.
      if (!taken.has(i) && !used.has(i) && (this.servers.get(i)?.size ?? 0) === 0) {
        this.slotOf.set(deploymentId, i);
        return i;
      }
    }
    return undefined;
  }
}
