import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { NginxProgramClient } from "./program-client.js";
import { call, routeEntry, sha256hex, SKIP_WITHOUT_NGINX, startReplica, startTestNginx, type TestNginx, type TestServer } from "./test-nginx.js";

/** nginx's programming socket (lua.ts `program`, program-client.ts), with a real nginx: what a batch changes is what calls then take. */
describe("nginx's programming socket", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  let nginx: TestNginx;
  let replica: TestServer & { address: string };
  const path = "/projects/p1/apps/a1/routes/r1/page";
  /** Who served a call with this key: the replica (the fast path) or the workers. */
  const via = async (key: string, p = path) => ((await call(nginx.port, p, { headers: { "x-access-key": key } })).headers["x-served-by"] === "workers" ? "workers" : "replica");

  before(async () => {
    replica = await startReplica();
    nginx = await startTestNginx();
  });
  after(async () => {
    await nginx?.stop();
    await replica?.close();
  });

  it("lives in a folder only the control plane's user can enter", () => {
    assert.equal(statSync(nginx.dir).mode & 0o777, 0o700);
    assert.ok(statSync(nginx.child.programSocket).isSocket());
  });

  it("sets and deletes routes and keys; a route reaches the fast path only with a key for its project", async () => {
    const key = "fp_program_1";
    assert.equal(await via(key), "workers", "nothing programmed");
    assert.deepEqual(await nginx.program.send({ routes: { set: [routeEntry("r1", [replica.address])] } }), { routes: { set: 1, deleted: 0 }, keys: { set: 0, deleted: 0 }, errors: [] });
    assert.equal(await via(key), "workers", "no key entry");
    await nginx.program.send({ keys: { set: [{ key: `${sha256hex(key)}/p2`, userId: "u1", keyId: "k1" }] } });
    assert.equal(await via(key), "workers", "a key for another project");
    await nginx.program.send({ keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1" }] } });
    assert.equal(await via(key), "replica");
    assert.deepEqual((await nginx.program.send({ keys: { delete: [`${sha256hex(key)}/p1`] } })).keys, { set: 0, deleted: 1 });
    assert.equal(await via(key), "workers", "the key deleted");
    await nginx.program.send({ keys: { set: [{ key: `${sha256hex(key).toUpperCase()}/p1`, userId: "u1", keyId: "k1" }] } });
    assert.equal(await via(key), "replica", "hex in either case");
    await nginx.program.send({ routes: { delete: [routeEntry("r1", []).key] } });
    assert.equal(await via(key), "workers", "the route deleted");
    // Deletes go first, then sets: a batch that moves a route keeps it.
    await nginx.program.send({ routes: { delete: [routeEntry("r1", []).key], set: [routeEntry("r1", [replica.address])] } });
    assert.equal(await via(key), "replica");
    // reset: both dictionaries emptied first (what the programmer sends after a restart).
    await nginx.program.send({ reset: true, routes: { set: [routeEntry("r2", [replica.address])] } });
    assert.equal(await via(key), "workers", "r1 gone with the reset");
    assert.equal(await via(key, "/projects/p1/apps/a1/routes/r2/page"), "workers", "the key gone with the reset too");
  });

  it("expires every key entry by itself within 4 s, whatever TTL it was given", async () => {
    await nginx.program.send({ routes: { set: [routeEntry("r1", [replica.address])] } });
    for (const ttlMs of [undefined, 60_000]) {
      const key = `fp_expiry_${ttlMs}`;
      const set = performance.now();
      await nginx.program.send({ keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1", ...(ttlMs ? { ttlMs } : {}) }] } });
      assert.equal(await via(key), "replica", `ttl ${ttlMs}: on the fast path at first`);
      while ((await via(key)) === "replica") {
        assert.ok(performance.now() - set < 4_500, `ttl ${ttlMs}: still on the fast path after 4.5 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const gone = performance.now() - set;
      assert.ok(gone > 3_800, `ttl ${ttlMs}: gone after ${Math.round(gone)} ms, not before 4 s`);
    }
    // A shorter TTL is kept.
    const key = "fp_expiry_short";
    await nginx.program.send({ keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1", ttlMs: 300 }] } });
    assert.equal(await via(key), "replica");
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await via(key), "workers");
  });

  it("refuses malformed entries one by one and applies the rest; refuses a batch that is not JSON", async () => {
    const good = routeEntry("r3", [replica.address]);
    const res = await nginx.program.send({
      routes: { set: [
        { ...good, key: "projects/p1/apps/a1/routes/r3/extra" },
        { ...good, project: "p2" },
        { ...good, secret: "a|b" },
        { ...good, secret: "a\r\nx-injected: 1" },
        { ...good, addresses: ["runtime-r3.ns.svc:8000"] },
        { ...good, addresses: ["300.1.1.1:80"] },
        { ...good, addresses: [] },
        { ...good, timeoutMs: 0 },
        { ...good, revision: 1.5 },
        good,
      ] },
      keys: { set: [{ key: "abc/p1", userId: "u", keyId: "k" }, { key: `${sha256hex("x")}/p1`, userId: "u|v", keyId: "k" }] },
    });
    assert.equal(res.routes.set, 1);
    assert.equal(res.keys.set, 0);
    assert.deepEqual(res.errors.map((e) => e.split(":")[0]), [
      ...Array.from({ length: 9 }, (_, i) => `routes.set[${i + 1}]`), "keys.set[1]", "keys.set[2]",
    ]);
    const raw = (body: string) => new Promise<number>((resolve, reject) => {
      const req = request({ socketPath: nginx.child.programSocket, method: "POST", path: "/", agent: false }, (r) => { r.resume(); resolve(r.statusCode ?? 0); });
      req.on("error", reject);
      req.end(body);
    });
    assert.equal(await raw("{not json"), 400);
    assert.equal(await raw("[]"), 200, "an empty batch");
    assert.equal(await raw('{"routes":{"set":[{"key":"\\ud800"}]}}'), 400, "a lone surrogate escape");
    await assert.rejects(new NginxProgramClient({ socketPath: `${nginx.dir}/none.sock` }).send({}), /ENOENT/, "the client reports a socket it cannot reach");
  });
});
