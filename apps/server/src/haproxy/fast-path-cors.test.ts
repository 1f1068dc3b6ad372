import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { routeMapKey } from "./config.js";
import { HAVE_HAPROXY, startTestHaproxy, type TestHaproxy } from "./test-haproxy.js";

/**
 * HAProxy's fast path writes no CORS header, so with CORS on (FLOWPLANE_GATEWAY_CORS_ORIGINS) a
 * browser's call, one with an Origin header, must go to the workers, which answer it with them
 * (gateway/cors.ts). Two real HAProxies with config.ts as written, CORS off and on, each
 * programmed by hand with one route and one key. The Node listener is a closed port: a call left
 * to Node is HAProxy's 503, one on the fast path the replica's 200.
 */
describe("HAProxy's fast path with CORS on: a call with Origin goes to the workers", { timeout: 60_000, skip: HAVE_HAPROXY || process.env.CI === "true" ? false : "haproxy is not installed" }, () => {
  let replica: Server;
  let replicaCalls = 0;
  const proxies: Record<"off" | "on", TestHaproxy | undefined> = { off: undefined, on: undefined };
  const key = "fp_" + "c".repeat(43);

  before(async () => {
    replica = createServer((_req, res) => {
      replicaCalls++;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    await new Promise<void>((r) => replica.listen(0, "127.0.0.1", r));
    const rport = (replica.address() as { port: number }).port;
    const hash = createHash("sha256").update(key).digest("hex");
    for (const mode of ["off", "on"] as const) {
      const h = await startTestHaproxy({ slots: 1, onLine: () => undefined, corsToNode: mode === "on" });
      proxies[mode] = h;
      await h.api.run([
        `add server s0/127.0.0.1:${rport} 127.0.0.1:${rport}`, `enable server s0/127.0.0.1:${rport}`,
        `add map ${h.routesMap} ${routeMapKey({ projectId: "p1", appId: "a1", routeId: "r1" })} s0|d1|p1|a1|1|30000|a-gateway-secret|r1`, `add map ${h.keysMap} ${hash}/p1 u1|k1`,
      ]);
    }
  });
  after(async () => {
    for (const h of Object.values(proxies)) await h?.stop();
    replica?.closeAllConnections();
    await new Promise((r) => replica?.close(r));
  });

  const call = (mode: "off" | "on", headers: Record<string, string> = {}) => new Promise<{ status: number; replicaSaw: boolean }>((resolve, reject) => {
    const before = replicaCalls;
    request({ host: "127.0.0.1", port: proxies[mode]!.port, path: "/projects/p1/apps/a1/routes/r1/flows", headers: { "x-access-key": key, ...headers }, agent: false }, (r) => {
      r.resume();
      r.on("end", () => resolve({ status: r.statusCode ?? 0, replicaSaw: replicaCalls > before }));
    }).on("error", reject).end();
  });

  it("on: a call with Origin is left to Node; one without is still the fast path's", async () => {
    assert.deepEqual(await call("on"), { status: 200, replicaSaw: true }, "no Origin: the fast path");
    assert.deepEqual(await call("on", { origin: "https://shop.example.com" }), { status: 503, replicaSaw: false }, "Origin: left to Node (closed here)");
  });

  it("off: the fast path is as it was, Origin or not", async () => {
    assert.deepEqual(await call("off", { origin: "https://shop.example.com" }), { status: 200, replicaSaw: true });
    assert.deepEqual(await call("off"), { status: 200, replicaSaw: true });
  });
});
