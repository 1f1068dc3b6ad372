import type { Principal } from "@flowplane/core";
import { FastPathState, KEY_ENTRY_MS, type FastCall, type FastCount, type FastPathStateOptions, type LookupStart } from "../fast-path/state.js";
import type { GatewayRoute } from "../gateway/types.js";
import { routeMapKey } from "../haproxy/config.js";
import { ServerAddresses } from "../haproxy/server-addresses.js";
import type { NginxBatch, NginxBatchResult, NginxKeyEntry, NginxRouteEntry } from "./program-client.js";

export interface NginxProgramOptions extends Omit<FastPathStateOptions, "name" | "changed" | "keyCheckIntervalMs"> {
  /** nginx's programming socket (program-client.ts). */
  client: { send(batch: NginxBatch): Promise<NginxBatchResult> };
  /** How often the ready sets are compared and the entries changed (ms; default 100, as the workers' push). */
  syncIntervalMs?: number;
  /** A replica endpoint's host name to its IP address (default: the system resolver; haproxy/server-addresses.ts). */
  resolve?: (host: string) => Promise<string>;
}

/** How often a refused entry (a full dictionary) is warned about, at most. */
const WARN_EVERY_MS = 10_000;

/**
 * Brings flowplane's nginx (config.ts, lua.ts) to what the fast path may serve
 * (fast-path/state.ts): one JSON batch per pass over the programming socket, never a reload.
 * nginx needs no slots, servers or drains: a route entry carries its replicas' addresses, and a
 * replica that leaves keeps its calls in flight (the balancer chose it per call).
 *
 * Invariants:
 * - passes run one at a time, and each sends one batch (nginx applies its deletes, then its
 *   sets, in one handler), so no two batches race: a deployment's forget takes its entries off
 *   in the next pass, behind at most the pass in progress (a few ms over a Unix socket);
 * - a key entry is set to expire KEY_ENTRY_MS after the read that admitted its key began (nginx
 *   caps it at 4 s anyway), and is set again when a read again renews it;
 * - after a failed batch or a restart of nginx, the next pass sends `reset` and everything, so
 *   what nginx holds is never assumed.
 */
export class NginxProgram {
  private readonly state: FastPathState;
  private readonly addresses: ServerAddresses;
  /** What nginx holds: route entries (as sent, JSON) and key entries (who and read time). */
  private readonly routes = new Map<string, string>();
  private readonly keys = new Map<string, string>();
  /** Route entries a forget took off: their deployment's, sent as deletes by the next pass. */
  private readonly forgotten = new Set<string>();
  private reset = true;
  private readonly timer: NodeJS.Timeout;
  private syncing = false;
  private again = false;
  private closed = false;
  private warnedAt = -Infinity;

  constructor(private readonly o: NginxProgramOptions) {
    const changed = () => { if (!this.closed) void this.sync(); };
    this.state = new FastPathState({ ...o, name: "nginx", changed, ...(o.syncIntervalMs !== undefined ? { keyCheckIntervalMs: o.syncIntervalMs } : {}) });
    this.addresses = new ServerAddresses({ log: o.log, now: this.state.now, onChange: changed, ...(o.resolve ? { resolve: o.resolve } : {}) });
    this.timer = setInterval(changed, o.syncIntervalMs ?? 100);
    this.timer.unref();
  }

  beginLookup(): LookupStart {
    return this.state.beginLookup();
  }

  routeResolved(routeId: string, route: GatewayRoute | null, secret: string | null, start?: LookupStart): void {
    this.state.routeResolved(routeId, route, secret, start);
  }

  keyResolved(hash: string, principal: Principal | null, readAt?: number): void {
    this.state.keyResolved(hash, principal, readAt);
  }

  /** A deployment changed: its route entries go in the next pass (and its routes are read again). */
  forgetRoutes(deploymentId: string): void {
    for (const route of this.state.forget(deploymentId)) this.forgotten.add(routeMapKey(route));
    for (const [k, v] of this.routes) if ((JSON.parse(v) as NginxRouteEntry).deployment === deploymentId) this.forgotten.add(k);
    void this.sync();
  }

  /** nginx started again with empty dictionaries: everything is programmed anew. */
  restarted(): void {
    this.reset = true;
    void this.sync();
  }

  /** A fast-path call nginx logged (once it logs them), recorded as the workers record theirs. */
  recordCall(call: FastCall): void {
    this.state.recordCall(call);
  }

  /** Fast-path calls nginx counted (lua-log.ts: never runs), recorded as that many calls. */
  recordCount(count: FastCount): void {
    this.state.recordCount(count);
  }

  /**
   * The driver saw replicas change (one ready, one gone): a pass now, not at the next tick. A
   * dead replica's port is anyone's from its exit on, and nginx cannot check a connection as the
   * Node gateway does: the sooner it stops sending there, the smaller that window.
   */
  endpointsChanged(): void {
    if (!this.closed) void this.sync();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.state.close();
  }

