import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, describe, test } from "node:test";
import { waitFor } from "@flowplane/testkit";
import { deadUrl, principal, rawRequest, route, routeUrl, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";

const KEY = { "x-access-key": "k" };

/** Resolves after `ms`, or rejects with `what` (so a buffering proxy fails the test instead of hanging it). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))]);
}

async function until(cond: () => boolean, what: string): Promise<void> {
  await waitFor(cond, { timeoutMs: 3_000, intervalMs: 5, message: what });
}

/** Proxying: balancing, streams, timeouts, bodies and failing replicas. */
describe("gateway: proxying", () => {
  let g: TestGateway;
  /** Two replicas: `x-hold` keeps a request open until `releaseHeld()`; otherwise they answer with their name. */
  let a: Upstream;
  let b: Upstream;
  let held: ServerResponse[] = [];
  const releaseHeld = () => { for (const r of held) r.end("released"); held = []; };

  before(async () => {
    g = await startGateway({ bodyLimit: 1024 });
    g.keys.set("k", principal("u1"));
    const replica = (name: string) => startUpstream((req, res, body) => {
      if (req.headers["x-hold"]) { held.push(res); res.writeHead(200); res.write(" "); return; }
      const piece = /^\/pieces\/(\d+)$/.exec(req.url ?? "")?.[1];
      if (piece !== undefined) {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write(`piece ${piece} one|`);
        res.write(`piece ${piece} two|`);
        res.end(`piece ${piece} three`);
        return;
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ name, body, contentType: req.headers["content-type"] ?? null }));
    });
    [a, b] = [await replica("a"), await replica("b")];
    g.routes.set("r", route("r"));
    g.endpoints.set("res-r", [a.url, b.url]);
  });
  after(async () => {
    releaseHeld();
    await g.close();
    await a.close();
    await b.close();
  });

  const whoAnswered = async (headers: Record<string, string> = KEY) => ((await (await fetch(routeUrl(g, "r", "/who"), { headers })).json()) as { name: string }).name;

  test("concurrent slow requests spread evenly over the two replicas", async () => {
    a.seen.length = 0;
    b.seen.length = 0;
    const pending = Array.from({ length: 6 }, () => fetch(routeUrl(g, "r", "/slow"), { headers: { ...KEY, "x-hold": "1" } }).then((r) => r.text()));
    await until(() => held.length === 6, "6 held requests");
    assert.deepEqual([a.seen.length, b.seen.length], [3, 3]);
    releaseHeld();
    await Promise.all(pending);
  });

  test("the replica with fewer requests in flight gets the next one (not round robin)", async () => {
    const slow = fetch(routeUrl(g, "r", "/slow"), { headers: { ...KEY, "x-hold": "1" } });
    await until(() => held.length === 1, "the held request");
    const busy = a.seen.at(-1)?.url === "/slow" && a.seen.at(-1)?.headers["x-hold"] ? "a" : "b";
    const names = [];
    for (let i = 0; i < 5; i++) names.push(await whoAnswered());
    assert.deepEqual(names, Array(5).fill(busy === "a" ? "b" : "a"));
    releaseHeld();
    await (await slow).text();
  });

  test("a request whose connection is refused goes to another ready replica, body and all", async () => {
    const dead = await deadUrl();
    g.endpoints.set("res-r", [dead, a.url]);
    const before = await g.metrics.registry.getSingleMetricAsString("flowplane_gateway_upstream_errors_total");
    for (let i = 0; i < 4; i++) { // the rotation tries the dead replica first about every other time
      const res = await fetch(routeUrl(g, "r", "/run"), { method: "POST", headers: { ...KEY, "content-type": "application/json" }, body: `{"i":${i}}` });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { name: "a", body: `{"i":${i}}`, contentType: "application/json" });
    }
    const after = await g.metrics.registry.getSingleMetricAsString("flowplane_gateway_upstream_errors_total");
    assert.notEqual(after, before);
    assert.match(after, /reason="refused",retried="true"\} [1-9]/);
    g.endpoints.set("res-r", [dead]);
    const none = await fetch(routeUrl(g, "r", "/run"), { method: "POST", headers: KEY, body: "x" });
    assert.equal(none.status, 503);
    assert.ok(none.headers.get("retry-after"));
    g.endpoints.set("res-r", [a.url, b.url]);
  });

  test("a replica that dies mid-request is 502; a GET is retried once on another replica", async () => {
    const dying = await startUpstream((req) => req.socket.destroy());
    try {
      g.routes.set("r-dying", route("r-dying"));
      g.endpoints.set("res-r-dying", [dying.url]);
      const res = await fetch(routeUrl(g, "r-dying", "/run"), { method: "POST", headers: KEY, body: "{}" });
      assert.equal(res.status, 502);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "bad_gateway");
      g.endpoints.set("res-r-dying", [dying.url, a.url]);
      for (let i = 0; i < 3; i++) assert.equal((await fetch(routeUrl(g, "r-dying", "/who"), { headers: KEY })).status, 200);
      assert.ok(dying.seen.length >= 2, "some GET went to the dying replica first");
    } finally {
      await dying.close();
    }
  });

  test("SSE passes through unbuffered: the first event arrives before the second is written", async () => {
    let sendSecond = () => {};
    const second = new Promise<void>((r) => (sendSecond = r));
    const sse = await startUpstream((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write("event: token\ndata: first\n\n");
      void second.then(() => res.end("event: end\ndata: second\n\n"));
    });
    try {
      g.routes.set("r-sse", route("r-sse"));
      g.endpoints.set("res-r-sse", [sse.url]);
      const res = await fetch(routeUrl(g, "r-sse", "/flows/x/stream"), { method: "POST", headers: KEY, body: "{}" });
      assert.equal(res.headers.get("content-type"), "text/event-stream");
      const reader = res.body!.getReader();
      const first = await within(reader.read(), 3_000, "the first event while the second is not written yet");
      assert.match(Buffer.from(first.value!).toString(), /data: first/);
      sendSecond();
      let rest = "";
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
      assert.match(rest, /data: second/);
    } finally {
      await sse.close();
    }
  });

  test("answers written in the same pass (gateway/pass-writes.ts) each reach their own client whole, the many-piece ones too", async () => {
    // 40 calls at once: the replicas answer in pieces (head, then three writes), so one pass of
    // the gateway holds several answers, some of them in several chunks.
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => fetch(routeUrl(g, "r", `/pieces/${i}`), { headers: KEY }).then(async (r) => ({ status: r.status, body: await r.text() }))));
    answers.forEach((a, i) => assert.deepEqual(a, { status: 200, body: `piece ${i} one|piece ${i} two|piece ${i} three` }));
  });

  test("the route timeout bounds silence, not the whole stream: a slow trickle lives, a silent replica is 504", async () => {
    const slow = await startUpstream((req, res) => {
      if (req.url === "/silent") return; // never answers
      res.writeHead(200, { "content-type": "text/plain" });
      let n = 0;
      const t = setInterval(() => { res.write(`${n}\n`); if (++n === 5) { clearInterval(t); res.end(); } }, 300);
    });
    try {
      g.routes.set("r-slow", route("r-slow", { requestTimeoutSeconds: 1 }));
      g.endpoints.set("res-r-slow", [slow.url]);
      const t0 = Date.now();
      const trickle = await fetch(routeUrl(g, "r-slow", "/trickle"), { headers: KEY });
      assert.equal(await trickle.text(), "0\n1\n2\n3\n4\n");
      assert.ok(Date.now() - t0 > 1_000, "the stream outlived the timeout");
      const silent = await fetch(routeUrl(g, "r-slow", "/silent"), { headers: KEY });
      assert.equal(silent.status, 504);
      assert.equal(((await silent.json()) as { error: { code: string } }).error.code, "gateway_timeout");
    } finally {
      await slow.close();
    }
  });

  test("bodies pass byte for byte up to the limit; above it 413 and nothing reaches a replica", async () => {
    const exact = "é".repeat(400); // 800 bytes, not JSON: passed raw whatever the type says
    const ok = await fetch(routeUrl(g, "r", "/run"), { method: "POST", headers: { ...KEY, "content-type": "application/json" }, body: exact });
    const echoed = (await ok.json()) as { body: string; contentType: string };
    assert.deepEqual([echoed.body, echoed.contentType], [exact, "application/json"]);
    const seen = a.seen.length + b.seen.length;
    const big = await fetch(routeUrl(g, "r", "/run"), { method: "POST", headers: { ...KEY, "content-type": "text/plain" }, body: "x".repeat(1025) });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, "payload_too_large");
    const chunked = await rawRequest(routeUrl(g, "r", "/run"), { method: "POST", headers: { ...KEY, "transfer-encoding": "chunked" }, body: "y".repeat(2000) });
    assert.equal(chunked.status, 413);
    assert.equal(a.seen.length + b.seen.length, seen);
  });

  test("a client that goes away releases its replica slot", async () => {
    const ctl = new AbortController();
    const gone = fetch(routeUrl(g, "r", "/slow"), { headers: { ...KEY, "x-hold": "1" }, signal: ctl.signal }).then((r) => r.text()).catch(() => "aborted");
    await until(() => held.length === 1, "the held request");
    const inFlight = () => g.metrics.registry.getSingleMetricAsString("flowplane_gateway_in_flight_requests");
    assert.match(await inFlight(), /kind="http"\} 1/);
    ctl.abort();
    assert.equal(await gone, "aborted");
    await waitFor(async () => /kind="http"\} 0/.test(await inFlight()), { timeoutMs: 3_000, intervalMs: 10, message: "in-flight back to 0" });
    releaseHeld();
  });
});
