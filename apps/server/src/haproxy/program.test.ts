import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { memoryLogger } from "@flowplane/logging";
import { stepWallClock, waitFor } from "@flowplane/testkit";
import type { GatewayRoute, GatewaySources } from "../gateway/types.js";
import { HaproxyProgram, parseMap } from "./program.js";
import type { RuntimeApi } from "./runtime-api.js";

const NONE = { requestsPerSecond: null, burst: null, maxConcurrent: null };
const ROUTE: GatewayRoute = {
  projectId: "p1", appId: "a1", routeId: "r1", kind: "http", deploymentId: "d1", resourceName: "d-x", networkAccess: "public",
  requestTimeoutSeconds: 60, disabled: false, revision: 2, live: [{ revision: 2, runs: 2, percent: 100 }], limits: { deployment: NONE, perKey: NONE },
};

/**
 * HAProxy's runtime API as far as the program uses it, with its maps held in order (HAProxy's
 * `add map` appends, a lookup takes the first entry). `now` (a connection of its own) is held
 * until released: what a busy machine can do, a batch sent later on the queue landing first.
 */
class FakeRuntimeApi {
  /** Each map file's entries, in order. */
  readonly maps = new Map<string, [string, string][]>();
  private held: (() => void)[] = [];
  hold = false;
  /** Every command applied, in order. */
  readonly sent: string[] = [];
  /** A batch this matches is refused once, unapplied: what a runtime API timeout or a dropped connection can leave. */
  failOnce: ((commands: string[]) => boolean) | undefined;
  /** Dynamic servers (`sN/ip:port`): in forced maintenance, and their port. */
  readonly servers = new Map<string, { maintenance: boolean; port: string }>();
  /** Servers with a call in flight: `del server` is refused, as HAProxy refuses it. */
  readonly busy = new Set<string>();

  /** The routes map (the tests' `/r.map`). */
  get map(): [string, string][] {
    return this.entries("/r.map");
  }

  entries(file: string): [string, string][] {
    let m = this.maps.get(file);
    if (!m) this.maps.set(file, (m = []));
    return m;
  }

  run(commands: string[]): Promise<string> {
    if (this.failOnce?.(commands)) {
      this.failOnce = undefined;
      return Promise.reject(new Error("haproxy runtime API: no answer in time"));
    }
    return Promise.resolve(commands.map((c) => this.apply(c)).join(""));
  }

  now(commands: string[]): Promise<string> {
    if (!this.hold) return this.run(commands);
    return new Promise((resolve) => this.held.push(() => resolve(this.run(commands))));
  }

  release(): void {
    for (const f of this.held.splice(0)) f();
  }

  private apply(c: string): string {
    this.sent.push(c);
    const f = c.split(" ");
    const server = this.servers.get(f[2] ?? "");
    if (c.startsWith("add server ")) this.servers.set(f[2]!, { maintenance: true, port: f[3]!.slice(f[3]!.lastIndexOf(":") + 1) });
    else if (c.startsWith("enable server ") && server) server.maintenance = false;
    else if (c.startsWith("set server ") && f[3] === "state" && server) server.maintenance = f[4] === "maint";
    else if (c.startsWith("set server ") && f[3] === "addr" && server) server.port = f[6]!;
    else if (c.startsWith("del server ")) {
      if (!server) return "No such server.\n";
      if (!server.maintenance) return "Only servers in maintenance mode can be deleted.\n";
      if (this.busy.has(f[2]!)) return "Server still has connections attached to it, cannot remove it.\n";
      this.servers.delete(f[2]!);
    } else if (c === "show servers state") {
      // HAProxy 2.6's columns: srv_admin_state is the 7th, srv_port the 19th.
      return `1\n# be_id be_name srv_id srv_name srv_addr ...\n${[...this.servers].map(([name, sv], i) => {
        const [be, srv] = name.split("/");
        return `3 ${be} ${i + 1} ${srv} ${srv!.slice(0, srv!.lastIndexOf(":"))} 2 ${sv.maintenance ? 1 : 0} 1 1 0 1 0 0 0 0 0 0 - ${sv.port} - 0 0 - - 0`;
      }).join("\n")}\n`;
    }
    const [verb, what, file, key, value] = f;
    const map = this.entries(file ?? "");
    if (`${verb} ${what}` === "add map") map.push([key!, value!]);
    else if (`${verb} ${what}` === "del map") map.splice(0, map.length, ...map.filter(([k]) => k !== key));
    else if (`${verb} ${what}` === "clear map") map.length = 0;
    else if (`${verb} ${what}` === "show map") return `\n${map.map(([k, v], i) => `0x${(0x1000 + i).toString(16)} ${k} ${v}\n`).join("")}\n`;
    return "";
  }
}