  /** Brings nginx to the wanted state; one pass at a time (a call meanwhile makes one more pass). */
  async sync(): Promise<void> {
    if (this.syncing) { this.again = true; return; }
    this.syncing = true;
    try {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.closed);
    } catch (err) {
      this.reset = true;
      this.o.log.warn({ err }, "nginx: programming failed; everything is sent again on the next pass");
    } finally {
      this.syncing = false;
    }
  }

  private async pass(): Promise<void> {
    const generation = this.state.generation;
    const now = this.state.now();
    const wantRoutes = new Map<string, NginxRouteEntry>();
    const projects = new Set<string>();
    const hostnames = new Set<string>();
    for (const { routeId, route, secret, endpoints } of this.state.candidates()) {
      for (const u of endpoints) hostnames.add(u.hostname);
      // A replica named by a host name (a Service) goes by its address once known: nginx's
      // balancer connects to addresses only. Until then the route stays with the workers.
      const servers = endpoints.map((u) => this.addresses.serverFor(u.hostname, u.port || "80"));
      if (servers.some((x) => x === undefined)) continue;
      const key = routeMapKey(route);
      wantRoutes.set(key, {
        key, deployment: route.deploymentId, project: route.projectId, app: route.appId, revision: route.revision ?? null,
        timeoutMs: route.requestTimeoutSeconds * 1000, secret, route: routeId, addresses: servers.map((x) => x!.address),
      });
      projects.add(route.projectId);
    }
    this.addresses.retain(hostnames);
    const wantKeys = new Map<string, NginxKeyEntry & { held: string }>();
    for (const k of this.state.wantedKeyEntries(projects)) {
      const ttlMs = KEY_ENTRY_MS - (now - k.readAt);
      if (ttlMs > 0) wantKeys.set(k.entry, { key: k.entry, userId: k.userId, keyId: k.keyId, ttlMs: Math.ceil(ttlMs), held: `${k.who}@${k.readAt}` });
    }

    const reset = this.reset;
    if (reset) { this.routes.clear(); this.keys.clear(); }
    const batch: Required<Pick<NginxBatch, "routes" | "keys">> & NginxBatch = { routes: { set: [], delete: [] }, keys: { set: [], delete: [] } };
    for (const k of this.routes.keys()) if (!wantRoutes.has(k)) batch.routes.delete!.push(k);
    for (const k of this.forgotten) if (!batch.routes.delete!.includes(k) && this.routes.has(k)) batch.routes.delete!.push(k);
    for (const k of this.keys.keys()) if (!wantKeys.has(k)) batch.keys.delete!.push(k);
    for (const [k, entry] of wantRoutes) {
      const held = JSON.stringify(entry);
      if (this.routes.get(k) === held && !this.forgotten.has(k)) continue;
      // Its deployment changed while this pass ran: the next pass sends what the change left.
      if (this.state.forgottenSince(entry.deployment, generation)) { this.again = true; continue; }
      batch.routes.set!.push(entry);
    }
    for (const [k, { held, ...entry }] of wantKeys) if (this.keys.get(k) !== held) batch.keys.set!.push(entry);
    this.forgotten.clear();
    const sets = { routes: batch.routes.set!, keys: batch.keys.set! };
    if (!reset && [batch.routes.delete!, batch.keys.delete!, sets.routes, sets.keys].every((l) => l.length === 0)) return;
    if (reset) batch.reset = true;

    // What nginx holds is what this batch makes it hold, but for the entries it refuses.
    for (const k of batch.routes.delete!) this.routes.delete(k);
    for (const k of batch.keys.delete!) this.keys.delete(k);
    for (const e of sets.routes) this.routes.set(e.key, JSON.stringify(e));
    for (const e of sets.keys) this.keys.set(e.key, wantKeys.get(e.key)!.held);
    this.reset = false;
    const result = await this.o.client.send(batch);
    for (const error of result.errors) {
      // `routes.set[2]: …` (1-based): not held, so the next pass sends it again.
      const m = /^(routes|keys)\.set\[(\d+)\]/.exec(error);
      const list = m?.[1] === "routes" ? sets.routes : m?.[1] === "keys" ? sets.keys : undefined;
      const e = list?.[Number(m?.[2]) - 1];
      if (e) (m![1] === "routes" ? this.routes : this.keys).delete(e.key);
    }
    if (result.errors.length > 0 && now - this.warnedAt >= WARN_EVERY_MS) {
      this.warnedAt = now;
      this.o.log.warn({ refused: result.errors.length, first: result.errors[0] }, "nginx: entries refused (their calls stay with the workers); tried again on the next passes");
    }
  }
}
