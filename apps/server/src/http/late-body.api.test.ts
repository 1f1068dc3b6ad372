import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * A request is authenticated on its headers; its body may come minutes later (body-pace.ts). What
 * the caller lost meanwhile (its key, its user, its role) must count when the body is in: a write
 * is done with the rights of when it is done, not of when its headers came.
 */
describe("a body that comes after the caller lost access", () => {
  let t: TestControlPlane;
  let project: string;
  before(async () => {
    t = await startTestControlPlane();
    project = await t.project("late-body");
  });
  after(() => t.close());

  /** Sends the headers and the body's first byte now; `finish` sends the rest and gives the answer. */
  const slow = (method: "PUT" | "POST", url: string, key: string, body: unknown) => {
    const text = JSON.stringify(body);
    const stream = new PassThrough();
    const answer = t.cp.app.inject({
      method, url, payload: stream,
      headers: { "x-access-key": key, "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) },
    });
    stream.write(text.slice(0, 1));
    return async () => {
      stream.end(text.slice(1));
      const r = await answer;
      return { status: r.statusCode, json: r.json() as { error?: { code: string } } };
    };
  };
  /** Lets the request reach its body: the headers are authenticated by then. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  it("refuses a key revoked while its body came: no new key minted with it", async () => {
    const bot = await t.user("late-bot", { [project]: "viewer" });
    const keys = await t.call("GET", `/api/v1/users/${bot.id}/access-keys`, { key: bot.key });
    const finish = slow("POST", `/api/v1/users/${bot.id}/access-keys`, bot.key, { expiresInDays: 365 });
    await settle();
    assert.equal((await t.call("DELETE", `/api/v1/access-keys/${keys.json.items[0].id}`)).status, 200);
    const r = await finish();
    assert.equal(r.status, 401, JSON.stringify(r.json));
    const live = (await t.call("GET", `/api/v1/users/${bot.id}/access-keys`)).json.items.filter((k: { revokedAt: string | null }) => k.revokedAt === null);
    assert.equal(live.length, 0, "the revoked key made no other");
  });

  it("acts with the roles of when the body is in: a project owner removed meanwhile makes nobody owner", async () => {
    const owner = await t.user("late-owner", { [project]: "owner" }, "human");
    const friend = await t.user("late-friend", {}, "human");
    const finish = slow("PUT", `/api/v1/projects/${project}/members/${friend.id}`, owner.key, { role: "owner" });
    await settle();
    assert.equal((await t.call("DELETE", `/api/v1/projects/${project}/members/${owner.id}`)).status, 204);
    const r = await finish();
    assert.equal(r.status, 404, JSON.stringify(r.json)); // a project it has no role in is not found
    assert.equal((await t.call("GET", "/api/v1/me", { key: friend.key })).json.roles[project], undefined);
  });

  it("still serves a body that comes late from a caller who kept access", async () => {
    const owner = await t.user("kept-owner", { [project]: "owner" }, "human");
    const friend = await t.user("kept-friend", {}, "human");
    const finish = slow("PUT", `/api/v1/projects/${project}/members/${friend.id}`, owner.key, { role: "viewer" });
    await settle();
    const r = await finish();
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal((await t.call("GET", "/api/v1/me", { key: friend.key })).json.roles[project], "viewer");
  });
});
