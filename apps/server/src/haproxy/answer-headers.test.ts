import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import { connect as connectH2 } from "node:http2";
import { connect as connectTcp } from "node:net";
import { after, before, describe, it } from "node:test";
import { REFUSING_PORT, waitFor } from "@flowplane/testkit";
import { ORIGIN_WIDE_ANSWER_HEADERS, REDIRECT_ANSWER_HEADERS } from "../gateway/headers.js";
import { routeMapKey } from "./config.js";
import type { FastCall } from "../fast-path/state.js";
import { parseFastLine } from "./log-line.js";
import { HAVE_HAPROXY, startTestHaproxy, type TestHaproxy } from "./test-haproxy.js";


/**
 * The fast path's answer headers with a real HAProxy (config.ts as written), programmed by hand
 * (one route, one key) in front of a hostile replica: what a replica answers never sets state for
 * the whole shared origin, as on the Node path (gateway.hostile-replica.test.ts).
 */
describe("HAProxy's fast path: a hostile replica's answer headers", { timeout: 60_000, skip: HAVE_HAPROXY || process.env.CI === "true" ? false : "haproxy is not installed" }, () => {
  let replica: Server;
  let hanging: Server;
  let resetting: Server;
  let haproxy: TestHaproxy;
  /** The fast-path calls HAProxy logged, through its ring and the sink. */
  const calls: FastCall[] = [];
  /** What the replica received last: the request line's path and its headers. */
  type Received = { url: string; headers: Record<string, string | string[] | undefined> };
  const seen: { last?: Received } = {};
  let port: number;
  const key = "fp_" + "k".repeat(43);

  before(async () => {
    replica = createServer((req, res) => {
      seen.last = { url: req.url ?? "", headers: req.headers };
      res.writeHead(200, {
        "content-type": "text/html", "set-cookie": "session=stolen; Path=/", "clear-site-data": "\"storage\"",
        "nel": "{\"report_to\":\"x\",\"max_age\":86400,\"success_fraction\":1}", "report-to": "{\"group\":\"x\",\"max_age\":86400,\"endpoints\":[{\"url\":\"https://collector.example/\"}]}",
        "reporting-endpoints": "x=\"https://collector.example/\"", "alt-svc": "h2=\"other.example:443\"", "strict-transport-security": "max-age=31536000",
        "content-security-policy": "default-src *", "location": "https://elsewhere.example/", "refresh": "0; url=https://elsewhere.example/",
      });
      res.end("<p>hi</p>");
    });
    await new Promise<void>((r) => replica.listen(0, "127.0.0.1", r));
    const rport = (replica.address() as { port: number }).port;
    // Replicas that fail: one never answers, one drops the connection on the request.
    hanging = createServer(() => undefined);
    resetting = createServer((req) => req.socket.destroy());
    for (const s of [hanging, resetting]) await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const [hport, xport] = [(hanging.address() as { port: number }).port, (resetting.address() as { port: number }).port];
    // A replica that refuses: port 1, which nothing here listens on. (A free port closed again
    // was taken, under CI, by another test's replica, which answered 401.)
    const closed = REFUSING_PORT;
    // The Node listener is never reached here (every call is on the fast path); a closed port stands for it.
    haproxy = await startTestHaproxy({ slots: 4, onLine: (line) => { const c = parseFastLine(line); if (c) calls.push(c); } });
    ({ port } = haproxy);
    const { api, routesMap, keysMap } = haproxy;
    const hash = createHash("sha256").update(key).digest("hex");
    await api.run([
      `add server s0/127.0.0.1:${rport} 127.0.0.1:${rport}`, `enable server s0/127.0.0.1:${rport}`,
      `add map ${routesMap} ${routeMapKey({ projectId: "p1", appId: "a1", routeId: "r1" })} s0|d1|p1|a1|1|30000|a-gateway-secret|r1`, `add map ${keysMap} ${hash}/p1 u1|k1`,
      `add server s1/127.0.0.1:${closed} 127.0.0.1:${closed}`, `enable server s1/127.0.0.1:${closed}`, `add map ${routesMap} ${routeMapKey({ projectId: "p1", appId: "a1", routeId: "r2" })} s1|d2|p1|a1|1|30000|a-gateway-secret|r2`,
      `add server s2/127.0.0.1:${hport} 127.0.0.1:${hport}`, `enable server s2/127.0.0.1:${hport}`, `add map ${routesMap} ${routeMapKey({ projectId: "p1", appId: "a1", routeId: "r3" })} s2|d3|p1|a1|1|1000|a-gateway-secret|r3`,
      `add server s3/127.0.0.1:${xport} 127.0.0.1:${xport}`, `enable server s3/127.0.0.1:${xport}`, `add map ${routesMap} ${routeMapKey({ projectId: "p1", appId: "a1", routeId: "r4" })} s3|d4|p1|a1|1|30000|a-gateway-secret|r4`,
    ]);
  });
  after(async () => {
    await haproxy?.stop();
    for (const s of [replica, hanging, resetting]) {
      s?.closeAllConnections();
      await new Promise((r) => s?.close(r));
    }
  });

  const get = (route: string, path = "/page", headers: Record<string, string> = {}) => new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: `/projects/p1/apps/a1/routes/${route}${path}`, headers: { "x-access-key": key, ...headers }, agent: false }, (r) => {
      let body = "";
      r.on("data", (c: Buffer) => { body += c.toString(); });
      r.on("end", () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });

  it("drops every origin-wide header, sandboxes the document and names the run", async () => {
    const res = await get("r1");
    assert.equal(res.status, 200);
    assert.match(String(res.headers["x-request-id"]), /^[0-9a-f-]{36}$/, "served by the fast path (its own run id)");
    for (const name of ORIGIN_WIDE_ANSWER_HEADERS) assert.equal(res.headers[name], undefined, `${name}: state for the whole origin`);
    for (const name of REDIRECT_ANSWER_HEADERS) assert.equal(res.headers[name], undefined, `${name}: sends the caller, and its key, elsewhere`);
    assert.equal(res.headers["content-security-policy"], "sandbox");
    assert.equal(res.headers["x-content-type-options"], "nosniff");
  });

  it("hands the replica what the Node gateway would: the path under the route, the forwarding headers, the secret, no key", async () => {
    const cases: [string, string][] = [["/page", "/page"], ["/flows/f1/run?stream=false", "/flows/f1/run?stream=false"], ["", "/"], ["/", "/"], ["/a/b/c", "/a/b/c"]];
    for (const [path, upstream] of cases) {
      delete seen.last;
      const res = await get("r1", path, { "x-forwarded-for": "10.0.0.9", "x-request-id": "the-callers-own" });
      assert.equal(res.status, 200, path);
      const received = seen.last as Received | undefined; // set by the replica's handler meanwhile
      assert.ok(received, `${path}: served by the replica`);
      assert.equal(received.url, upstream, `${path}: the path under the route's prefix`);
      assert.equal(received.headers["x-forwarded-prefix"], "/projects/p1/apps/a1/routes/r1");
      assert.equal(received.headers["x-forwarded-for"], "10.0.0.9, 127.0.0.1", "the client's address appended");
      assert.equal(received.headers["x-forwarded-proto"], "http");
      assert.equal(received.headers["x-flowplane-gateway-secret"], "a-gateway-secret");
      assert.equal(received.headers["x-access-key"], undefined, "the key never reaches the replica");
      assert.equal(received.headers["x-request-id"], res.headers["x-request-id"], "the gateway's run id, not the caller's");
      assert.equal(received.headers["x-flowplane-run-id"], res.headers["x-request-id"]);
    }
    // A path whose project or app is not the route's is not the route's: HAProxy leaves it to Node (here, a closed port).
    delete seen.last;
    const other = await new Promise<number>((resolve, reject) => {
      request({ host: "127.0.0.1", port, path: "/projects/p2/apps/a1/routes/r1/page", headers: { "x-access-key": key }, agent: false }, (r) => { r.resume(); resolve(r.statusCode ?? 0); }).on("error", reject).end();
    });
    assert.equal(seen.last, undefined, "another project's path never reaches the route's replica");
    assert.equal(other, 503, "left to the Node listener (closed here)");
  });

  it("leaves the replica's /mcp under an HTTP route to Node, whose run record reads the tool call in the body", async () => {
    delete seen.last;
    const mcp = await get("r1", "/mcp");
    assert.equal(seen.last, undefined, "the replica never saw it from HAProxy");
    assert.equal(mcp.status, 503, "left to the Node listener (closed here)");
    const page = await get("r1", "/mcp-notes");
    assert.equal(page.status, 200, "only the MCP endpoint itself is Node's");
  });

  it("leaves to Node what it would not route: HTTP/2 without upgrade, an absolute-form target", async () => {
    // h2c: HAProxy speaks HTTP/1 only, as the workers do (an h2 body has no length to bound).
    const h2 = connectH2(`http://127.0.0.1:${port}`);
    const h2Result = await new Promise<string>((resolve) => {
      h2.on("error", (e) => resolve(`error ${e.message}`));
      const req = h2.request({ ":method": "POST", ":path": "/projects/p1/apps/a1/routes/r1/page", "x-access-key": key });
      req.on("response", (h) => resolve(`status ${String(h[":status"])}`));
      req.on("error", (e) => resolve(`error ${e.message}`));
      req.end("x".repeat(1000));
    });
    h2.destroy();
    assert.match(h2Result, /^error/, `refused: ${h2Result}`);
    // An absolute-form target is not a gateway path to Node (its req.url keeps the scheme): not the fast path.
    delete seen.last;
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connectTcp(port, "127.0.0.1", () => s.write(`GET http://127.0.0.1:${port}/projects/p1/apps/a1/routes/r1/page HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nx-access-key: ${key}\r\nConnection: close\r\n\r\n`));
      let out = "";
      s.on("data", (c: Buffer) => { out += c.toString(); });
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    assert.equal(seen.last, undefined, "the replica never saw it");
    assert.match(raw, /^HTTP\/1\.1 503/, "left to the Node listener (closed here)");
  });

  it("records every call while servers come and go; leaves a path longer than a record holds to Node", async () => {
    const before = calls.length;
    const ids: string[] = [];
    const churn = (async () => {
      for (let i = 0; i < 15; i++) {
        const name = `s3/127.0.0.1:${40000 + i}`;
        await haproxy.api.run([`add server ${name} 127.0.0.1:${40000 + i}`, `enable server ${name}`, `set server ${name} state maint`, `del server ${name}`]);
      }
    })();
    for (let i = 0; i < 30; i++) ids.push(String((await get("r1", `/page/${i}`)).headers["x-request-id"]));
    await churn;
    await waitFor(() => ids.every((id) => calls.some((c) => c.requestId === id)), { timeoutMs: 5_000, intervalMs: 20, message: `all ${ids.length} calls recorded (had ${calls.length - before})` });
    // A run's path past 512 bytes: cut there in the record, it would not read as a run's (its
    // flow unrecorded), so Node takes it whole. A path of 512 bytes is still served here.
    const prefix = "/projects/p1/apps/a1/routes/r1";
    delete seen.last;
    const long = await get("r1", `/flows/${"a".repeat(512 - prefix.length - "/flows//run".length + 1)}/run`);
    assert.deepEqual([long.status, seen.last], [503, undefined], "left to the Node listener (closed here)");
    const edge = await get("r1", `/${"a".repeat(512 - prefix.length - 1)}`);
    assert.equal(edge.status, 200, "512 bytes: the fast path's");
  });

  it("its own answers for a replica that refuses, is too slow or drops the call are the gateway's JSON errors, with their code and the run id", async () => {
    const cases: [string, number, string, RegExp][] = [
      ["r2", 503, "unavailable", /^no ready replica accepted the connection; retry shortly$/],
      ["r3", 504, "gateway_timeout", /^the replica did not answer within 1 s$/],
      ["r4", 502, "bad_gateway", /^the replica failed while handling the request$/],
    ];
    for (const [route, status, code, message] of cases) {
      const res = await get(route);
      assert.equal(res.status, status, `${route}: ${res.body}`);
      assert.match(String(res.headers["content-type"]), /^application\/json/, route);
      assert.equal(res.headers["x-flowplane-error"], code, route);
      const body = JSON.parse(res.body) as { error: { code: string; message: string }; detail?: string };
      assert.equal(body.error.code, code);
      assert.match(body.error.message, message);
      assert.equal(body.detail, undefined, `${route}: Langflow's detail only below its API`);
      // Below the route's Langflow API the same answer also carries Langflow's `detail`, as the workers' does.
      const lf = await get(route, "/api/v1/run/f1");
      assert.equal(lf.status, status, `${route}: ${lf.body}`);
      const lfBody = JSON.parse(lf.body) as { error: { code: string; message: string }; detail?: string };
      assert.equal(lfBody.error.code, code);
      assert.equal(lfBody.detail, lfBody.error.message, `${route}: detail = message`);
      assert.match(String(res.headers["x-request-id"]), /^[0-9a-f-]{36}$/, `${route}: the run id on an error too`);
      if (status === 503) assert.equal(res.headers["retry-after"], "1");
      // The run is recorded with the error's code: HAProxy's line, through its ring, to the sink.
      const rid = String(res.headers["x-request-id"]);
      await waitFor(() => calls.some((c) => c.requestId === rid), { timeoutMs: 5_000, intervalMs: 20, message: `${route}: HAProxy's log line` });
      const call = calls.find((c) => c.requestId === rid)!;
      assert.deepEqual([call.routeId, call.userId, call.keyId, call.method, call.path, call.status, call.errorCode], [route, "u1", "k1", "GET", "/page", status, code]);
    }
  });
});
