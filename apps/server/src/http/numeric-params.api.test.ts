import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { personaChatbot } from "../persona-flow.js";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * Every numeric path and query parameter of the contract (revision, runId, from, to, limit,
 * tail) takes plain decimal digits only: `1e2` is not revision 100, `0x10` not 16, ` 1`, `+1`,
 * `1.0` and an empty value are not 1 or 0. Each is a 400 naming the parameter, never another
 * resource's answer nor a 500.
 */
describe("numeric path and query parameters", () => {
  let t: TestControlPlane;
  let base: string;

  before(async () => {
    t = await startTestControlPlane();
    const p = await t.project("nums");
    assert.equal((await t.call("POST", "/api/v1/bundles", { body: { name: "persona", versionTag: "1", accessLevel: "global", flows: [personaChatbot()] } })).status, 201);
    const d = await t.call("POST", `/api/v1/projects/${p}/deployments`, { body: { displayName: "Nums", bundle: { name: "persona", version: "1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-x" } } });
    assert.equal(d.status, 201, d.text);
    base = `/api/v1/projects/${p}/deployments/${d.json.id as string}`;
    // Revision 2 exists too, so `2.0` or `0x2` answering 200 would show.
    assert.equal((await t.call("PATCH", base, { body: { parameters: { PERSONA: "poet" } } })).status, 200);
  });
  after(() => t?.close());

  const BAD = ["1e2", "1e0", "0x1", "0x2", "1.0", "2.0", "+1", "-1", " 1", "1 ", "", "Infinity", "NaN", "1_0", "١"];

  async function refused(path: string, field: string): Promise<void> {
    const r = await t.call("GET", path);
    assert.equal(r.status, 400, `${path}: ${r.status} ${r.text}`);
    assert.equal(r.json.error.code, "validation_failed", path);
    assert.ok((r.json.error.details as { field: string }[]).some((d) => d.field === field), `${path}: ${r.text}`);
  }

  it("a revision in the path: plain decimal digits, else 400 naming revision", async () => {
    assert.equal((await t.call("GET", `${base}/revisions/2`)).json.revision, 2);
    for (const bad of BAD.filter((b) => b !== "")) await refused(`${base}/revisions/${encodeURIComponent(bad)}`, "revision");
    await refused(`${base}/revisions/100000000000000000000`, "revision");
  });

  it("from and to of a diff, limit of a list, tail of the logs: the same rule", async () => {
    assert.equal((await t.call("GET", `${base}/revisions/diff?from=1&to=2`)).status, 200);
    for (const bad of BAD) {
      const q = encodeURIComponent(bad);
      await refused(`${base}/revisions/diff?from=${q}&to=2`, "from");
      await refused(`${base}/revisions/diff?from=1&to=${q}`, "to");
      await refused(`${base}/revisions?limit=${q}`, "limit");
      await refused(`${base}/runs?limit=${q}`, "limit");
      await refused(`${base}/logs?tail=${q}`, "tail");
    }
    assert.equal((await t.call("GET", `${base}/revisions?limit=1`)).json.items.length, 1);
    assert.equal((await t.call("GET", `${base}/runs?limit=5`)).status, 200);
  });

  it("a run id in the path: plain decimal digits, else 400 naming runId (404 for a well-formed id with no run)", async () => {
    for (const bad of ["1e2", "0x1", "1.0", "+1", "-1", " 1", "abc", "0", "99999999999999999999"]) {
      await refused(`${base}/runs/${encodeURIComponent(bad)}`, "runId");
      await refused(`${base}/runs/${encodeURIComponent(bad)}/trace`, "runId");
    }
    assert.equal((await t.call("GET", `${base}/runs/12345`)).status, 404);
  });
});
