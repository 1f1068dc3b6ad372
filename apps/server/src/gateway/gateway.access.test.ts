import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { RUN_ID_HEADER } from "@flowplane/core";
import { sleep, stepWallClock, waitFor } from "@flowplane/testkit";
import { APP, PROJECT, principal, rawRequest, route, routeUrl, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";

/** Who gets through (DESIGN 7): keys, roles, routes, listeners, and what reaches the replica. */
describe("gateway: access", () => {
  let g: TestGateway;
  let priv: TestGateway;
  let up: Upstream;

  before(async () => {
    up = await startUpstream((req, res) => {
      res.setHeader("content-type", "application/json");
      res.setHeader("connection", "close, x-hop");
      res.setHeader("x-hop", "per-connection");
      res.end(JSON.stringify({ path: req.url }));
    });
    for (const gw of [g, priv] = [await startGateway({ listener: "public" }), await startGateway({ listener: "private" })]) {
      gw.keys.set("key-viewer", principal("u-viewer"));
      gw.keys.set("key-other", principal("u-other", { "p-other": "owner" }));
      gw.keys.set("key-org", principal("u-org", {}, true));
      gw.routes.set("r-http", route("r-http"));
      gw.routes.set("r-mcp", route("r-mcp", { kind: "mcp" }));
      gw.routes.set("r-private", route("r-private", { networkAccess: "private" }));
      for (const r of gw.routes.values()) gw.endpoints.set(r.resourceName, [up.url]);
    }
  });
  after(async () => {
    await g.close();
    await priv.close();
    await up.close();
  });

  const get = (url: string, headers: Record<string, string> = { "x-access-key": "key-viewer" }) => fetch(url, { headers });

  test("maps the route's rest onto the replica, with the query string; MCP routes onto /mcp", async () => {
    const cases: [string, string, string][] = [
      ["r-http", "", "/"],
      ["r-http", "/", "/"],
      ["r-http", "/flows", "/flows"],
      ["r-http", "/api/v1/run/x%2Fy?stream=true&a=1", "/api/v1/run/x%2Fy?stream=true&a=1"],
      ["r-mcp", "", "/mcp"],
      ["r-mcp", "/mcp", "/mcp"],
      ["r-mcp", "/mcp/", "/mcp"],
      ["r-mcp", "/sub?x=1", "/mcp/sub?x=1"],
    ];
    for (const [id, rest, expected] of cases) {
      const res = await get(routeUrl(g, id, rest));
      assert.equal(res.status, 200, `${id}${rest}`);
      assert.deepEqual(await res.json(), { path: expected }, `${id}${rest}`);
    }
  });

  test("the key works as x-access-key and as Authorization: Bearer; neither reaches the replica", async () => {
    up.seen.length = 0;
    for (const headers of [{ "x-access-key": "key-viewer" }, { authorization: "Bearer key-viewer" }] as Record<string, string>[]) {
      const res = await get(routeUrl(g, "r-http", "/flows"), headers);
      assert.equal(res.status, 200);
    }
    assert.equal(up.seen.length, 2);
    for (const s of up.seen) {
      assert.equal(s.headers["x-access-key"], undefined);
      assert.equal(s.headers.authorization, undefined);
    }
  });

  test("Langflow's x-api-key works as a header and as a query parameter; neither reaches the replica or the log", async () => {
    up.seen.length = 0;
    const secret = "key-viewer";
    const r1 = await get(routeUrl(g, "r-http", "/api/v1/run/f?stream=true"), { "x-api-key": secret });
    assert.equal(r1.status, 200);
    assert.deepEqual(await r1.json(), { path: "/api/v1/run/f?stream=true" });
    const r2 = await get(routeUrl(g, "r-http", `/api/v1/run/f?x-api-key=${secret}&stream=true`), {});
    assert.equal(r2.status, 200);
    assert.deepEqual(await r2.json(), { path: "/api/v1/run/f?stream=true" });
    // Alone, and percent-encoded in its name: still stripped, and no empty "?" left behind.
    const r3 = await get(routeUrl(g, "r-mcp", `/mcp?x%2Dapi%2Dkey=${secret}`), {});
    assert.equal(r3.status, 200);
    assert.deepEqual(await r3.json(), { path: "/mcp" });
    assert.equal(up.seen.length, 3);
    for (const s of up.seen) {
      assert.equal(s.headers["x-api-key"], undefined);
      assert.ok(!s.url.includes(secret), s.url);
    }
    // Same rules as x-access-key: an unknown key or a user without a role in the project is 401.
    assert.equal((await get(routeUrl(g, "r-http", "/flows?x-api-key=nope"), {})).status, 401);
    assert.equal((await get(routeUrl(g, "r-http", "/flows"), { "x-api-key": "key-other" })).status, 401);
    assert.equal((await get(routeUrl(g, "r-http", "/flows?x-api-key="), {})).status, 401);
    // Below the Langflow API the gateway's own answers also carry Langflow's `detail`.
    const lf = await get(routeUrl(g, "r-http", "/api/v1/run/f"), { "x-api-key": "nope" });
    assert.deepEqual(await lf.json(), { error: { code: "unauthenticated", message: "the access key is unknown, expired or revoked" }, detail: "the access key is unknown, expired or revoked" });
    // The gateway logs no URL; a request outside every route is logged by Fastify with its URL, key redacted.
    await get(`${g.url}/elsewhere?x-api-key=${secret}`, {});
    assert.ok(g.logs.length > 0);
    for (const line of g.logs) assert.ok(!line.includes(secret), line);
    assert.ok(g.logs.some((l) => l.includes("x-api-key=[redacted]")), "Fastify's request line shows the parameter redacted");
  });

  test("an access key in a URL's path, percent-encoded or in any query pair, is in no log line", async () => {
    // A fixed key of the real shape: the expected URLs below are exact, and a random key could
    // itself hold "fp_" (which would make its redaction begin elsewhere).
    const key = "fp_Q9x7Lm2Kd8Rt5Vb3Nw6Yh1Zc4Jg0Pa-Es_Uf9Ik2Ol7";
    const body = key.slice(3);
    const before = g.logs.length;
    const paths = [
      `/api/v1/projects/${key}`,
      `/api/v1/projects/%66p_${body}`,
      `/api/v1/projects?a=fp%5F${body}`,
      `/api/v1/projects/x-${key.replace("_", "%5f")}-y/flows?limit=5`,
    ];
    for (const path of paths) assert.equal((await get(`${g.url}${path}`, {})).status, 404, path);
    // Under a route too: the gateway logs no URL, whatever its path holds.
    await get(routeUrl(g, "r-http", `/flows/${key}`), { "x-access-key": "key-viewer" });
    const lines = g.logs.slice(before);
    const incoming = lines.filter((l) => l.includes("incoming request"));
    assert.equal(incoming.length, paths.length, lines.join("\n"));
    for (const line of lines) assert.ok(!line.includes(body.slice(0, 12)) && !line.includes(body.slice(-12)), line);
    const urls = incoming.map((l) => (JSON.parse(l) as { req: { url: string } }).req.url);
    assert.deepEqual(urls, ["/api/v1/projects/[redacted]", "/api/v1/projects/[redacted]", "/api/v1/projects?a=[redacted]", "/api/v1/projects/x-[redacted]-y/flows?limit=5"]);
  });

  test("a missing, unknown or wrongly framed key is 401 with the error shape", async () => {
    for (const headers of [{}, { "x-access-key": "nope" }, { authorization: "Basic key-viewer" }] as Record<string, string>[]) {
      const res = await get(routeUrl(g, "r-http", "/flows"), headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="flowplane"');
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "unauthenticated");
    }
  });

  test("a user with no role in the route's project is 401; an org owner passes", async () => {
    assert.equal((await get(routeUrl(g, "r-http"), { "x-access-key": "key-other" })).status, 401);
    assert.equal((await get(routeUrl(g, "r-http"), { "x-access-key": "key-org" })).status, 200);
  });

  test("unknown routes and paths whose project or app is not the route's are 404", async () => {
    const urls = [
      routeUrl(g, "r-unknown", "/flows"),
      `${g.url}/projects/other/apps/${APP}/routes/r-http/flows`,
      `${g.url}/projects/${PROJECT}/apps/other/routes/r-http/flows`,
    ];
    for (const url of urls) {
      const res = await get(url);
      assert.equal(res.status, 404, url);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "not_found");
    }
  });

  test("private routes answer 404 on the public listener and are served on the private one, with public ones", async () => {
    assert.equal((await get(routeUrl(g, "r-private", "/flows"))).status, 404);
    assert.equal((await get(routeUrl(priv, "r-private", "/flows"))).status, 200);
    assert.equal((await get(routeUrl(priv, "r-http", "/flows"))).status, 200);
  });

  test("a revoked key stops working within 5 s, and is looked up once per TTL meanwhile", async () => {
    g.keys.set("key-temp", principal("u-temp"));
    const url = routeUrl(g, "r-http", "/flows");
    assert.equal((await get(url, { "x-access-key": "key-temp" })).status, 200);
    const before = g.lookups.keys;
    g.keys.delete("key-temp"); // revoked in the store
    assert.equal((await get(url, { "x-access-key": "key-temp" })).status, 200, "still cached");
    assert.equal(g.lookups.keys, before, "served from the cache");
    g.advance(4_999);
    assert.equal((await get(url, { "x-access-key": "key-temp" })).status, 401, "revoked within 5 s");
  });

  test("a call whose body comes after its key was revoked, or its role removed, is refused then, not forwarded", async () => {
    const url = new URL(routeUrl(g, "r-http", "/flows/f/run"));
    const body = JSON.stringify({ input_value: "sent after the revocation" });
    // The headers and the body's first byte now, the rest once `lose` took the caller's access.
    const late = async (key: string, lose: () => void) => {
      const socket = connect(Number(url.port), url.hostname);
      let answer = "";
      socket.on("data", (d: Buffer) => (answer += d.toString("latin1")));
      const closed = new Promise((resolve) => socket.on("close", resolve));
      const looked = g.lookups.keys;
      socket.write(`POST ${url.pathname} HTTP/1.1\r\nhost: gw.test\r\nx-access-key: ${key}\r\ncontent-type: application/json\r\n`
        + `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body.slice(0, 1)}`);
      await waitFor(() => g.lookups.keys > looked); // admitted on the headers
      lose();
      g.advance(4_999); // the key's cached answer expired: what is true now is looked up
      socket.write(body.slice(1));
      await closed;
      return answer.split("\r\n")[0];
    };
    g.keys.set("key-late", principal("u-late"));
    assert.equal(await late("key-late", () => g.keys.delete("key-late")), "HTTP/1.1 401 Unauthorized");
    g.keys.set("key-late-role", principal("u-late-role"));
    assert.equal(await late("key-late-role", () => g.keys.set("key-late-role", principal("u-late-role", {}))), "HTTP/1.1 401 Unauthorized");
    g.keys.set("key-kept", principal("u-kept"));
    assert.equal(await late("key-kept", () => undefined), "HTTP/1.1 200 OK", "a caller who kept access is served");
  });

  test("a revoked key stops working within 5 s on the gateway's own clock, though the wall clock steps back an hour", async () => {
    const real = await startGateway({ realClock: true });
    let back = () => undefined as void;
    try {
      real.keys.set("key-temp", principal("u-temp"));
      real.routes.set("r-http", route("r-http"));
      real.endpoints.set("res-r-http", [up.url]);
      const url = routeUrl(real, "r-http", "/flows");
      assert.equal((await get(url, { "x-access-key": "key-temp" })).status, 200);
      real.keys.delete("key-temp"); // revoked in the store
      back = stepWallClock(-3_600_000); // NTP, or a VM resumed: the wall clock an hour back
      assert.equal((await get(url, { "x-access-key": "key-temp" })).status, 200, "still cached");
      await sleep(4_200);
      assert.equal((await get(url, { "x-access-key": "key-temp" })).status, 401, "revoked within 5 s, not an hour");
    } finally {
      back();
      await real.close();
    }
  });

  test("an undeployed route answers 404 within 1 s", async () => {
    g.routes.set("r-gone", route("r-gone"));
    g.endpoints.set("res-r-gone", [up.url]);
    const url = routeUrl(g, "r-gone");
    assert.equal((await get(url)).status, 200);
    g.routes.delete("r-gone");
    g.advance(1_000);
    assert.equal((await get(url)).status, 404);
  });

  test("no ready replica is 503 with Retry-After", async () => {
    g.routes.set("r-cold", route("r-cold"));
    const res = await get(routeUrl(g, "r-cold", "/flows"));
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "unavailable");
  });

  test("a failing key lookup is 500 (not a 401), and the failure is not cached", async () => {
    g.keys.set("key-flaky", principal("u-flaky"));
    const original = g.keys.get.bind(g.keys);
    g.keys.get = (k: string) => { if (k === "key-flaky") throw new Error("database unreachable"); return original(k); };
    try {
      const res = await get(routeUrl(g, "r-http"), { "x-access-key": "key-flaky" });
      assert.equal(res.status, 500);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "internal_error");
    } finally {
      g.keys.get = original;
    }
    assert.equal((await get(routeUrl(g, "r-http"), { "x-access-key": "key-flaky" })).status, 200);
  });

  test("the request id is the gateway's own, never the caller's: a caller's X-Request-Id (or run id header) cannot name, or collide with, another call", async () => {
    up.seen.length = 0;
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const first = await get(routeUrl(g, "r-http"), { "x-access-key": "key-viewer", "x-request-id": "abc-123" });
    const second = await get(routeUrl(g, "r-http"), { "x-access-key": "key-viewer", "x-request-id": "abc-123", [RUN_ID_HEADER]: "abc-123" });
    const odd = await get(routeUrl(g, "r-http"), { "x-access-key": "key-viewer", "x-request-id": "bad id\twith spaces" });
    const ids = [first, second, odd].map((r) => r.headers.get("x-request-id") ?? "");
    for (const id of ids) assert.match(id, uuid);
    assert.equal(new Set(ids).size, 3, "each call its own id, whatever the callers sent");
    // The replica is told the gateway's id, in the run id header and in X-Request-Id (its log lines), never the caller's.
    assert.deepEqual(up.seen.map((s) => [s.headers[RUN_ID_HEADER], s.headers["x-request-id"]]), ids.map((id) => [id, id]));
    const denied = await get(routeUrl(g, "r-http"), {});
    assert.match(denied.headers.get("x-request-id") ?? "", uuid, "error answers carry one too");
  });

  test("hop-by-hop headers are dropped both ways; X-Forwarded-* are set", async () => {
    up.seen.length = 0;
    const res = await rawRequest(routeUrl(g, "r-http", "/flows"), {
      headers: {
        "x-access-key": "key-viewer", connection: "keep-alive, x-client-hop", "x-client-hop": "1", "keep-alive": "timeout=5",
        "proxy-authorization": "Basic x", te: "trailers", upgrade: "h2c", "x-forwarded-for": "10.0.0.1",
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers["x-hop"], undefined, "a header the replica's Connection names is not returned");
    const h = up.seen[0]!.headers;
    for (const name of ["keep-alive", "proxy-authorization", "te", "upgrade", "x-client-hop"]) assert.equal(h[name], undefined, name);
    assert.equal(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert.equal(h["x-forwarded-proto"], "http");
    assert.equal(h["x-forwarded-host"], new URL(g.url).host);
    assert.equal(h["x-forwarded-prefix"], `/projects/${PROJECT}/apps/${APP}/routes/r-http`);
  });

  test("a path climbing out of the route with '..' is refused", async () => {
    up.seen.length = 0;
    for (const rest of ["/flows/../../secret", "/flows/%2e%2e/%2E%2E/secret", "/..%2fsecret"]) {
      const res = await rawRequest(routeUrl(g, "r-http", rest), { headers: { "x-access-key": "key-viewer" } });
      assert.equal(res.status, 400, rest);
    }
    assert.equal(up.seen.length, 0);
  });

  test("a path with a malformed percent-escape is refused as such (not as a '..' segment)", async () => {
    up.seen.length = 0;
    const res = await rawRequest(routeUrl(g, "r-http", "/api/v1/run/%ZZ"), { method: "POST", headers: { "x-access-key": "key-viewer" } });
    assert.equal(res.status, 400);
    const body = JSON.parse(res.body) as { error: { code: string; message: string }; detail: string };
    assert.equal(body.error.code, "bad_request");
    assert.match(body.error.message, /malformed percent-escape/);
    assert.equal(body.detail, body.error.message);
    assert.equal(up.seen.length, 0);
  });

  test("the access log has one line per request, with ids and status, never keys, queries or bodies", async () => {
    g.logs.length = 0;
    const res = await fetch(routeUrl(g, "r-http", "/flows?secret-query=s3cr3t"), {
      method: "POST", headers: { "x-access-key": "key-viewer", "x-request-id": "log-check", "content-type": "application/json" },
      body: JSON.stringify({ input_value: "body-secret" }),
    });
    await res.arrayBuffer();
    await get(routeUrl(g, "r-http"), { authorization: "Bearer wrong-key-value" }).then((r) => r.arrayBuffer());
    // The line is written when the connection lets go of the request.
    await waitFor(() => g.logs.filter((l) => l.includes('"gateway request"')).length >= 2, { message: "both access-log lines" });
    const text = g.logs.join("\n");
    for (const secret of ["key-viewer", "wrong-key-value", "s3cr3t", "body-secret"]) assert.ok(!text.includes(secret), `${secret} leaked into the log`);
    const lines = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "gateway request");
    assert.equal(lines.length, 2);
    assert.deepEqual(
      { requestId: lines[0]!.requestId, routeId: lines[0]!.routeId, deploymentId: lines[0]!.deploymentId, method: lines[0]!.method, status: lines[0]!.status },
      { requestId: res.headers.get("x-request-id"), routeId: "r-http", deploymentId: "dep-r-http", method: "POST", status: 200 },
    );
    // The caller's own id is kept beside it, as a correlation attribute only.
    assert.equal(lines[0]!.correlationId, "log-check");
    assert.equal(lines[1]!.correlationId, undefined);
    assert.equal(typeof lines[0]!.durationMs, "number");
    assert.equal(lines[1]!.status, 401);
  });

  test("latency is recorded per route, kind, status class and deployment (a request that resolved no route: no deployment)", async () => {
    const text = await g.metrics.registry.getSingleMetricAsString("flowplane_gateway_request_duration_seconds");
    assert.match(text, /_count\{route_id="r-http",kind="http",status_class="2xx",deployment="res-r-http"\} [1-9]/);
    assert.match(text, /_count\{route_id="unresolved",kind="unresolved",status_class="4xx"\} [1-9]/);
  });
  test("a target outside every route: the 404 names its path, never an absolute-form target's host or query", async () => {
    const { port } = new URL(g.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(port), "127.0.0.1", () => s.write("GET http://elsewhere.example/nope?key=fp_not_shown HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n"));
      let out = "";
      s.on("data", (c: Buffer) => { out += c.toString(); });
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    assert.match(raw, /^HTTP\/1\.1 404 /);
    const body = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as { error: { code: string; message: string } };
    assert.deepEqual(body.error, { code: "not_found", message: "no such endpoint: GET /nope" });
    assert.ok(!raw.includes("elsewhere.example") && !raw.includes("fp_not_shown"));
  });
});
