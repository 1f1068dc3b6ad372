import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import type { Principal } from "@flowplane/core";
import { memoryLogger } from "@flowplane/logging";
import { waitFor } from "@flowplane/testkit";
import type { GatewaySources } from "../gateway/types.js";
import { HaproxyProgram } from "./program.js";
import { ADDRESS_TTL_MS } from "./server-addresses.js";
import { FAST_ROUTE, HAVE_HAPROXY, startTestHaproxy, type TestHaproxy } from "./test-haproxy.js";

const ROUTE = FAST_ROUTE;
/**
 * How long a removed server may stay once its last call ended: a pass or two (every 50 ms here;
 * measured 1-102 ms), with room for a loaded machine. Without the programmer's moved port
 * (program.ts PARKED_PORT), a connection given back to HAProxy's pool after maintenance began
 * kept it until a purge of idle connections (every 10 s; measured 7.2 s, then over 8 s twice).
 */
const DELETED_WITHIN_MS = 3_000;

/**
 * Replica endpoints named by a host name, as the Kubernetes driver gives them (a revision's
 * Service: `http://runtime-r1.<ns>.svc.cluster.local:8000/`), against a real HAProxy. HAProxy
 * 2.6 registers a dynamic server given a name with no address and answers every call to it 503;
 * the programmer gives it the name's IP address instead, follows the name to a new one, and
 * leaves the route with the workers while the name has none. Two replicas on one port at two
 * loopback addresses (127.0.0.1 and 127.0.0.2) stand for a Service whose address changed.
 */
