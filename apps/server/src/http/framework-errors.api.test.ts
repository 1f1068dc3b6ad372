import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { errorSchema } from "@flowplane/core/api";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/** What the router refuses before any route runs is answered in the one error shape, with a declared status. */
let t: TestControlPlane;
before(async () => { t = await startTestControlPlane(); });
after(() => t?.close());

test("a malformed percent-escape and an overlong path parameter are 400 malformed_request in the error shape (were Fastify's own shape, one a 414)", async () => {
  for (const url of ["/api/v1/projects/%ZZ", "/api/v1/projects/%C0%80/deployments", "/projects/a/apps/b/routes/%ZZ", `/api/v1/projects/${"a".repeat(5000)}`]) {
    const r = await t.call("GET", url);
    assert.equal(r.status, 400, `${url.slice(0, 40)}: ${r.text}`);
    assert.ok(errorSchema.safeParse(r.json).success, r.text);
    assert.equal(r.json.error.code, "malformed_request");
  }
});

test("a path parameter of 200 characters reaches its route (the longest flow id); one of 201 is 400 naming the bound", async () => {
  const [fits, over] = [200, 201].map((n) => `/api/v1/bundles/b/versions/1/flows/${"f".repeat(n)}/graph`);
  const found = await t.call("GET", fits!);
  assert.equal(found.status, 404, found.text);
  assert.equal(found.json.error.code, "not_found");
  const refused = await t.call("GET", over!);
  assert.equal(refused.status, 400, refused.text);
  assert.equal(refused.json.error.code, "malformed_request");
  assert.match(refused.json.error.message, /longer than 200 characters/);
});
