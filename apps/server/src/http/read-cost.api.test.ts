import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createPgliteClient, type SqlClient } from "@flowplane/store";
import { loadFixture } from "@flowplane/testkit";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/** A SqlClient that records every statement it is given (transactions included), then runs it. */
function recording(inner: SqlClient, log: string[]): SqlClient {
  return {
    kind: inner.kind,
    query: (text, params) => (log.push(text.replace(/\s+/g, " ").trim()), inner.query(text, params)),
    exec: (text) => (log.push(text), inner.exec(text)),
    transaction: (fn) => inner.transaction((tx) => fn(recording(tx, log))),
    close: () => inner.close(),
  };
}

/**
 * What one authenticated read costs the database (issue #16): the key, its user and their roles
 * in one statement, the record or page in a second, and a write of the key's last use only when
 * the recorded one is a minute old. The answers when something is missing stay those of
 * checking the project first.
 */
describe("the statements an authenticated read runs", () => {
  let t: TestControlPlane;
  const log: string[] = [];
  let p: string;
  let empty: string;
  let id: string;
  let member: { id: string; key: string };
  before(async () => {
    t = await startTestControlPlane({ sql: recording(await createPgliteClient(), log) });
    p = await t.project("prod");
    empty = await t.project("empty");
    const pub = await t.call("POST", "/api/v1/bundles", { body: { name: "chatbot", versionTag: "v1", accessLevel: "project", allowedProjects: [p], flows: [loadFixture("memory-chatbot")] } });
    assert.equal(pub.status, 201, pub.text);
    const d = await t.call("POST", `/api/v1/projects/${p}/deployments`, {
      body: { displayName: "Support", bundle: { name: "chatbot", version: "v1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-test-0123456789abcdef" } },
    });
    assert.equal(d.status, 201, d.text);
    id = d.json.id;
    member = await t.user("reader", { [p]: "viewer" });
  });
  after(() => t.close());

  /** The statements of one call, and its answer. */
  const traced = async (path: string, key?: string) => {
    log.length = 0;
    const r = await t.call("GET", path, key === undefined ? {} : { key });
    return { r, statements: [...log] };
  };
  const writes = (statements: string[]) => statements.filter((s) => !/^SELECT\b/i.test(s));

  for (const who of ["an org owner", "a project viewer"] as const) {
    it(`a GET of a deployment and a page of deployments by ${who}: two statements each, no write once the key's use is recorded`, async () => {
      const key = who === "an org owner" ? undefined : member.key;
      const get = `/api/v1/projects/${p}/deployments/${id}`;
      const first = await traced(get, key);
      assert.equal(first.r.status, 200, first.r.text);
      // This test's clock stands still: the first call of the run may record the key's use.
      assert.ok(writes(first.statements).every((s) => s.startsWith("UPDATE access_keys SET last_used_at")), first.statements.join("\n"));
      const again = await traced(get, key);
      assert.equal(again.r.status, 200);
      assert.equal(again.r.json.id, id);
      assert.equal(again.statements.length, 2, again.statements.join("\n"));
      assert.deepEqual(writes(again.statements), []);
      const list = await traced(`/api/v1/projects/${p}/deployments?limit=50`, key);
      assert.equal(list.r.status, 200);
      assert.deepEqual(list.r.json.items.map((x: { id: string }) => x.id), [id]);
      assert.equal(list.statements.length, 2, list.statements.join("\n"));
      assert.deepEqual(writes(list.statements), []);
    });
  }

  it("writes a key's last use once a minute, whatever the number of calls", async () => {
    const u = await t.user("busy", { [p]: "viewer" });
    const touches = async () => {
      const { r, statements } = await traced(`/api/v1/projects/${p}/deployments/${id}`, u.key);
      assert.equal(r.status, 200);
      return writes(statements).length;
    };
    assert.equal(await touches(), 1, "never used: recorded");
    // The write is not awaited by the call; the next lookup must see it (one connection: in order).
    const listKey = async () => (await t.call("GET", `/api/v1/users/${u.id}/access-keys`)).json.items[0].lastUsedAt as string | null;
    assert.equal(await listKey(), t.clock.now.toISOString());
    const start = t.clock.now;
    try {
      t.clock.now = new Date(start.getTime() + 59_000);
      assert.equal(await touches(), 0, "59 s later: no statement");
      assert.equal(await listKey(), start.toISOString());
      t.clock.now = new Date(start.getTime() + 61_000);
      assert.equal(await touches(), 1, "61 s later: recorded again");
      assert.equal(await listKey(), t.clock.now.toISOString());
    } finally {
      t.clock.now = start;
    }
  });

  it("still says which of the project and the deployment is missing", async () => {
    const unknownProject = "00000000-0000-4000-8000-000000000000";
    const a = await t.call("GET", `/api/v1/projects/${unknownProject}/deployments/${id}`);
    assert.equal(a.status, 404);
    assert.match(a.json.error.message, /^project .* not found$/);
    const b = await t.call("GET", `/api/v1/projects/${empty}/deployments/${id}`);
    assert.equal(b.status, 404, "a deployment of another project is not found in this one");
    assert.match(b.json.error.message, /^deployment .* not found in project/);
    const c = await t.call("GET", `/api/v1/projects/${p}/deployments/${id}`, { key: (await t.user("outsider")).key });
    assert.equal(c.status, 404);
    assert.match(c.json.error.message, /^project .* not found$/, "a project the caller has no role in is not leaked");
    assert.equal((await t.call("GET", `/api/v1/projects/${unknownProject}/deployments`)).status, 404);
    assert.equal((await t.call("GET", `/api/v1/projects/${unknownProject}/deployments?cursor=garbage!`)).status, 404, "an unknown project before a bad cursor");
    assert.equal((await t.call("GET", `/api/v1/projects/${p}/deployments?cursor=garbage!`)).status, 400);
    const e = await t.call("GET", `/api/v1/projects/${empty}/deployments`);
    assert.equal(e.status, 200);
    assert.deepEqual(e.json.items, []);
  });
});
