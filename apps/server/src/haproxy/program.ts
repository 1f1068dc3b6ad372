import type { Principal } from "@flowplane/core";
import { FastPathState, type FastPathStateOptions, type LookupStart } from "../fast-path/state.js";
import type { GatewayRoute } from "../gateway/types.js";
import { ROUTE_FIELDS, routeMapKey } from "./config.js";
import { parseFastLine } from "./log-line.js";
import type { RuntimeApi } from "./runtime-api.js";
import { ServerAddresses } from "./server-addresses.js";

/** The fast path's state's collaborators (fast-path/state.ts: sources, log, metrics, runs, clock, keyByHash), and HAProxy's own. */
export interface HaproxyProgramOptions extends Omit<FastPathStateOptions, "name" | "changed" | "keyCheckIntervalMs"> {
  api: RuntimeApi;
  routesMap: string;
  keysMap: string;
  slots: number;
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

/**
 * Programs flowplane's HAProxy through its runtime API (never a reload) to what the fast path
 * may serve (fast-path/state.ts: the routes and keys the workers looked up): the routes map, the
 * keys map and each deployment's slot backend with its replicas as servers. Its calls are
 * recorded from HAProxy's log (`record`), as the workers' are.
 */
export class HaproxyProgram {
  private readonly state: FastPathState;
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
  private readonly timer: NodeJS.Timeout;
  private syncing = false;
  private closed = false;
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
  private readonly addresses: ServerAddresses;

  constructor(private readonly o: HaproxyProgramOptions) {
    // A lookup answering after close() runs no pass: HAProxy is stopped next (HaproxyFront.close).
    const changed = () => { if (!this.closed) void this.sync(); };
    this.state = new FastPathState({ ...o, name: "haproxy", changed, ...(o.syncIntervalMs !== undefined ? { keyCheckIntervalMs: o.syncIntervalMs } : {}) });
    this.addresses = new ServerAddresses({ log: o.log, now: this.state.now, onChange: changed, ...(o.resolve ? { resolve: o.resolve } : {}) });
    this.timer = setInterval(() => void this.sync(), o.syncIntervalMs ?? 100);
    this.timer.unref();
  }

  /** Noted when a lookup (of a route or a key) begins; its answer is handed back with it. */
  beginLookup(): LookupStart {
    return this.state.beginLookup();
  }

  /** A Node gateway resolved a route (the workers' lookup): fast-path/state.ts `routeResolved`. */
  routeResolved(routeId: string, route: GatewayRoute | null, secret: string | null, start?: LookupStart): void {
    this.state.routeResolved(routeId, route, secret, start);
  }

  /** A Node gateway read a key (the workers' lookup): fast-path/state.ts `keyResolved`. */
  keyResolved(hash: string, principal: Principal | null, readAt?: number): void {
    this.state.keyResolved(hash, principal, readAt);
  }

  /**
   * A deployment changed (the same push the workers get): its route entries go now, on a
   * connection of their own (not behind a pass in progress), so the change is live one route
   * lookup after the API answered, as with the workers; a pass that read the routes before
   * this adds none of them back (the state's generation). Only that deployment's entries go: a
   * route id belongs to one deployment (its record holds it), so no other route's answer
   * changed, and the other deployments' calls stay on the fast path through every change of another.
   */
  forgetRoutes(deploymentId: string): void {
    const gone = new Set(this.state.forget(deploymentId).map(routeMapKey));
    for (const [k, v] of this.routeEntries) if (deploymentOf(v) === deploymentId) gone.add(k);
    if (gone.size > 0) {
      for (const k of gone) this.routeEntries.delete(k);
      this.reread = true;
      // A pass waits for every forget sent so far (this one chained beside the ones before).
      const sent = this.o.api.now([...gone].map((k) => `del map ${this.o.routesMap} ${k}`)).catch((err: unknown) => this.o.log.warn({ err }, "haproxy: taking routes off failed"));
      this.clearing = Promise.all([this.clearing, sent]).then(() => undefined);
    }
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
    if (call) this.state.recordCall(call);
  }

  /**
   * The driver saw replicas change (one ready, one gone): a pass now, not at the next tick. A
   * dead replica's port is anyone's from its exit on, and HAProxy cannot check a connection as the
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
    const { routesMap, keysMap } = this.o;
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
    const generation = this.state.generation;
    // The wanted state.
    const wantRoutes = new Map<string, string>();
    /** Per slot: server name -> the address `add server` is given. */
    const wantServers = new Map<number, Map<string, string>>();
    const projects = new Set<string>();
    const usedSlots = new Set<number>();
    const hostnames = new Set<string>();
    for (const { routeId, route, secret, endpoints } of this.state.candidates()) {
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
    const wantKeys = this.state.wantedKeys(projects);
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
      if (this.state.forgottenSince(deploymentOf(v)!, generation)) { this.again = true; continue; }
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
