import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NewRun, Principal, Role } from "@flowplane/core";
import { memoryLogger } from "@flowplane/logging";
import type { GatewayRoute, GatewaySources } from "../gateway/types.js";
import type { Metrics } from "../metrics.js";
import { FastPathState, KEY_ENTRY_MS, type FastPathStateOptions } from "./state.js";

const NONE = { requestsPerSecond: null, burst: null, maxConcurrent: null };
const ROUTE: GatewayRoute = {
  projectId: "p1", appId: "a1", routeId: "r1", kind: "http", deploymentId: "d1", resourceName: "d-x", networkAccess: "public",
  requestTimeoutSeconds: 60, disabled: false, revision: 2, live: [{ revision: 2, runs: 2, percent: 100 }], limits: { deployment: NONE, perKey: NONE },
};
const principal = (roles: [string, Role][], keyId = "k1"): Principal =>
  ({ userId: "u1", name: "u", kind: "human", orgOwner: false, roles: new Map(roles), keyId });

/** A state on a clock the test moves, over sources whose answers the test sets. */
function setUp(over: Partial<FastPathStateOptions> = {}) {
  let now = 1_000;
  const store = new Map<string, GatewayRoute>([["r1", ROUTE]]);
  const sources: GatewaySources = {
    resolveRoute: (id) => Promise.resolve(store.get(id) ?? null), authenticate: () => Promise.resolve(null),
    endpoints: () => ["http://127.0.0.1:40001/", "http://127.0.0.1:40002/"], gatewaySecret: () => "a-gateway-secret",
  };
  let changes = 0;
  const runs: NewRun[] = [];
  const state = new FastPathState({ sources, log: memoryLogger().log, name: "test", now: () => now, changed: () => { changes++; }, runs: { add: (r) => runs.push(...r) }, ...over });
  return { state, store, runs, tick: (ms: number) => { now += ms; }, changes: () => changes };
}

