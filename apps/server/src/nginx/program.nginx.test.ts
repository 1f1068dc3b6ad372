import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Principal } from "@flowplane/core";
import { memoryLogger } from "@flowplane/logging";
import { waitFor } from "@flowplane/testkit";
import type { GatewayRoute, GatewaySources } from "../gateway/types.js";
import { NginxProgram } from "./program.js";
import { call, sha256hex, SKIP_WITHOUT_NGINX, startReplica, startTestNginx, type TestNginx, type TestServer } from "./test-nginx.js";

const NONE = { requestsPerSecond: null, burst: null, maxConcurrent: null };
const ROUTE: GatewayRoute = {
  projectId: "p1", appId: "a1", routeId: "r1", kind: "http", deploymentId: "d1", resourceName: "d-x", networkAccess: "public",
  requestTimeoutSeconds: 60, disabled: false, revision: 2, live: [{ revision: 2, runs: 2, percent: 100 }], limits: { deployment: NONE, perKey: NONE },
};
const viewer = (keyId: string): Principal => ({ userId: "u1", name: "u", kind: "human", orgOwner: false, roles: new Map([["p1", "viewer"]]), keyId });

/** The programmer (program.ts) over the fast path's state, with a real nginx: what the workers' lookups put on nginx is what calls then take. */
describe("nginx's programmer", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  let nginx: TestNginx;
  let replica: TestServer & { address: string; port: number };
  let route: GatewayRoute | null = ROUTE;
  let endpoints: string[] = [];
  const sources: GatewaySources = {
    resolveRoute: () => Promise.resolve(route), authenticate: () => Promise.resolve(null),
    endpoints: () => endpoints, gatewaySecret: () => "a-gateway-secret",
  };
  const path = "/projects/p1/apps/a1/routes/r1/flows";
  const via = async (key: string) => ((await call(nginx.port, path, { headers: { "x-access-key": key } })).headers["x-served-by"] === "workers" ? "workers" : "replica");
  const until = (key: string, where: "replica" | "workers", message: string) => waitFor(async () => (await via(key)) === where, { timeoutMs: 5_000, intervalMs: 20, message });

  before(async () => {
    replica = await startReplica();
    endpoints = [`http://127.0.0.1:${replica.port}/`];
    nginx = await startTestNginx();
  });
  after(async () => {
    await nginx?.stop();
    await replica?.close();
  });

  it("puts a route and a key the workers looked up on nginx, with the replica's address, and takes a revoked key off", async () => {
    const program = new NginxProgram({ client: nginx.program, sources, log: memoryLogger().log, syncIntervalMs: 10 });
    try {
      const key = "fp_programmer_1";
      assert.equal(await via(key), "workers");
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      program.keyResolved(sha256hex(key), viewer("k1"));
      await until(key, "replica", "the call on the fast path");
      const seen = replica.seen.at(-1)!;
      assert.equal(seen.url, "/flows", "the route's prefix cut");
      assert.equal(seen.headers["x-flowplane-gateway-secret"], "a-gateway-secret");
      program.keyResolved(sha256hex(key), null);
      await until(key, "workers", "the revoked key off the fast path");
    } finally {
      program.close();
    }
  });

  it("a deployment's change takes its route off at once; the route read again comes back", async () => {
    const program = new NginxProgram({ client: nginx.program, sources, log: memoryLogger().log, syncIntervalMs: 10 });
    try {
      const key = "fp_programmer_2";
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      program.keyResolved(sha256hex(key), viewer("k2"));
      await until(key, "replica", "on the fast path");
      // A change that makes the route one nginx must not serve (a rate limit): off, and it stays off.
      route = { ...ROUTE, limits: { deployment: { ...NONE, requestsPerSecond: 5 }, perKey: NONE } };
      program.forgetRoutes("d1");
      await until(key, "workers", "the limited route with the workers");
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await via(key), "workers", "no later pass puts the old route back");
      route = ROUTE;
      program.forgetRoutes("d1");
      program.keyResolved(sha256hex(key), viewer("k2")); // the key's entry may have expired meanwhile
      await until(key, "replica", "back once read again");
    } finally {
      program.close();
      route = ROUTE;
    }
  });

  it("a change of the replicas the driver announces is on nginx at once, whatever the tick (an hour here)", async () => {
    // The route's own refresh (every second) would make a pass too: its reads never answer here,
    // so only the announcement can.
    const quiet: GatewaySources = { ...sources, resolveRoute: () => new Promise<GatewayRoute | null>(() => undefined) };
    const program = new NginxProgram({ client: nginx.program, sources: quiet, log: memoryLogger().log, syncIntervalMs: 3_600_000 });
    const other = await startReplica();
    try {
      const key = "fp_programmer_4";
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      program.keyResolved(sha256hex(key), viewer("k4"));
      await until(key, "replica", "on the fast path");
      const before = other.seen.length;
      endpoints = [`http://127.0.0.1:${other.port}/`];
      program.endpointsChanged();
      await waitFor(async () => {
        await call(nginx.port, path, { headers: { "x-access-key": key } });
        return other.seen.length > before;
      }, { timeoutMs: 5_000, intervalMs: 20, message: "calls reach the new replica without waiting for the tick" });
    } finally {
      program.close();
      endpoints = [`http://127.0.0.1:${replica.port}/`];
      await other.close();
    }
  });

  it("programs everything again after nginx lost its entries (a restart), and a key's entry expires with the read that admitted it", async () => {
    let now = 0;
    const program = new NginxProgram({ client: nginx.program, sources, log: memoryLogger().log, syncIntervalMs: 10, now: () => now });
    try {
      const key = "fp_programmer_3";
      program.routeResolved("r1", ROUTE, "a-gateway-secret");
      program.keyResolved(sha256hex(key), viewer("k3"));
      await until(key, "replica", "on the fast path");
      await nginx.program.send({ reset: true }); // what a restart leaves: empty dictionaries
      assert.equal(await via(key), "workers");
      program.restarted();
      await until(key, "replica", "programmed again");
      now += 4_000; // the state drops the key 4 s after its read; the next pass deletes it
      await until(key, "workers", "the key's entry gone with its read's age");
    } finally {
      program.close();
    }
  });
});
