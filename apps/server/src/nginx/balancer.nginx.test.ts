import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { call, closedAddress, routeEntry, sha256hex, SKIP_WITHOUT_NGINX, startReplica, startTestNginx, type TestNginx, type TestServer } from "./test-nginx.js";

/**
 * nginx's balancer (lua.ts `balance`) and its own answers when a replica fails, with a real
 * nginx: HAProxy's slot backends do the same (`balance leastconn`, `retries 1` with `option
 * redispatch`, `set-timeout server`; its errors: answer-headers.test.ts).
 */
describe("nginx's balancer: least connections, one retry, the route's timeout", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  let nginx: TestNginx;
  let a: TestServer & { address: string; connections(): number };
  let b: TestServer & { address: string; connections(): number };
  /** Holds calls whose path is /hold until released. */
  const held: (() => void)[] = [];
  let hanging: Server;
  let resetting: Server;
  const key = "fp_balance";
  const path = (route: string, rest = "/page") => `/projects/p1/apps/a1/routes/${route}${rest}`;
  const get = (route: string, rest?: string) => call(nginx.port, path(route, rest), { headers: { "x-access-key": key } });

  before(async () => {
    const answer = (name: string) => (req: { url?: string }, res: { setHeader(h: string, v: string): void; end(b: string): void }) => {
      res.setHeader("x-replica", name);
      if (req.url === "/hold") held.push(() => res.end(name));
      else res.end(name);
    };
    a = await startReplica(answer("a"));
    b = await startReplica(answer("b"));
    hanging = createServer(() => undefined);
    resetting = createServer((req) => req.socket.destroy());
    for (const s of [hanging, resetting]) await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const at = (s: Server) => `127.0.0.1:${(s.address() as { port: number }).port}`;
    nginx = await startTestNginx();
    const res = await nginx.program.send({
      routes: { set: [
        routeEntry("two", [a.address, b.address]),
        routeEntry("refusing", [await closedAddress(), b.address]),
        routeEntry("down", [await closedAddress(), await closedAddress()]),
        routeEntry("slow", [at(hanging)], { timeoutMs: 1_000 }),
        routeEntry("reset", [at(resetting)]),
        routeEntry("a-short", [a.address], { timeoutMs: 300 }),
        routeEntry("reset-or-b", [at(resetting), b.address]),
      ] },
      keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1" }] },
    });
    assert.deepEqual(res.errors, []);
  });
  after(async () => {
    for (const release of held) release();
    await nginx?.stop();
    await a?.close();
    await b?.close();
    for (const s of [hanging, resetting]) {
      s?.closeAllConnections();
      await new Promise((r) => s?.close(r));
    }
  });

  it("spreads calls over the route's replicas, and sends new calls to the one with fewer in flight", async () => {
    const served = { a: 0, b: 0 };
    for (let i = 0; i < 20; i++) served[(await get("two")).body as "a" | "b"]++;
    assert.deepEqual(served, { a: 10, b: 10 }, "equal load: in turn");
    // Two calls held on the replicas: one each. Then one more held: one replica has two in flight.
    const first = [get("two", "/hold"), get("two", "/hold"), get("two", "/hold")];
    while (held.length < 3) await new Promise((r) => setTimeout(r, 10));
    const busy = a.seen.filter((s) => s.url === "/hold").length === 2 ? "a" : "b";
    assert.equal((busy === "a" ? b : a).seen.filter((s) => s.url === "/hold").length, 1, "the third went to one of them");
    const idle = busy === "a" ? "b" : "a";
    for (let i = 0; i < 4; i++) assert.equal((await get("two")).body, idle, `call ${i}: the replica with fewer calls in flight`);
    for (const release of held.splice(0)) release();
    assert.deepEqual((await Promise.all(first)).map((r) => r.status), [200, 200, 200]);
  });

  it("keeps its connections to a replica open between calls (a new one per call would cost the replica and nginx)", async () => {
    const before = a.connections() + b.connections();
    for (let i = 0; i < 20; i++) assert.equal((await get("two")).status, 200);
    assert.ok(a.connections() + b.connections() - before <= 2, `${a.connections() + b.connections() - before} new connections for 20 calls`);
  });

  it("tries another replica once when a connection is refused", async () => {
    for (let i = 0; i < 6; i++) {
      const res = await get("refusing");
      assert.equal(res.status, 200, `call ${i}: ${res.body}`);
      assert.equal(res.headers["x-replica"], "b");
    }
  });

  it("never sends a call again after its replica failed it (only a refused connection is retried), a GET included", async () => {
    b.seen.length = 0;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get("reset-or-b")).status);
    assert.deepEqual(statuses.sort(), [200, 200, 502, 502], "in turn: the resetting replica's calls end 502");
    assert.equal(b.seen.length, 2, "b saw only its own turns");
  });

  it("answers 503 unavailable when no replica accepts the connection, 504 after the route's timeout, 502 when the replica drops the call", async () => {
    const down = await get("down");
    assert.equal(down.status, 503, down.body);
    assert.equal(down.headers["retry-after"], "1");
    assert.equal(down.headers["x-flowplane-error"], "unavailable");
    assert.deepEqual(JSON.parse(down.body), { error: { code: "unavailable", message: "no ready replica accepted the connection; retry shortly" } });
    const started = performance.now();
    const slow = await get("slow");
    const took = performance.now() - started;
    assert.equal(slow.status, 504, slow.body);
    assert.ok(took >= 900 && took < 3_000, `the route's 1 s timeout, took ${Math.round(took)} ms`);
    assert.equal(slow.headers["x-flowplane-error"], "gateway_timeout");
    assert.deepEqual(JSON.parse(slow.body), { error: { code: "gateway_timeout", message: "the replica did not answer within 1 s" } });
    assert.match(String(slow.headers["x-request-id"]), /^[0-9a-f-]{36}$/, "the run id on an error too");
    const reset = await get("reset");
    assert.equal(reset.status, 502, reset.body);
    assert.equal(reset.headers["x-flowplane-error"], "bad_gateway");
    // Below a route's Langflow API the same answer also carries Langflow's `detail`.
    const lf = JSON.parse((await get("down", "/api/v1/run/f1")).body) as { error: { message: string }; detail?: string };
    assert.equal(lf.detail, lf.error.message);
  });

  it("gives a failed call's slot back: after a timeout on a replica, calls still spread in turn", async () => {
    // A count not given back (a call ended by an error page, which drops ngx.ctx) would leave
    // replica a "busy" for good, and every call below would go to b.
    assert.equal((await get("a-short", "/hold")).status, 504);
    const served = { a: 0, b: 0 };
    for (let i = 0; i < 10; i++) served[(await get("two")).body as "a" | "b"]++;
    assert.deepEqual(served, { a: 5, b: 5 });
  });
});
