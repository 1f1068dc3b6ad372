import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { principal, route, routeUrl, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";

/** `x-flowplane-revision` (DESIGN 11): the gateway names the route's revision on every proxied answer; a replica cannot. */
describe("gateway: the revision header", () => {
  let g: TestGateway;
  let replica: Upstream;
  before(async () => {
    g = await startGateway();
    g.keys.set("k", principal("u1"));
    // A replica trying to name a revision itself: the gateway's word replaces it.
    replica = await startUpstream((_req, res) => {
      res.setHeader("x-flowplane-revision", "99");
      res.end("ok");
    });
    g.routes.set("r7", route("r7", { revision: 7 }));
    g.routes.set("none", route("none", { resourceName: "res-r7" }));
    g.endpoints.set("res-r7", [replica.url]);
  });
  after(async () => {
    await g.close();
    await replica.close();
  });

  test("every proxied answer names the route's revision, whatever the replica said", async () => {
    for (const path of ["/flows", "/health", "/api/v1/run/x"]) {
      const r = await fetch(routeUrl(g, "r7", path), { headers: { "x-access-key": "k" } });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("x-flowplane-revision"), "7");
      await r.text();
    }
  });

  test("a route without a revision gets no header, and the replica's is dropped", async () => {
    const r = await fetch(routeUrl(g, "none", "/flows"), { headers: { "x-access-key": "k" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-flowplane-revision"), null);
  });
});
