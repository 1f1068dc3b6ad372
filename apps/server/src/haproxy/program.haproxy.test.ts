import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, request, type Server, type ServerResponse } from "node:http";
import { after, before, describe, it } from "node:test";
import type { Principal } from "@flowplane/core";
import { memoryLogger } from "@flowplane/logging";
import { waitFor } from "@flowplane/testkit";
import type { GatewaySources } from "../gateway/types.js";
import { HaproxyProgram } from "./program.js";
import { FAST_ROUTE, HAVE_HAPROXY, startTestHaproxy, type TestHaproxy } from "./test-haproxy.js";

const ROUTE = FAST_ROUTE;

/**
 * The programmer against a real HAProxy: the servers it believes HAProxy holds are the ones
 * HAProxy holds, through replicas that leave while a call is still in flight and come back.
 */
describe("HAProxy's programming, against a real HAProxy", { timeout: 60_000, skip: HAVE_HAPROXY || process.env.CI === "true" ? false : "haproxy is not installed" }, () => {
  const replicas: Server[] = [];
  const hosts: string[] = [];
  let haproxy: TestHaproxy;
  let program: HaproxyProgram;
  let port: number;
  /** Calls a replica holds (to /hold) until the test lets them go, with the replica's index. */
  const held: { res: ServerResponse; replica: number }[] = [];
  let endpoints: string[] = [];
  const key = "fp_" + "q".repeat(43);
  const principal: Principal = { userId: "u1", name: "u1", kind: "human", orgOwner: false, roles: new Map([["p1", "viewer"]]), keyId: "k1" };

  before(async () => {
    // Two replicas; each answers its own index, and holds a call to /hold until the test lets it go.
    for (const i of [0, 1]) {
      const replica = createServer((req, res) => {
        if (req.url === "/hold") { held.push({ res, replica: i }); return; }
        res.writeHead(200, { "content-type": "text/plain" }).end(String(i));
      });
      await new Promise<void>((r) => replica.listen(0, "127.0.0.1", r));
      replicas.push(replica);
      hosts.push(`127.0.0.1:${(replica.address() as { port: number }).port}`);
    }
    haproxy = await startTestHaproxy({ slots: 2, onLine: (line) => program?.record(line) });
    ({ port } = haproxy);
    const { api, routesMap, keysMap } = haproxy;
    const sources = { endpoints: () => endpoints, resolveRoute: () => Promise.resolve(ROUTE) } as unknown as GatewaySources;
    program = new HaproxyProgram({ api, sources, routesMap, keysMap, slots: 2, log: memoryLogger().log, syncIntervalMs: 50 });
    program.routeResolved("r1", ROUTE, "a-gateway-secret");
  });
  after(async () => {
    program?.close();
    for (const h of held) h.res.end();
    await haproxy?.stop();
    for (const r of replicas) {
      r.closeAllConnections();
      await new Promise((done) => r.close(done));
    }
  });

  /** A call on the fast path: status and body. The key is fed again each time, as the workers' lookups would. */
  const call = (path: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    program.keyResolved(createHash("sha256").update(key).digest("hex"), principal);
    request({ host: "127.0.0.1", port, path: `/projects/p1/apps/a1/routes/r1${path}`, headers: { "x-access-key": key }, agent: false }, (r) => {
      let body = "";
      r.on("data", (c: Buffer) => { body += c.toString(); });
      r.on("end", () => resolve({ status: r.statusCode ?? 0, body }));
    }).on("error", reject).end();
  });
  const url = (i: number) => `http://${hosts[i]}/`;

  it("serves a replica again that left while a call was in flight and came back before it ended", async () => {
    endpoints = [url(0), url(1)];
    await waitFor(async () => (await call("/")).status === 200, { timeoutMs: 10_000, intervalMs: 100, message: "the route on the fast path" });
    // A call in flight on one replica (x): HAProxy cannot delete its server until it ends.
    const inFlight = call("/hold");
    await waitFor(() => held.length === 1, { timeoutMs: 5_000, intervalMs: 20, message: "the held call at a replica" });
    const x = held[0]!.replica;
    const y = 1 - x;
    // x leaves (not ready): its server goes to maintenance; the delete is refused while the call drains.
    endpoints = [url(y)];
    await waitFor(async () => (await call("/")).body === String(y) && (await call("/")).body === String(y), { timeoutMs: 5_000, intervalMs: 50, message: "x out of rotation" });
    // While it drains, the programmer moves its port away and back (program.ts PARKED_PORT): caught parked, it must get its own back.
    const portOf = async (host: string) => (await haproxy.api.run(["show servers state"])).split("\n").map((l) => l.split(" ")).find((f) => f[3] === host)?.[18];
    await waitFor(async () => (await portOf(hosts[x]!)) === "1", { timeoutMs: 5_000, intervalMs: 10, message: "x's port parked" });
    // x comes back before the call ended, then the call ends and y leaves: x alone must serve.
    endpoints = [url(x), url(y)];
    await new Promise((r) => setTimeout(r, 300)); // a few passes (every 50 ms) with both wanted
    held.shift()!.res.end("done");
    assert.equal((await inFlight).status, 200, "the call in flight finished");
    endpoints = [url(x)];
    await waitFor(async () => (await call("/")).body === String(x), { timeoutMs: 5_000, intervalMs: 100, message: "x serving again, out of maintenance" });
  });
});