describe("HAProxy's programming", () => {
  it("reads HAProxy's `show map` lines", () => {
    assert.deepEqual(parseMap("\n\n0x561438361470 k1 s0|a|b\n0x561438361550 k1 s0|c|d\n\n"), [["k1", "s0|a|b"], ["k1", "s0|c|d"]]);
    assert.deepEqual(parseMap("\n\n"), []);
  });

  it("a forget's del that lands after the next pass's adds does not leave the route off HAProxy, nor twice on it", async () => {
    const api = new FakeRuntimeApi();
    let route: GatewayRoute = ROUTE;
    const sources: GatewaySources = {
      resolveRoute: () => Promise.resolve(route), authenticate: () => Promise.resolve(null),
      endpoints: () => ["http://127.0.0.1:40001"], gatewaySecret: () => "a-gateway-secret",
    };
    const program = new HaproxyProgram({ api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 4, log: memoryLogger().log, syncIntervalMs: 10 });
    try {
      program.routeResolved("r1", route, "a-gateway-secret");
      await waitFor(() => api.map.length === 1, { timeoutMs: 2_000, message: "the route on HAProxy" });
      assert.match(api.map[0]![1], /^s0\|d1\|p1\|a1\|2\|60000\|a-gateway-secret\|r1$/);

      // An edit: revision 3. The forget's del is held back while the passes after it run.
      route = { ...ROUTE, revision: 3, live: [{ revision: 3, runs: 3, percent: 100 }] };
      api.hold = true;
      program.forgetRoutes("d1");
      await new Promise((r) => setTimeout(r, 100)); // ten sync intervals, the del still held
      api.release();
      api.hold = false;
      await waitFor(() => api.map.length === 1 && api.map[0]![1].includes("|3|"), { timeoutMs: 2_000, message: `revision 3's entry alone; map: ${JSON.stringify(api.map)}` });
      // And it stays so: no later pass believes an entry is there that is not, or adds a second.
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(api.map.map(([k]) => k), ["projects/p1/apps/a1/routes/r1"]);
    } finally {
      program.close();
    }
  });

  it("a key dropped while a batch failed is still taken off HAProxy (a revoked key never stays on the fast path)", async () => {
    const api = new FakeRuntimeApi();
    const sources: GatewaySources = {
      resolveRoute: () => Promise.resolve(ROUTE), authenticate: () => Promise.resolve(null),
      endpoints: () => ["http://127.0.0.1:40001"], gatewaySecret: () => "a-gateway-secret",
    };
    const program = new HaproxyProgram({ api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 4, log: memoryLogger().log, syncIntervalMs: 10 });
    const hash = "ab".repeat(32);
    try {
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      program.keyResolved(hash, { userId: "u1", name: "u", kind: "human", orgOwner: false, roles: new Map([["p1", "viewer"]]), keyId: "k1" });
      await waitFor(() => api.entries("/k.map").length === 1, { timeoutMs: 2_000, message: "the key on HAProxy" });
      assert.deepEqual(api.entries("/k.map"), [[`${hash}/p1`, "u1|k1"]]);
      // The key is revoked (a Node lookup finds it no more); the batch that would take it off fails.
      api.failOnce = (commands) => commands.some((c) => c.startsWith("del map /k.map"));
      program.keyResolved(hash, null);
      await waitFor(() => api.failOnce === undefined, { timeoutMs: 2_000, message: "the failed batch" });
      await waitFor(() => api.entries("/k.map").length === 0, { timeoutMs: 2_000, message: `the revoked key off HAProxy; keys map: ${JSON.stringify(api.entries("/k.map"))}` });
    } finally {
      program.close();
    }
  });

  it("a change of one deployment leaves every other deployment's route on HAProxy", async () => {
    const api = new FakeRuntimeApi();
    const other: GatewayRoute = { ...ROUTE, routeId: "r2", deploymentId: "d2", resourceName: "d-y", appId: "a2" };
    let changed: GatewayRoute = ROUTE;
    let r1Reads = 0;
    const sources: GatewaySources = {
      resolveRoute: (id) => { if (id === "r1") r1Reads++; return Promise.resolve(id === "r2" ? other : changed); }, authenticate: () => Promise.resolve(null),
      endpoints: (name) => [name === "d-y" ? "http://127.0.0.1:40002" : "http://127.0.0.1:40001"], gatewaySecret: () => "a-gateway-secret",
    };
    const program = new HaproxyProgram({ api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 4, log: memoryLogger().log, syncIntervalMs: 10 });
    try {
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      program.routeResolved("r2", other, "a-gateway-secret");
      await waitFor(() => api.map.length === 2, { timeoutMs: 2_000, message: "both routes on HAProxy" });
      const otherKey = "projects/p1/apps/a2/routes/r2";
      const otherEntry = api.map.find(([k]) => k === otherKey);
      assert.ok(otherEntry, JSON.stringify(api.map));
      api.sent.length = 0;

      // d1 is edited (revision 3), twice: d1's entry goes and comes back with the new revision.
      changed = { ...ROUTE, revision: 3, live: [{ revision: 3, runs: 3, percent: 100 }] };
      const reads = r1Reads;
      program.forgetRoutes("d1");
      program.forgetRoutes("d1");
      // Each change reads d1's route again at once, the second too (the first's answer may predate it).
      assert.equal(r1Reads - reads, 2);
      await waitFor(() => api.map.some(([k, v]) => k === "projects/p1/apps/a1/routes/r1" && v.includes("|3|")), { timeoutMs: 2_000, message: `revision 3 on HAProxy; map: ${JSON.stringify(api.map)}` });
      await new Promise((r) => setTimeout(r, 100));
      // d2's entry was never taken off, nor written again: its calls never left the fast path.
      assert.deepEqual(api.sent.filter((c) => c.includes(otherKey) || c.startsWith("clear map")), []);
      assert.deepEqual(api.map.find(([k]) => k === otherKey), otherEntry);
      assert.equal(api.map.length, 2, JSON.stringify(api.map));

      // A change of a deployment HAProxy does not serve changes no map. (This fake holds no
      // servers, so the passes keep adding them: only the maps are looked at.)
      api.sent.length = 0;
      program.forgetRoutes("d9");
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(api.sent.filter((c) => / map /.test(c) && !c.startsWith("show ")), []);
    } finally {
      program.close();
    }
  });

  it("a key in use on the fast path is read again before its entry expires, and stays on HAProxy unbroken; a revoked one still goes", async () => {
    const api = new FakeRuntimeApi();
    let clock = 0;
    const principal = (keyId: string) => ({ userId: "u1", name: "u", kind: "human" as const, orgOwner: false, roles: new Map([["p1", "viewer" as const]]), keyId });
    const reads: string[] = [];
    let revoked = false;
    const sources: GatewaySources = {
      resolveRoute: () => Promise.resolve(ROUTE), authenticate: () => Promise.resolve(null),
      endpoints: () => ["http://127.0.0.1:40001"], gatewaySecret: () => "a-gateway-secret",
    };
    const program = new HaproxyProgram({
      api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 4, log: memoryLogger().log, syncIntervalMs: 10, now: () => clock,
      keyByHash: (hash) => { reads.push(hash); return Promise.resolve(revoked ? null : principal("k1")); },
    });
    const used = "ab".repeat(32);
    const idle = "cd".repeat(32);
    const keys = () => api.entries("/k.map").map(([k]) => k.split("/")[0]);
    const call = () => program.record(`fpfast 3f1c r1 u1|k1 POST /api/v1/run/x 200 4 2 -`);
    try {
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      program.keyResolved(used, principal("k1"));
      program.keyResolved(idle, principal("k2"));
      await waitFor(() => keys().length === 2, { timeoutMs: 2_000, message: "both keys on HAProxy" });
      call(); // k1 serves a fast-path call; k2 none.

      clock = 3_100;
      await waitFor(() => reads.length === 1, { timeoutMs: 2_000, message: "the used key read again" });
      assert.deepEqual(reads, [used]);
      clock = 4_500; // past both first reads' expiry
      await waitFor(() => keys().length === 1, { timeoutMs: 2_000, message: "the unused key expired" });
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(keys(), [used]);
      // Never taken off, never written again: its calls did not leave the fast path.
      assert.deepEqual(api.sent.filter((c) => c.includes(used) && !c.startsWith("add map /k.map")).length, 0);
      assert.equal(api.sent.filter((c) => c.includes(used)).length, 1);

      // Not used since: no read again, and it expires 4 s after the read that kept it (started at 3.1 s).
      clock = 7_000;
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(reads, [used]);
      assert.deepEqual(keys(), [used]);
      clock = 7_100;
      await waitFor(() => keys().length === 0, { timeoutMs: 2_000, message: "the key expired" });

      // Used, then revoked: the read again finds nothing and the entry goes before its expiry.
      program.keyResolved(used, principal("k1"));
      await waitFor(() => keys().length === 1, { timeoutMs: 2_000, message: "the key back" });
      call();
      revoked = true;
      clock = 10_200;
      await waitFor(() => keys().length === 0, { timeoutMs: 2_000, message: "the revoked key off HAProxy" });
      assert.equal(reads.length, 2);
    } finally {
      program.close();
    }
  });

  it("a key's entry expires on the programmer's own clock: a wall clock stepped back an hour does not keep a key on HAProxy for that hour", async () => {
    const api = new FakeRuntimeApi();
    const sources: GatewaySources = {
      resolveRoute: () => Promise.resolve(ROUTE), authenticate: () => Promise.resolve(null),
      endpoints: () => ["http://127.0.0.1:40001"], gatewaySecret: () => "a-gateway-secret",
    };
    // Its default clock; the key never used, so never read again: it must go 4 s after it was read.
    const program = new HaproxyProgram({ api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 4, log: memoryLogger().log, syncIntervalMs: 10, keyByHash: () => Promise.resolve(null) });
    const keys = () => api.entries("/k.map").length;
    let back = () => undefined as void;
    try {
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      program.keyResolved("ef".repeat(32), { userId: "u1", name: "u", kind: "human", orgOwner: false, roles: new Map([["p1", "viewer"]]), keyId: "k9" });
      await waitFor(() => keys() === 1, { timeoutMs: 2_000, message: "the key on HAProxy" });
      back = stepWallClock(-3_600_000);
      await waitFor(() => keys() === 0, { timeoutMs: 6_000, message: "the key off HAProxy within its 4 s, not an hour" });
    } finally {
      back();
      program.close();
    }
  });

  it("another deployment's changes, however many, never hold back a route's refresh; an answer read before a change is not taken after it", async () => {
    const api = new FakeRuntimeApi();
    const other: GatewayRoute = { ...ROUTE, routeId: "r2", deploymentId: "d2", resourceName: "d-y", appId: "a2" };
    const store: Record<string, GatewayRoute | null> = { r1: ROUTE, r2: other };
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    let reads = 0;
    const sources: GatewaySources = {
      // Each read takes 20 ms: longer than the changes below are apart.
      resolveRoute: async (id) => { reads++; const v = store[id] ?? null; await sleep(20); return v; },
      authenticate: () => Promise.resolve(null),
      endpoints: (name) => [name === "d-y" ? "http://127.0.0.1:40002" : "http://127.0.0.1:40001"], gatewaySecret: () => "a-gateway-secret",
    };
    const program = new HaproxyProgram({ api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 4, log: memoryLogger().log, syncIntervalMs: 10 });
    const entry = (k: string) => api.map.find(([key]) => key === k)?.[1];
    const r1 = "projects/p1/apps/a1/routes/r1";
    const r2 = "projects/p1/apps/a2/routes/r2";
    try {
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      program.routeResolved("r2", other, "a-gateway-secret");
      await waitFor(() => api.map.length === 2, { timeoutMs: 2_000, message: "both routes on HAProxy" });

      // d2 is disabled through another process (this one learns it only by reading again, within
      // a second), while d1 changes every 10 ms here: d2's route must still leave HAProxy.
      store.r2 = { ...other, disabled: true };
      const t0 = performance.now();
      const churn = setInterval(() => program.forgetRoutes("d1"), 10);
      try {
        await waitFor(() => entry(r2) === undefined, { timeoutMs: 3_000, intervalMs: 10, message: `d2's disabled route off HAProxy; map: ${JSON.stringify(api.map)}` });
      } finally {
        clearInterval(churn);
      }
      const took = performance.now() - t0;
      assert.ok(took < 2_500, `${Math.round(took)} ms`);

      // A lookup that read d1's route before a change answers after it: its answer is not taken.
      await waitFor(() => entry(r1) !== undefined, { timeoutMs: 2_000, message: "d1 back on HAProxy" });
      const start = program.beginLookup();
      const before = store.r1!;
      store.r1 = { ...ROUTE, disabled: true };
      program.forgetRoutes("d1");
      program.routeResolved("r1", before, "a-gateway-secret", start);
      for (let i = 0; i < 20; i++) {
        assert.equal(entry(r1), undefined, `d1's old route back on HAProxy after ${i * 10} ms`);
        await sleep(10);
      }

      // Route ids nobody has (any caller can name one) are not kept, nor read again every second.
      const n = reads;
      for (let i = 0; i < 500; i++) program.routeResolved(`nope-${i}`, null, null);
      await sleep(1_300);
      assert.ok(reads - n < 10, `${reads - n} reads`);
    } finally {
      program.close();
    }
  });

  it("a key read by the workers is kept 4 s from the start of that read; a read again that fails is not repeated", async () => {
    const api = new FakeRuntimeApi();
    let clock = 10_000;
    const principal = { userId: "u1", name: "u", kind: "human" as const, orgOwner: false, roles: new Map([["p1", "viewer" as const]]), keyId: "k1" };
    let reads = 0;
    const logs = memoryLogger();
    const sources: GatewaySources = {
      resolveRoute: () => Promise.resolve(ROUTE), authenticate: () => Promise.resolve(null),
      endpoints: () => ["http://127.0.0.1:40001"], gatewaySecret: () => "a-gateway-secret",
    };
    const program = new HaproxyProgram({
      api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 4, log: logs.log, syncIntervalMs: 10, now: () => clock,
      keyByHash: () => { reads++; return Promise.reject(new Error("the database is down")); },
    });
    const hash = "ef".repeat(32);
    try {
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      // A slow read: begun at 10 000, answered at 11 500.
      const start = program.beginLookup();
      clock = 11_500;
      program.keyResolved(hash, principal, start.at);
      await waitFor(() => api.entries("/k.map").length === 1, { timeoutMs: 2_000, message: "the key on HAProxy" });
      program.record(`fpfast 3f1c r1 u1|k1 GET /flows 200 4 2 -`);
      clock = 13_100; // 3.1 s after the read began: read again, which fails
      await waitFor(() => reads === 1, { timeoutMs: 2_000, message: "the read again" });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(reads, 1, "a failed read is not repeated");
      clock = 13_950;
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(api.entries("/k.map").length, 1);
      clock = 14_000; // 4 s after the read began (not after it answered)
      await waitFor(() => api.entries("/k.map").length === 0, { timeoutMs: 2_000, message: "the key expired" });
      assert.equal(reads, 1);
      assert.ok(logs.lines.some((l) => /reading keys in use again failed/.test(String(l.msg))), JSON.stringify(logs.lines));
    } finally {
      program.close();
    }
  });

  it("an undeployed route's calls still logged are recorded for a minute, then the route is forgotten", async () => {
    const api = new FakeRuntimeApi();
    let clock = 0;
    let stored: GatewayRoute | null = ROUTE;
    const recorded: string[] = [];
    const sources: GatewaySources = {
      resolveRoute: () => Promise.resolve(stored), authenticate: () => Promise.resolve(null),
      endpoints: () => ["http://127.0.0.1:40001"], gatewaySecret: () => "a-gateway-secret",
    };
    const program = new HaproxyProgram({
      api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 4, log: memoryLogger().log, syncIntervalMs: 10, now: () => clock,
      runs: { add: (runs) => recorded.push(...runs.map((r) => r.requestId)) },
    });
    const line = (id: string) => `fpfast ${id} r1 u1|k1 POST /api/v1/run/1e3eea9b-d466-4fba-b0d9-08901143df3e 200 4 2 -`;
    try {
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      await waitFor(() => api.map.length === 1, { timeoutMs: 2_000, message: "the route on HAProxy" });
      // Undeployed: the store no longer has it.
      stored = null;
      program.forgetRoutes("d1");
      await waitFor(() => api.map.length === 0, { timeoutMs: 2_000, message: "the route off HAProxy" });
      clock = 30_000;
      await new Promise((r) => setTimeout(r, 50));
      program.record(line("late-1"));
      clock = 61_000;
      await new Promise((r) => setTimeout(r, 50));
      program.record(line("late-2"));
      assert.deepEqual(recorded, ["late-1"]);
    } finally {
      program.close();
    }
  });
  it("a change of the replicas the driver announces goes to HAProxy at once, whatever the tick (2^30 ms here)", async () => {
    const api = new FakeRuntimeApi();
    let endpoints = ["http://10.0.0.1:8000/"];
    // Route reads never answer: the route's own refresh (every second) makes no pass either.
    const sources = { endpoints: () => endpoints, resolveRoute: () => new Promise(() => undefined) } as unknown as GatewaySources;
    const program = new HaproxyProgram({ api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 4, log: memoryLogger().log, syncIntervalMs: 2 ** 30 });
    const live = () => [...api.servers].filter(([, v]) => !v.maintenance).map(([k]) => k).sort();
    try {
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      await waitFor(() => live().length === 1, { timeoutMs: 2_000, intervalMs: 5, message: "the first replica on HAProxy" });
      assert.deepEqual(live(), ["s0/10.0.0.1:8000"]);
      // The replica is gone and another is ready: told, the programmer makes a pass now.
      endpoints = ["http://10.0.0.2:8000/"];
      program.endpointsChanged();
      await waitFor(() => live().join() === "s0/10.0.0.2:8000", { timeoutMs: 2_000, intervalMs: 5, message: `the gone replica out, the new one in: ${JSON.stringify([...api.servers])}` });
    } finally {
      program.close();
    }
  });

  it("a replica caught with its port moved, or in maintenance, after a batch that failed serves again at its own port", async () => {
    const api = new FakeRuntimeApi();
    let endpoints = ["http://10.0.0.1:8000/", "http://10.0.0.2:8000/"];
    const sources = { endpoints: () => endpoints, resolveRoute: () => Promise.resolve(ROUTE) } as unknown as GatewaySources;
    const program = new HaproxyProgram({ api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 4, log: memoryLogger().log, syncIntervalMs: 2 ** 30 });
    const x = "s0/10.0.0.1:8000";
    const state = () => api.servers.get(x);
    try {
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      await waitFor(() => api.servers.size === 2 && state()?.maintenance === false, { timeoutMs: 2_000, intervalMs: 5, message: "both servers ready" });
      // A call in flight on x; x's replica leaves: x drains, and a later pass parks its port.
      api.busy.add(x);
      endpoints = ["http://10.0.0.2:8000/"];
      await program.sync();
      assert.deepEqual(state(), { maintenance: true, port: "8000" });
      await program.sync();
      assert.deepEqual(state(), { maintenance: true, port: "1" }, "parked");
      // The pass that would move it back fails unapplied; x's replica is ready again.
      api.failOnce = (cmds) => cmds.some((c) => c.startsWith(`set server ${x} addr`));
      await program.sync();
      assert.deepEqual(state(), { maintenance: true, port: "1" }, "the failed batch changed nothing");
      endpoints = ["http://10.0.0.1:8000/", "http://10.0.0.2:8000/"];
      await program.sync();
      await program.sync();
      assert.deepEqual(state(), { maintenance: false, port: "8000" }, "x at its own port, out of maintenance");

      // Its `state ready` lost the same way: the next passes find it in maintenance and take it out.
      endpoints = ["http://10.0.0.2:8000/"];
      await program.sync();
      await program.sync();
      api.failOnce = (cmds) => cmds.some((c) => c === `set server ${x} state ready`);
      endpoints = ["http://10.0.0.1:8000/", "http://10.0.0.2:8000/"];
      await program.sync();
      assert.equal(state()?.maintenance, true, "the failed batch left it in maintenance");
      for (let i = 0; i < 3; i++) await program.sync();
      assert.deepEqual(state(), { maintenance: false, port: "8000" }, "repaired");
      // And once its call ended and it left, it is deleted.
      api.busy.delete(x);
      endpoints = ["http://10.0.0.2:8000/"];
      for (let i = 0; i < 3; i++) await program.sync();
      assert.equal(state(), undefined);
    } finally {
      program.close();
    }
  });
});
