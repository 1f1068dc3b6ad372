import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { GATEWAY_SECRET_HEADER, listenerId, loopbackListeners } from "@flowplane/core";
import { squatPort } from "@flowplane/testkit";
import { gatewaySecretOf, principal, route, routeUrl, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";

const KEY = { "x-access-key": "k" };

/** The listener (listenerId) on 127.0.0.1 at `url`'s port. */
async function listenerAt(url: string): Promise<string> {
  const [listener] = loopbackListeners(await readFile("/proc/net/tcp", "utf8"), Number(new URL(url).port));
  assert.ok(listener, `something listens at ${url}`);
  return listenerId(listener);
}

/** A server on `url`'s port (bound once the port is free) that records every request it gets and answers 200. */
const squat = (url: string, got: { url: string; secret: string | undefined }[]): Promise<Server> =>
  squatPort(Number(new URL(url).port), (q) => got.push({ url: q.url ?? "", secret: q.headers[GATEWAY_SECRET_HEADER] as string | undefined }), { answer: "squatted" });

/**
 * A local replica's port is free the moment the replica dies, before its driver's exit event and
 * the new endpoints reach the gateway (a gateway worker hears of them over IPC, a split one reads
 * them later still). Any process on the machine, another deployment's flow included, may bind it
 * then. The gateway checks each new connection against the listener the driver made for the
 * replica, before writing anything on it.
 */
describe("gateway: a dead replica's port taken by another process", () => {
  let g: TestGateway;
  let other: Upstream;

  before(async () => {
    g = await startGateway();
    g.keys.set("k", principal("u1"));
    g.routes.set("r", route("r"));
    other = await startUpstream((_q, res) => res.end("the other replica"));
    g.listeners.set(`res-r ${other.url}`, await listenerAt(other.url));
  });
  after(async () => {
    await g.close();
    await other.close();
  });

  test("calls go to the replica while its listener is there; once it is gone, the squatter on its port gets no call and no secret", async () => {
    const replica = await startUpstream((_q, res) => res.end("the replica"));
    g.endpoints.set("res-r", [replica.url]);
    g.listeners.set(`res-r ${replica.url}`, await listenerAt(replica.url));
    const got: { url: string; secret: string | undefined }[] = [];
    let squatter: Server | undefined;
    try {
      const served = await fetch(routeUrl(g, "r", "/flows"), { headers: KEY });
      assert.equal(served.status, 200);
      assert.equal(await served.text(), "the replica", "the check passes for the replica's own listener");
      // The replica dies (its connections with it); the gateway is not told yet.
      await replica.close();
      squatter = await squat(replica.url, got);
      for (const method of ["GET", "POST"]) {
        const r = await fetch(routeUrl(g, "r", "/flows/f/run"), { method, headers: { ...KEY, "content-type": "application/json" }, ...(method === "POST" ? { body: "{\"input_value\":\"private\"}" } : {}) });
        assert.equal(r.status, 503, `${method}: no replica to serve it (${await r.text()})`);
      }
      assert.deepEqual(got, [], "the squatter got no call, and no gateway secret");
      // With another replica ready, the call goes there, as after a refused connection.
      g.endpoints.set("res-r", [replica.url, other.url]);
      for (let i = 0; i < 4; i++) {
        const r = await fetch(routeUrl(g, "r", "/flows/f/run"), { method: "POST", headers: { ...KEY, "content-type": "application/json" }, body: "{}" });
        assert.equal(r.status, 200);
        assert.equal(await r.text(), "the other replica");
      }
      assert.deepEqual(got, []);
    } finally {
      squatter?.closeAllConnections();
      squatter?.close();
    }
  });

  test("a stale URL whose port another deployment's replica now holds: no call of this deployment reaches it, kept-alive connections included", async () => {
    // Deployment r's replica listened on a port; it died, and the port went to deployment b's new replica.
    const first = await startUpstream((_q, res) => res.end("r's replica"));
    const url = first.url;
    const gone = await listenerAt(url);
    await first.close();
    const got: { url: string; secret: string | undefined }[] = [];
    const theirs = await squat(url, got);
    try {
      g.routes.set("b", route("b"));
      g.endpoints.set("res-b", [url]);
      g.listeners.set(`res-b ${url}`, await listenerAt(url));
      // r's set is stale: it still lists the URL, with its own replica's listener.
      g.endpoints.set("res-r", [url]);
      g.listeners.set(`res-r ${url}`, gone);
      const b = await fetch(routeUrl(g, "b", "/flows"), { headers: KEY });
      assert.equal(b.status, 200, "b's own calls reach b's replica, on a connection kept alive after");
      assert.equal(got.length, 1);
      for (let i = 0; i < 3; i++) {
        const r = await fetch(routeUrl(g, "r", "/flows/f/run"), { method: "POST", headers: { ...KEY, "content-type": "application/json" }, body: "{\"input_value\":\"r's private input\"}" });
        assert.equal(r.status, 503, await r.text());
      }
      assert.deepEqual(got.map((x) => x.secret), [gatewaySecretOf("dep-b")], "only b's call reached b's replica: none of r's, and not r's secret");
    } finally {
      theirs.closeAllConnections();
      theirs.close();
    }
  });
});