describe("the fast path's wanted state", () => {
  it("a route reaches it after a lookup, with its replicas; a route the store does not have never does", () => {
    const { state, changes } = setUp();
    try {
      assert.deepEqual(state.candidates(), []);
      state.routeResolved("r1", ROUTE, "a-gateway-secret");
      state.routeResolved("nope", null, null);
      const [c, ...rest] = state.candidates();
      assert.deepEqual(rest, []);
      assert.deepEqual({ id: c!.routeId, secret: c!.secret, endpoints: c!.endpoints.map(String) }, { id: "r1", secret: "a-gateway-secret", endpoints: ["http://127.0.0.1:40001/", "http://127.0.0.1:40002/"] });
      assert.ok(changes() >= 2, "each answer asks the programmer for a pass");
    } finally {
      state.close();
    }
  });

  it("leaves out routes a proxy cannot serve exactly, and a secret no entry can hold", () => {
    const { state } = setUp();
    try {
      state.routeResolved("r1", { ...ROUTE, limits: { deployment: { ...NONE, requestsPerSecond: 5 }, perKey: NONE } }, "a-gateway-secret");
      state.routeResolved("r2", { ...ROUTE, routeId: "r2", deploymentId: "d2" }, "a secret with spaces");
      assert.deepEqual(state.candidates(), []);
    } finally {
      state.close();
    }
  });

  it("an answer from a lookup begun before its deployment changed is not taken; the change's own read is", async () => {
    const { state, store } = setUp();
    try {
      state.routeResolved("r1", ROUTE, "s1");
      const before = state.beginLookup();
      const moved = { ...ROUTE, revision: 3, live: [{ revision: 3, runs: 3, percent: 100 }] };
      store.set("r1", moved);
      assert.deepEqual(state.forget("d1").map((r) => r.routeId), ["r1"], "the routes it had, for the proxy to take off");
      assert.deepEqual(state.candidates(), [], "off until read again");
      state.routeResolved("r1", ROUTE, "s1", before); // the stale answer arrives late
      assert.deepEqual(state.candidates(), []);
      await state.refreshRoutes(["r1"]);
      assert.equal(state.candidates()[0]?.route.revision, 3);
      assert.equal(state.forgottenSince("d1", before.generation), true);
      assert.equal(state.forgottenSince("d2", before.generation), false, "another deployment's answers are not held back");
    } finally {
      state.close();
    }
  });

  it("a key is wanted for the projects its user may call, and for no longer than KEY_ENTRY_MS from its read", () => {
    const { state, tick } = setUp();
    try {
      const hash = "ab".repeat(32);
      state.keyResolved(hash, principal([["p1", "viewer"]]));
      assert.deepEqual([...state.wantedKeys(new Set(["p1", "p2"]))], [[`${hash}/p1`, "u1|k1"]]);
      tick(KEY_ENTRY_MS - 1);
      state.candidates();
      assert.equal(state.wantedKeys(new Set(["p1"])).size, 1);
      tick(1);
      state.candidates();
      assert.equal(state.wantedKeys(new Set(["p1"])).size, 0, "expired");
      state.keyResolved(hash, null);
      assert.equal(state.wantedKeys(new Set(["p1"])).size, 0);
    } finally {
      state.close();
    }
  });

  it("a logged call is recorded as a run of its route, and marks its key as in use, read again before it expires", async () => {
    const reads: string[] = [];
    const { state, runs, tick } = setUp({ keyByHash: (h) => { reads.push(h); return Promise.resolve(principal([["p1", "viewer"]])); }, keyCheckIntervalMs: 5 });
    try {
      const hash = "cd".repeat(32);
      state.routeResolved("r1", ROUTE, "s1");
      state.keyResolved(hash, principal([["p1", "viewer"]]));
      state.recordCall({ requestId: "rid-1", routeId: "r1", userId: "u1", keyId: "k1", method: "POST", path: "/flows/f/run", status: 200, latencyMs: 12, revision: 2, errorCode: undefined });
      state.recordCall({ requestId: "rid-2", routeId: "unknown", userId: "u1", keyId: "k1", method: "GET", path: "/", status: 200, latencyMs: 1, revision: null, errorCode: undefined });
      assert.deepEqual(runs.map((r) => r.requestId), ["rid-1"]);
      // Counted calls (nginx's, never runs) add no run.
      state.recordCount({ routeId: "r1", userId: "u1", keyId: "k1", status: 200, latencyMs: 1, revision: 2, calls: 40 });
      assert.deepEqual(runs.map((r) => r.requestId), ["rid-1"]);
      tick(3_000);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(reads, [hash], "read again once, by its hash");
    } finally {
      state.close();
    }
  });

  it("counted calls mark their key as in use and go in the latency histogram as that many calls", async () => {
    const reads: string[] = [];
    const observed: [Record<string, string | undefined>, number, number | undefined][] = [];
    const metrics = { gatewayRequestDuration: { observe: (l: Record<string, string | undefined>, s: number, n?: number) => void observed.push([l, s, n]) } } as unknown as Metrics;
    const { state, runs, tick } = setUp({ keyByHash: (h) => { reads.push(h); return Promise.resolve(principal([["p1", "viewer"]])); }, keyCheckIntervalMs: 5, metrics });
    try {
      const hash = "ef".repeat(32);
      state.routeResolved("r1", ROUTE, "s1");
      state.keyResolved(hash, principal([["p1", "viewer"]]));
      state.recordCount({ routeId: "r1", userId: "u1", keyId: "k1", status: 404, latencyMs: 3, revision: 2, calls: 17 });
      state.recordCount({ routeId: "unknown", userId: "u1", keyId: "k1", status: 200, latencyMs: 1, revision: null, calls: 5 });
      assert.deepEqual(observed, [[{ route_id: "r1", kind: ROUTE.kind, status_class: "4xx", deployment: ROUTE.resourceName, revision: "2" }, 0.003, 17]]);
      assert.deepEqual(runs, []);
      tick(3_000);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(reads, [hash], "its key read again before it expires, as for a logged call");
    } finally {
      state.close();
    }
  });
});
