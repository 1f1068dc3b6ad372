import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { after, before, describe, test } from "node:test";
import { NO_LIMITS } from "@flowplane/core";
import { principal, rawRequest, route, routeUrl, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";

const SHOP = "https://shop.example.com";
const OTHER = "https://evil.example.net";
const KEY = "key-viewer";

/** The Access-Control-* headers of an answer (none: the browser blocks the call). */
const corsOf = (h: IncomingHttpHeaders) => Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith("access-control-")));

/**
 * CORS on the gateway's routes (cors.ts, FLOWPLANE_GATEWAY_CORS_ORIGINS): three real loopback
 * gateways (off, a list, `*`) in front of one upstream that answers CORS itself, as Langflow does.
 */
describe("gateway: CORS for browser clients", () => {
  let off: TestGateway;
  let list: TestGateway;
  let any: TestGateway;
  let up: Upstream;

  before(async () => {
    up = await startUpstream((req, res) => {
      // Langflow answers CORS itself (LANGFLOW_CORS_ORIGINS, default *): the gateway's policy must win.
      const own = { "access-control-allow-origin": "*", "access-control-allow-credentials": "true", vary: "Accept-Encoding" };
      if (req.url === "/stream") {
        res.writeHead(200, { ...own, "content-type": "text/event-stream", "mcp-session-id": "s-1" });
        res.write("data: one\n\n");
        return void setTimeout(() => res.end("data: two\n\n"), 20);
      }
      res.writeHead(200, { ...own, "content-type": "application/json", "x-flowplane-run-id": req.headers["x-flowplane-run-id"] as string });
      res.end(JSON.stringify({ method: req.method }));
    });
    off = await startGateway();
    list = await startGateway({ cors: { mode: "list", origins: [SHOP, "http://localhost:3000"] } });
    any = await startGateway({ cors: { mode: "any" } });
    for (const g of [off, list, any]) {
      g.keys.set(KEY, principal("u-viewer"));
      g.routes.set("r1", route("r1"));
      g.routes.set("r-limited", route("r-limited", { limits: { deployment: NO_LIMITS.deployment, perKey: { ...NO_LIMITS.perKey, requestsPerSecond: 1, burst: 1 } } }));
      for (const r of g.routes.values()) g.endpoints.set(r.resourceName, [up.url]);
    }
  });
  after(async () => {
    for (const g of [off, list, any]) await g?.close();
    await up?.close();
  });

  const preflight = (g: TestGateway, origin: string, rest = "/api/v1/run/f1") => rawRequest(routeUrl(g, "r1", rest), {
    method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type, x-api-key" },
  });

  test("a preflight from an allowed origin is answered by the gateway: 204, no key, no lookup, never the replica", async () => {
    const seen = up.seen.length;
    const lookups = { ...list.lookups };
    const r = await preflight(list, SHOP);
    assert.equal(r.status, 204);
    assert.equal(r.headers["access-control-allow-origin"], SHOP);
    assert.equal(r.headers.vary, "Origin");
    assert.equal(r.headers["access-control-allow-methods"], "GET, POST, DELETE, OPTIONS");
    assert.equal(r.headers["access-control-allow-headers"], "content-type, x-api-key");
    assert.equal(r.headers["access-control-max-age"], "600");
    assert.equal(r.headers["access-control-allow-credentials"], undefined, "keys are headers: no credentials mode");
    assert.equal((await preflight(list, "http://localhost:3000")).headers["access-control-allow-origin"], "http://localhost:3000");
    const star = await preflight(any, "https://anyone.example");
    assert.equal(star.status, 204);
    assert.equal(star.headers["access-control-allow-origin"], "*");
    assert.equal(star.headers.vary, undefined, "`*` does not vary");
    assert.equal(up.seen.length, seen, "no preflight reached the replica");
    assert.deepEqual(list.lookups, lookups, "no key or route lookup");
  });

  test("a preflight from another origin gets 403 with no CORS header (the browser blocks the call)", async () => {
    const seen = up.seen.length;
    const r = await preflight(list, OTHER);
    assert.equal(r.status, 403);
    assert.deepEqual(corsOf(r.headers), {});
    assert.equal(JSON.parse(r.body).error.code, "forbidden");
    // An origin matches exactly: scheme, host and port.
    for (const near of ["http://shop.example.com", "https://shop.example.com:8443", "http://localhost:3001", "null"]) {
      assert.deepEqual(corsOf((await preflight(list, near)).headers), {}, near);
    }
    assert.equal(up.seen.length, seen);
  });

  test("preflights never cost the bad-key budget (even one naming a bad key in its query) nor a key lookup", async () => {
    const lookups = list.lookups.keys;
    for (let i = 0; i < 40; i++) assert.equal((await preflight(list, i % 2 ? SHOP : OTHER, `/flows?x-api-key=fp_${"x".repeat(43)}`)).status, i % 2 ? 204 : 403);
    assert.equal(list.lookups.keys, lookups);
    // The address's budget (20 bad keys) is whole: a bad key is still a plain 401.
    assert.equal((await rawRequest(routeUrl(list, "r1", "/flows"), { headers: { "x-api-key": "not-a-key" } })).status, 401);
  });

  test("every answer to an allowed origin carries the gateway's CORS headers, the replica's own replaced: 200, a stream, 401, 404, 429", async () => {
    const call = (g: TestGateway, origin: string, id = "r1", rest = "/api/v1/run/f1", key: string | null = KEY) => rawRequest(routeUrl(g, id, rest), {
      method: "POST", headers: { origin, "content-type": "application/json", ...(key ? { "x-api-key": key } : {}) }, body: "{}",
    });
    const ok = await call(list, SHOP);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["access-control-allow-origin"], SHOP, "the gateway's, not the replica's *");
    assert.equal(ok.headers["access-control-allow-credentials"], undefined, "the replica's own CORS headers are dropped");
    assert.equal(ok.headers.vary, "Accept-Encoding, Origin", "the replica's Vary kept, Origin added once");
    const exposed = String(ok.headers["access-control-expose-headers"]).split(", ");
    for (const h of ["x-flowplane-run-id", "x-flowplane-revision", "x-flowplane-error", "mcp-session-id", "retry-after", "ratelimit", "ratelimit-policy", "x-request-id"]) assert.ok(exposed.includes(h), h);

    const stream = await rawRequest(routeUrl(list, "r1", "/stream"), { headers: { origin: SHOP, "x-api-key": KEY } });
    assert.equal(stream.body, "data: one\n\ndata: two\n\n");
    assert.equal(stream.headers["access-control-allow-origin"], SHOP);

    const noKey = await call(list, SHOP, "r1", "/api/v1/run/f1", null);
    assert.equal(noKey.status, 401);
    assert.equal(noKey.headers["access-control-allow-origin"], SHOP);
    assert.equal(noKey.headers["access-control-expose-headers"], ok.headers["access-control-expose-headers"]);
    const unknown = await call(list, SHOP, "r-missing");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers["access-control-allow-origin"], SHOP);
    assert.equal((await call(list, SHOP, "r-limited")).status, 200);
    const limited = await call(list, SHOP, "r-limited");
    assert.equal(limited.status, 429);
    assert.equal(limited.headers["access-control-allow-origin"], SHOP);
    assert.equal(limited.headers["retry-after"], "1");

    // `*`: the answer names any origin.
    assert.equal((await call(any, OTHER)).headers["access-control-allow-origin"], "*");
    assert.equal((await call(any, OTHER)).headers["access-control-allow-credentials"], undefined);

    // Another origin: no CORS header at all, not even the replica's own *.
    const other = await call(list, OTHER);
    assert.equal(other.status, 200);
    assert.deepEqual(corsOf(other.headers), {});
    assert.equal(other.headers.vary, "Accept-Encoding, Origin", "a list's answers all vary with Origin, for caches");
    assert.deepEqual(corsOf((await call(list, OTHER, "r1", "/flows", null)).headers), {}, "401");
    assert.deepEqual(corsOf((await call(list, OTHER, "r-missing")).headers), {}, "404");
  });

  test("off (the default): no CORS header anywhere, the replica's passed as before, and a preflight is a 401 like any keyless call", async () => {
    const seen = up.seen.length;
    const pre = await preflight(off, SHOP);
    assert.equal(pre.status, 401);
    assert.deepEqual(corsOf(pre.headers), {});
    assert.equal(up.seen.length, seen);
    const ok = await rawRequest(routeUrl(off, "r1", "/flows"), { headers: { origin: SHOP, "x-api-key": KEY } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["access-control-allow-origin"], "*", "the replica's own, untouched");
    assert.equal(ok.headers["access-control-expose-headers"], undefined);
    assert.equal(ok.headers.vary, "Accept-Encoding");
    assert.deepEqual(corsOf((await rawRequest(routeUrl(off, "r-missing", "/flows"), { headers: { origin: SHOP, "x-api-key": KEY } })).headers), {});
  });
});
