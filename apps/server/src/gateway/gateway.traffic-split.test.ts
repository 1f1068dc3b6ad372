import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { principal, route, routeUrl, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";

/**
 * The traffic split through the gateway (docs/revisions.md): each call goes to the replicas of the
 * revision core's chooseRevision picks; the target header reaches a 0% revision; a revision
 * without ready replicas falls back to any; a rollback's replicas are named as the rollback.
 */
describe("gateway: live revisions and the traffic split", () => {
  let g: TestGateway;
  const replicas: Upstream[] = [];
  before(async () => {
    g = await startGateway();
    g.keys.set("k", principal("u1"));
    // Three replicas, each answering as a replica started for its revision.
    for (const runs of [1, 5, 6]) {
      const u = await startUpstream((_req, res) => {
        res.setHeader("x-flowplane-revision", String(runs));
        res.end(`runs ${runs}`);
      });
      replicas.push(u);
      g.endpoints.set(`res@${runs}`, [u.url]);
    }
    g.endpoints.set("res", replicas.map((u) => u.url));
    // A canary: revision 6 at 10%, 5 at 90%; revision 3 (a rollback to 1) warm at 0%.
    g.routes.set("split", route("split", { resourceName: "res", revision: 6, live: [{ revision: 6, runs: 6, percent: 10 }, { revision: 5, runs: 5, percent: 90 }, { revision: 3, runs: 1, percent: 0 }] }));
    g.routes.set("starting", route("starting", { resourceName: "res", revision: 9, live: [{ revision: 9, runs: 9, percent: 100 }] }));
  });
  after(async () => {
    await g.close();
    for (const u of replicas) await u.close();
  });

  const call = async (routeId: string, o: { session?: string; target?: string } = {}) => {
    const r = await fetch(routeUrl(g, routeId, "/flows/f/run"), {
      method: "POST", headers: { "x-access-key": "k", "content-type": "application/json", ...(o.target ? { "x-flowplane-revision-target": o.target } : {}) },
      body: JSON.stringify({ input_value: "hi", ...(o.session ? { session_id: o.session } : {}) }),
    });
    return { status: r.status, revision: r.headers.get("x-flowplane-revision"), text: await r.text() };
  };

  test("a session's calls all go to one revision; about the canary's share of 200 sessions go to it", async () => {
    let onCanary = 0;
    for (let i = 0; i < 200; i++) {
      const first = await call("split", { session: `conv-${i}` });
      const second = await call("split", { session: `conv-${i}` });
      assert.equal(second.revision, first.revision);
      assert.equal(first.text, `runs ${first.revision}`);
      if (first.revision === "6") onCanary++;
    }
    assert.ok(onCanary >= 5 && onCanary <= 40, `${onCanary} of 200 on the 10% canary`);
  });

  test("the target header reaches a 0% revision, named as the revision it serves; others are refused", async () => {
    const warm = await call("split", { target: "3" });
    assert.deepEqual([warm.status, warm.text, warm.revision], [200, "runs 1", "3"]);
    const gone = await call("split", { target: "4" });
    assert.equal(gone.status, 404);
    assert.match(gone.text, /revision 4 is not live \(live revisions: 6, 5, 3\)/);
    assert.equal((await call("split", { target: "x" })).status, 400);
  });

  test("a revision with no ready replica yet: any ready replica serves, unless the call targeted it", async () => {
    assert.equal((await call("starting")).status, 200);
    assert.equal((await call("starting", { target: "9" })).status, 503);
  });
});