describe("HAProxy's servers for endpoints named by a host name, against a real HAProxy", { timeout: 120_000, skip: HAVE_HAPROXY || process.env.CI === "true" ? false : "haproxy is not installed" }, () => {
  const replicas: Server[] = [];
  let haproxy: TestHaproxy;
  let program: HaproxyProgram;
  let replicaPort: number;
  /** What the test's resolver answers for the Service name; null: the name does not exist. */
  let answer: string | null = "127.0.0.1";
  const lookups: string[] = [];
  /** Replica "a" holds its next answer (a call in flight) until the test releases it. */
  let holdA = false;
  const held: (() => void)[] = [];
  const log = memoryLogger();
  const SERVICE = "runtime-r1.d-x.svc.cluster.local";
  const key = "fp_" + "n".repeat(43);
  const principal: Principal = { userId: "u1", name: "u1", kind: "human", orgOwner: false, roles: new Map([["p1", "viewer"]]), keyId: "k1" };

  before(async () => {
    // Replica "a" at 127.0.0.1:P, replica "b" at 127.0.0.2:P: one endpoint URL, two addresses.
    // Connections kept alive as long as a real replica keeps them (the runtime's 72 s), not Node's default 5 s.
    const a = createServer({ keepAliveTimeout: 72_000 }, (_req, res) => {
      if (holdA) { held.push(() => res.end("a")); holdA = false; } else res.end("a");
    });
    await new Promise<void>((r) => a.listen(0, "127.0.0.1", r));
    replicaPort = (a.address() as { port: number }).port;
    const b = createServer({ keepAliveTimeout: 72_000 }, (_req, res) => res.end("b"));
    await new Promise<void>((r, j) => b.once("error", j).listen(replicaPort, "127.0.0.2", r));
    replicas.push(a, b);
    haproxy = await startTestHaproxy({ slots: 2, onLine: (line) => program?.record(line) });
    const { api, routesMap, keysMap } = haproxy;
    const sources = { endpoints: () => [`http://${SERVICE}:${replicaPort}/`], resolveRoute: () => Promise.resolve(ROUTE) } as unknown as GatewaySources;
    const resolve = async (host: string) => {
      lookups.push(host);
      if (answer === null) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
      return answer;
    };
    program = new HaproxyProgram({ api, sources, routesMap, keysMap, slots: 2, log: log.log, syncIntervalMs: 50, resolve });
    program.routeResolved("r1", ROUTE, "a-gateway-secret");
  });
  after(async () => {
    program?.close();
    await haproxy?.stop();
    for (const r of replicas) {
      r.closeAllConnections();
      await new Promise((done) => r.close(done));
    }
  });

  const call = () => new Promise<{ status: number; body: string }>((resolve, reject) => {
    program.keyResolved(createHash("sha256").update(key).digest("hex"), principal);
    request({ host: "127.0.0.1", port: haproxy.port, path: "/projects/p1/apps/a1/routes/r1/flows", headers: { "x-access-key": key }, agent: false }, (r) => {
      let body = "";
      r.on("data", (c: Buffer) => { body += c.toString(); });
      r.on("end", () => resolve({ status: r.statusCode ?? 0, body }));
    }).on("error", reject).end();
  });
  const serverLines = async () => (await haproxy.api.run(["show servers state"])).split("\n").filter((l) => /^\d+ s\d+ /.test(l)).map((l) => l.split(" "));
  /** `name address` of each server HAProxy holds. */
  const servers = async () => (await serverLines()).map((f) => f.slice(3, 5).join(" "));
  /** A server's admin state is forced maintenance (srv_admin_state, bit 0x01). */
  const inMaintenance = async (name: string) => (await serverLines()).some((f) => f[3] === name && (Number(f[6]) & 1) === 1);
  const routeEntries = async () => (await haproxy.api.run([`show map ${haproxy.routesMap}`])).split("\n").filter((l) => l.startsWith("0x")).length;

  it("serves the name's replica at its IP address, named by it", async () => {
    await waitFor(async () => (await call()).body === "a", { timeoutMs: 10_000, intervalMs: 100, message: "the Service's replica served by HAProxy" });
    // The server is the address, not the name (a name would have none: 503 on every call).
    assert.deepEqual(await servers(), [`127.0.0.1:${replicaPort} 127.0.0.1`]);
    assert.ok(lookups.every((h) => h === SERVICE) && lookups.length >= 1);
    for (let i = 0; i < 5; i++) assert.deepEqual(await call(), { status: 200, body: "a" });
  });

  it("follows the name to its new address within the address's lifetime", async () => {
    answer = "127.0.0.2";
    const t0 = Date.now();
    await waitFor(async () => (await call()).body === "b", { timeoutMs: ADDRESS_TTL_MS + 5_000, intervalMs: 100, message: "calls reaching the Service's new address" });
    assert.ok(Date.now() - t0 < ADDRESS_TTL_MS + 2_000, `followed after ${Date.now() - t0} ms`);
    await waitFor(async () => (await servers()).join() === `127.0.0.2:${replicaPort} 127.0.0.2`, { timeoutMs: DELETED_WITHIN_MS, intervalMs: 100, message: "the old address's server deleted" });
    for (let i = 0; i < 5; i++) assert.deepEqual(await call(), { status: 200, body: "b" });
  });

  it("takes the route off the fast path once the name does not exist, with one warning, and back once it has an address", async () => {
    answer = null;
    await waitFor(async () => (await routeEntries()) === 0, { timeoutMs: ADDRESS_TTL_MS + 5_000, intervalMs: 100, message: "the route left to the workers" });
    const warned = () => log.lines.filter((l) => String(l.msg).includes("has no address")).length;
    const before = lookups.length;
    await waitFor(() => lookups.length >= before + 1, { timeoutMs: ADDRESS_TTL_MS + 5_000, intervalMs: 100, message: "a lookup tried again" });
    assert.equal(warned(), 1, "one warning for the run of failures");
    answer = "127.0.0.1";
    await waitFor(async () => (await call()).body === "a", { timeoutMs: ADDRESS_TTL_MS + 5_000, intervalMs: 100, message: "back on the fast path" });
  });

  it("lets a call in flight on the old address finish there, then deletes its server", async () => {
    // The suite's last test left the name at 127.0.0.1 ("a") on the fast path.
    await waitFor(async () => (await servers()).join() === `127.0.0.1:${replicaPort} 127.0.0.1`, { timeoutMs: DELETED_WITHIN_MS, intervalMs: 100, message: "one server, at the first address" });
    holdA = true;
    const inFlight = call();
    await waitFor(() => held.length === 1, { timeoutMs: 10_000, intervalMs: 20, message: "a call held by replica a" });
    answer = "127.0.0.2";
    await waitFor(async () => (await call()).body === "b", { timeoutMs: ADDRESS_TTL_MS + 5_000, intervalMs: 100, message: "new calls reaching the new address" });
    // The old server stays while its call runs, in maintenance: no new call reaches it.
    assert.deepEqual((await servers()).sort(), [`127.0.0.1:${replicaPort} 127.0.0.1`, `127.0.0.2:${replicaPort} 127.0.0.2`]);
    assert.ok(await inMaintenance(`127.0.0.1:${replicaPort}`), "the old server in maintenance");
    for (let i = 0; i < 5; i++) assert.deepEqual(await call(), { status: 200, body: "b" });
    held.shift()!();
    assert.deepEqual(await inFlight, { status: 200, body: "a" }, "the call in flight finished on its replica");
    // Its connection went back to HAProxy's pool after maintenance began; the server goes anyway, soon.
    await waitFor(async () => (await servers()).join() === `127.0.0.2:${replicaPort} 127.0.0.2`, { timeoutMs: DELETED_WITHIN_MS, intervalMs: 100, message: "the drained server deleted" });
  });
});
