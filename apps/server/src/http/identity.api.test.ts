import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

describe("identity API: users and access keys", () => {
  let t: TestControlPlane;
  before(async () => {
    t = await startTestControlPlane();
  });
  after(() => t.close());

  const newUser = async (kind: "human" | "machine") => {
    const r = await t.call("POST", "/api/v1/users", { body: { name: `${kind}-user`, kind } });
    assert.equal(r.status, 201, r.text);
    return r.json.id as string;
  };

  it("issues a key once, stores only its hash, and accepts it as x-access-key or Bearer", async () => {
    const id = await newUser("machine");
    const r = await t.call("POST", `/api/v1/users/${id}/access-keys`, { body: { expiresInDays: 30 } });
    assert.equal(r.status, 201, r.text);
    const key: string = r.json.key;
    assert.match(key, /^fp_[A-Za-z0-9_-]{43}$/, "32 random bytes");
    assert.ok(Date.parse(r.json.expiresAt) - Date.now() > 29 * 86_400_000);
    const rows = await t.sql.query("SELECT * FROM access_keys WHERE id = $1", [r.json.id]);
    assert.doesNotMatch(JSON.stringify(rows.rows), new RegExp(key.slice(3)));
    const listed = await t.call("GET", `/api/v1/users/${id}/access-keys`);
    assert.doesNotMatch(listed.text, new RegExp(key.slice(3)));
    assert.equal((await t.call("GET", "/api/v1/me", { key })).json.id, id);
    assert.equal((await t.call("GET", "/api/v1/me", { key: null, headers: { authorization: `Bearer ${key}` } })).json.id, id);
  });

  it("allows two live keys for a machine user and one for a human", async () => {
    const m = await newUser("machine");
    for (let i = 0; i < 2; i++) assert.equal((await t.call("POST", `/api/v1/users/${m}/access-keys`, { body: { expiresInDays: 1 } })).status, 201);
    const third = await t.call("POST", `/api/v1/users/${m}/access-keys`, { body: { expiresInDays: 1 } });
    assert.equal(third.status, 409);
    assert.match(third.json.error.message, /revoke one first/);
    const h = await newUser("human");
    assert.equal((await t.call("POST", `/api/v1/users/${h}/access-keys`, { body: { expiresInDays: 365 } })).status, 201);
    assert.equal((await t.call("POST", `/api/v1/users/${h}/access-keys`, { body: { expiresInDays: 365 } })).status, 409);
  });

  it("bounds expiry to 1..365 days", async () => {
    const m = await newUser("machine");
    for (const bad of [0, 366, 1.5, "30"]) {
      const r = await t.call("POST", `/api/v1/users/${m}/access-keys`, { body: { expiresInDays: bad } });
      assert.equal(r.status, 400, String(bad));
      assert.equal(r.json.error.details[0].field, "expiresInDays");
    }
  });

  it("refuses expired and revoked keys with 401", async () => {
    const m = await newUser("machine");
    const a = (await t.call("POST", `/api/v1/users/${m}/access-keys`, { body: { expiresInDays: 1 } })).json;
    const b = (await t.call("POST", `/api/v1/users/${m}/access-keys`, { body: { expiresInDays: 3 } })).json;
    assert.equal((await t.call("GET", "/api/v1/me", { key: a.key })).status, 200);
    const revoked = await t.call("DELETE", `/api/v1/access-keys/${a.id}`, { key: a.key });
    assert.equal(revoked.status, 200, "a user may revoke their own key");
    assert.ok(revoked.json.revokedAt);
    const gone = await t.call("GET", "/api/v1/me", { key: a.key });
    assert.equal(gone.status, 401);
    assert.equal(gone.json.error.code, "unauthenticated");
    t.clock.now = new Date(Date.now() + 4 * 86_400_000);
    try {
      assert.equal((await t.call("GET", "/api/v1/me", { key: b.key })).status, 401);
    } finally {
      t.clock.now = new Date();
    }
    assert.equal((await t.call("GET", "/api/v1/me", { key: null })).status, 401);
    assert.equal((await t.call("GET", "/api/v1/me", { key: "fp_made-up" })).status, 401);
  });

  it("answers unknown endpoints with the one error shape, and serves the OpenAPI document without a key", async () => {
    const r = await t.call("GET", "/api/v1/nowhere");
    assert.equal(r.status, 404);
    assert.deepEqual(Object.keys(r.json.error).sort(), ["code", "message"]);
    const doc = await t.call("GET", "/api/v1/openapi.json", { key: null });
    assert.equal(doc.status, 200);
    assert.equal(doc.json.openapi, "3.1.0");
    for (const path of ["/api/v1/projects", "/api/v1/projects/{projectId}/members/{userId}", "/api/v1/users", "/api/v1/users/{userId}/access-keys",
      "/api/v1/access-keys/{keyId}", "/api/v1/bundles", "/api/v1/bundles/{name}", "/api/v1/bundles/{name}/versions/{tag}",
      "/api/v1/projects/{projectId}/deployments", "/api/v1/projects/{projectId}/deployments/{id}", "/api/v1/projects/{projectId}/deployments/{id}/events"]) {
      assert.ok(doc.json.paths[path], path);
    }
    // generated from the schemas the server validates with: the publish body lists what it requires
    const publish = doc.json.paths["/api/v1/bundles"].post.requestBody.content["application/json"].schema;
    assert.deepEqual([...publish.required].sort(), ["accessLevel", "flows", "name", "versionTag"]);
    assert.equal(publish.properties.name.maxLength, 64);
    const deploy = doc.json.paths["/api/v1/projects/{projectId}/deployments"].post;
    assert.ok(deploy.parameters.some((p: { name: string }) => p.name === "dryRun"));
    assert.equal(deploy.requestBody.content["application/json"].schema.properties.resources.properties.replicas.maximum, 5);
  });
});
