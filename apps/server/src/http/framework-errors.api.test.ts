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
