import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import pLimit from "p-limit";
import { PooledKubeConfig } from "./kube-config.js";

/**
 * PooledKubeConfig's agent with the client library itself (@kubernetes/client-node and its
 * node-fetch) against a local server that answers as the API server does for larger objects:
 * chunked, on kept-alive connections. Many requests at once, more than the idle connections
 * kept: none may fail. With the agent's old `maxSockets` bound (requests then wait in the agent),
 * node-fetch took answers handed over on a reused socket for cut short ("Premature close").
 */
describe("PooledKubeConfig: kept-alive connections to the API server", () => {
  let server: Server;
  let connections = 0;
  let kc: PooledKubeConfig;

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const name = /\/namespaces\/([^/?]+)/.exec(req.url ?? "")?.[1] ?? "";
        // Two writes without a length: Transfer-Encoding chunked, as the API server's larger answers.
        res.writeHead(200, { "content-type": "application/json" });
        res.write(`{"apiVersion":"v1","kind":"Namespace",`);
        setImmediate(() => res.end(`"metadata":{"name":"${name}","labels":{"pad":"${"x".repeat(60)}"}}}`));
      });
    });
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    kc = new PooledKubeConfig(4);
    kc.loadFromOptions({
      clusters: [{ name: "local", server: `http://127.0.0.1:${(server.address() as { port: number }).port}`, skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "c", cluster: "local", user: "u" }],
      currentContext: "c",
    });
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("answers every one of 600 requests, 16 in flight at a time (the driver's bound), over reused connections", async () => {
    const api = kc.makeApiClient(CoreV1Api);
    const limit = pLimit(16);
    const names = Array.from({ length: 600 }, (_, i) => `ns-${i}`);
    const results = await Promise.allSettled(names.map((name) => limit(() => api.readNamespace({ name }))));
    const failed = results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason).slice(0, 160));
    assert.deepEqual(failed.slice(0, 3), [], `${failed.length} of 600 failed`);
    assert.deepEqual(results.map((r) => (r as PromiseFulfilledResult<{ metadata?: { name?: string } }>).value.metadata?.name), names);
    // Kept alive: far fewer connections than requests (not one per request, as the library's own agent made).
    assert.ok(connections <= 32, `${connections} connections for 600 requests`);
  });

  it("answers every one of 200 requests sent at once, with no bound before the agent", async () => {
    const api = kc.makeApiClient(CoreV1Api);
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => api.readNamespace({ name: `burst-${i}` })));
    assert.equal(results.filter((r) => r.status === "rejected").length, 0);
  });
});
