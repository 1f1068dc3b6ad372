import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { principal, route, routeUrl, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";

/**
 * `x-flowplane-revision` (DESIGN 11) on every proxied answer: the revision the answering replica
 * names (the one it was started for), else the route's current revision.
 */
describe("gateway: the revision header", () => {
  let g: TestGateway;
  let replica: Upstream;
  before(async () => {
    g = await startGateway();
    g.keys.set("k", principal("u1"));
    // `/named` answers as a replica started for revision 5; `/odd` names something that is no revision number.
    replica = await startUpstream((req, res) => {
      if (req.url === "/named") res.setHeader("x-flowplane-revision", "5");
      if (req.url === "/odd") res.setHeader("x-flowplane-revision", "5; drop table");
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

  const header = async (routeId: string, path: string) => {
    const r = await fetch(routeUrl(g, routeId, path), { headers: { "x-access-key": "k" } });
    assert.equal(r.status, 200);
    await r.text();
    return r.headers.get("x-flowplane-revision");
  };

  test("the replica's own revision is passed on: exact while old and new replicas both serve", async () => {
    assert.equal(await header("r7", "/named"), "5");
  });

  test("a replica naming none, or no revision number, gets the route's current revision", async () => {
    assert.equal(await header("r7", "/flows"), "7");
    assert.equal(await header("r7", "/odd"), "7");
  });

  test("a route without a revision and a replica without one: no header", async () => {
    assert.equal(await header("none", "/flows"), null);
    assert.equal(await header("none", "/odd"), null);
  });
});
