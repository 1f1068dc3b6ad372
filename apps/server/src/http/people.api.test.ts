import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/** Users, members and keys: who may do what (403/404), deactivation and last use. */
describe("people API: role rules, deactivation, last use of keys", () => {
  let t: TestControlPlane;
  let project: string;
  let other: string;
  before(async () => {
    t = await startTestControlPlane();
    project = await t.project("people");
    other = await t.project("people-other");
  });
  after(() => t.close());

  const machine = async (name: string) => {
    const r = await t.call("POST", "/api/v1/users", { body: { name, kind: "machine" } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.deactivatedAt, null);
    return r.json.id as string;
  };

  it("lets only org owners list, create and deactivate users", async () => {
    const owner = await t.user("p-owner", { [project]: "owner" });
    const target = await machine("target");
    assert.equal((await t.call("GET", "/api/v1/users", { key: owner.key })).status, 403);
    assert.equal((await t.call("POST", "/api/v1/users", { key: owner.key, body: { name: "x", kind: "machine" } })).status, 403);
    const refused = await t.call("POST", `/api/v1/users/${target}/deactivate`, { key: owner.key });
    assert.equal(refused.status, 403);
    assert.match(refused.json.error.message, /organisation owner/);
  });

  it("lets project owners and org owners manage members, not editors or viewers, and no one their own role", async () => {
    const owner = await t.user("m-owner", { [project]: "owner" });
    const editor = await t.user("m-editor", { [project]: "editor" }, "machine");
    const viewer = await t.user("m-viewer", { [project]: "viewer" });
    const bot = await machine("member-bot");
    for (const who of [editor, viewer]) {
      const r = await t.call("PUT", `/api/v1/projects/${project}/members/${bot}`, { key: who.key, body: { role: "viewer" } });
      assert.equal(r.status, 403, r.text);
      assert.equal((await t.call("DELETE", `/api/v1/projects/${project}/members/${owner.id}`, { key: who.key })).status, 403);
    }
    // An editor cannot raise itself to owner.
    const escalate = await t.call("PUT", `/api/v1/projects/${project}/members/${editor.id}`, { key: editor.key, body: { role: "owner" } });
    assert.equal(escalate.status, 403);
    assert.equal((await t.call("GET", "/api/v1/me", { key: editor.key })).json.roles[project], "editor");
    // A project owner adds, changes and removes; not in a project it does not own, nor its own role.
    assert.equal((await t.call("PUT", `/api/v1/projects/${project}/members/${bot}`, { key: owner.key, body: { role: "viewer" } })).status, 200);
    const changed = await t.call("PUT", `/api/v1/projects/${project}/members/${bot}`, { key: owner.key, body: { role: "editor" } });
    assert.deepEqual(changed.json, { projectId: project, userId: bot, role: "editor" });
    const listed = await t.call("GET", `/api/v1/projects/${project}/members`, { key: viewer.key });
    assert.equal(listed.json.items.find((m: { userId: string }) => m.userId === bot).role, "editor");
    assert.equal((await t.call("PUT", `/api/v1/projects/${other}/members/${bot}`, { key: owner.key, body: { role: "viewer" } })).status, 404, "a project it has no role in is not found");
    const self = await t.call("PUT", `/api/v1/projects/${project}/members/${owner.id}`, { key: owner.key, body: { role: "viewer" } });
    assert.equal(self.status, 403);
    assert.match(self.json.error.message, /your own role/);
    // Nor removes itself: still an owner afterwards.
    const leave = await t.call("DELETE", `/api/v1/projects/${project}/members/${owner.id}`, { key: owner.key });
    assert.equal(leave.status, 403, leave.text);
    assert.match(leave.json.error.message, /your own role/);
    assert.equal((await t.call("GET", "/api/v1/me", { key: owner.key })).json.roles[project], "owner");
    assert.equal((await t.call("DELETE", `/api/v1/projects/${project}/members/${bot}`, { key: owner.key })).status, 204);
    assert.equal((await t.call("DELETE", `/api/v1/projects/${project}/members/${bot}`, { key: owner.key })).status, 404);
    // The org owner may do all of it.
    assert.equal((await t.call("PUT", `/api/v1/projects/${other}/members/${bot}`, { body: { role: "owner" } })).status, 200);
  });

  it("lets a machine user make keys only for itself, within 1..365 days", async () => {
    const bot = await t.user("key-bot", { [project]: "editor" }, "machine");
    const peer = await machine("peer");
    assert.equal((await t.call("POST", `/api/v1/users/${peer}/access-keys`, { key: bot.key, body: { expiresInDays: 30 } })).status, 404);
    const long = await t.call("POST", `/api/v1/users/${bot.id}/access-keys`, { key: bot.key, body: { expiresInDays: 366 } });
    assert.equal(long.status, 400);
    assert.equal(long.json.error.details[0].field, "expiresInDays");
    const own = await t.call("POST", `/api/v1/users/${bot.id}/access-keys`, { key: bot.key, body: { expiresInDays: 365 } });
    assert.equal(own.status, 201, own.text);
    // Its second key is its last: the harness gave it one already.
    const third = await t.call("POST", `/api/v1/users/${bot.id}/access-keys`, { key: bot.key, body: { expiresInDays: 1 } });
    assert.equal(third.status, 409);
    // Nor may it revoke another user's key.
    const peerKey = (await t.call("POST", `/api/v1/users/${peer}/access-keys`, { body: { expiresInDays: 1 } })).json;
    assert.equal((await t.call("DELETE", `/api/v1/access-keys/${peerKey.id}`, { key: bot.key })).status, 404);
    assert.equal((await t.call("GET", `/api/v1/users/${peer}/access-keys`, { key: bot.key })).status, 404);
  });

  it("records a key's last use, never its value, at most once a minute", async () => {
    const bot = await machine("last-use");
    const k = (await t.call("POST", `/api/v1/users/${bot}/access-keys`, { body: { expiresInDays: 7 } })).json;
    assert.equal(k.lastUsedAt, null);
    const listKey = async () => (await t.call("GET", `/api/v1/users/${bot}/access-keys`)).json.items[0];
    assert.equal((await listKey()).lastUsedAt, null, "never used yet");
    t.clock.now = new Date(Date.now());
    await t.call("GET", "/api/v1/me", { key: k.key });
    const first = (await listKey()).lastUsedAt;
    assert.equal(first, t.clock.now.toISOString());
    t.clock.now = new Date(t.clock.now.getTime() + 10_000);
    await t.call("GET", "/api/v1/me", { key: k.key });
    assert.equal((await listKey()).lastUsedAt, first, "10 s later: not written again");
    t.clock.now = new Date(t.clock.now.getTime() + 61_000);
    await t.call("GET", "/api/v1/me", { key: k.key });
    assert.equal((await listKey()).lastUsedAt, t.clock.now.toISOString());
    const listed = await t.call("GET", `/api/v1/users/${bot}/access-keys`);
    assert.doesNotMatch(listed.text, new RegExp(k.key.slice(3)));
  });

  it("stops a deactivated user's keys at once and refuses new ones", async () => {
    const bot = await t.user("leaver", { [project]: "viewer" }, "machine");
    assert.equal((await t.call("GET", "/api/v1/me", { key: bot.key })).status, 200);
    const d = await t.call("POST", `/api/v1/users/${bot.id}/deactivate`);
    assert.equal(d.status, 200, d.text);
    assert.ok(d.json.deactivatedAt);
    const again = await t.call("POST", `/api/v1/users/${bot.id}/deactivate`);
    assert.equal(again.json.deactivatedAt, d.json.deactivatedAt, "the first deactivation time stays");
    const me = await t.call("GET", "/api/v1/me", { key: bot.key });
    assert.equal(me.status, 401);
    assert.match(me.json.error.message, /deactivated/);
    const k = await t.call("POST", `/api/v1/users/${bot.id}/access-keys`, { body: { expiresInDays: 1 } });
    assert.equal(k.status, 409);
    assert.match(k.json.error.message, /deactivated/);
    const listed = (await t.call("GET", "/api/v1/users?limit=200")).json.items.find((u: { id: string }) => u.id === bot.id);
    assert.equal(listed.deactivatedAt, d.json.deactivatedAt);
    assert.equal((await t.call("POST", "/api/v1/users/nope/deactivate")).status, 404);
  });

  it("keeps the org owner from deactivating themselves", async () => {
    const me = (await t.call("GET", "/api/v1/me")).json;
    const r = await t.call("POST", `/api/v1/users/${me.id}/deactivate`);
    assert.equal(r.status, 409);
    assert.equal((await t.call("GET", "/api/v1/me")).status, 200);
  });
});
