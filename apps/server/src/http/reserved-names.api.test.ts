import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { prepareVersion } from "@flowplane/core";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * The NODE_OPTIONS attack: a bundle variable, a publish-time default, a deploy value or an
 * edit that would set an environment variable steering the replica's process. Each path is
 * refused with the reason and the name, and nothing is written.
 */
const EVIL = "--require=/tmp/evil.js";
const flowWith = (variable: string, id = "f1") => ({
  id, name: `flow ${id}`,
  data: { nodes: [{ id: "T-1", data: { type: "TextInput", node: { template: { text: { load_from_db: true, value: variable } } } } }], edges: [] },
});

describe("reserved parameter names", () => {
  let t: TestControlPlane;
  let P: string;
  let base: string;
  before(async () => {
    t = await startTestControlPlane();
    P = await t.project("reserved");
    base = `/api/v1/projects/${P}/deployments`;
    const ok = await t.call("POST", "/api/v1/bundles", { body: { name: "plain", versionTag: "1", accessLevel: "project", allowedProjects: [P], flows: [flowWith("MODE")] } });
    assert.equal(ok.status, 201, ok.text);
  });
  after(() => t.close());

  const state = async () => JSON.stringify([
    (await t.call("GET", "/api/v1/bundles?limit=200")).json.items,
    (await t.call("GET", `${base}?limit=200`)).json.items,
  ]);

  it("refuses a flow that binds NODE_OPTIONS at publish (422 naming flow, node and field), even with a default", async () => {
    const before = await state();
    const r = await t.call("POST", "/api/v1/bundles", { body: {
      name: "evil", versionTag: "1", accessLevel: "project", allowedProjects: [P], flows: [flowWith("NODE_OPTIONS", "evil-flow")], defaults: { NODE_OPTIONS: EVIL } } });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.error.code, "unprocessable_flow");
    assert.match(r.json.error.message, /flow "flow evil-flow" \(evil-flow\), node T-1, field text: "NODE_OPTIONS" is reserved/);
    assert.deepEqual(r.json.error.details, [{ flowId: "evil-flow", nodeId: "T-1", field: "text", variable: "NODE_OPTIONS" }]);
    assert.equal(await state(), before);
  });

  it("refuses a publish-time default or a version edit naming NODE_OPTIONS (400, defaults.NODE_OPTIONS)", async () => {
    const before = await state();
    const pub = await t.call("POST", "/api/v1/bundles", { body: {
      name: "evil2", versionTag: "1", accessLevel: "project", allowedProjects: [P], flows: [flowWith("MODE")], defaults: { NODE_OPTIONS: EVIL } } });
    assert.equal(pub.status, 400, pub.text);
    assert.deepEqual(pub.json.error.details.map((d: { field: string }) => d.field), ["defaults.NODE_OPTIONS"]);
    assert.match(pub.json.error.message, /reserved/);
    const edit = await t.call("PATCH", "/api/v1/bundles/plain/versions/1", { body: { defaults: { NODE_OPTIONS: EVIL, MODE: "fast" } } });
    assert.equal(edit.status, 400, edit.text);
    assert.deepEqual(edit.json.error.details.map((d: { field: string }) => d.field), ["defaults.NODE_OPTIONS"]);
    assert.equal(await state(), before);
  });

  it("refuses NODE_OPTIONS as a deploy value and in the dry run alike (400, parameters.NODE_OPTIONS / credentials.X)", async () => {
    const before = await state();
    for (const [where, values] of [["parameters", { NODE_OPTIONS: EVIL }], ["credentials", { LD_PRELOAD: "/tmp/x.so" }]] as const) {
      const body = { displayName: "evil", bundle: { name: "plain", version: "1" }, networkAccess: "private", [where]: values };
      const dry = await t.call("POST", `${base}?dryRun=true&step=credentials`, { body });
      assert.equal(dry.status, 200, dry.text);
      assert.equal(dry.json.valid, false);
      const field = `${where}.${Object.keys(values)[0]}`;
      assert.deepEqual(dry.json.errors.map((e: { field: string }) => e.field), [field]);
      const real = await t.call("POST", base, { body });
      assert.equal(real.status, 400, real.text);
      assert.deepEqual(real.json.error.details.map((e: { field: string }) => e.field), [field]);
      assert.match(real.json.error.message, /reserved/);
    }
    assert.equal(await state(), before);
  });

  it("refuses NODE_OPTIONS in a deployment edit, leaving the deployment as it was", async () => {
    const d = await t.call("POST", base, { body: { displayName: "good", bundle: { name: "plain", version: "1" }, networkAccess: "private", parameters: { MODE: "a" } } });
    assert.equal(d.status, 201, d.text);
    const url = `${base}/${d.json.id}`;
    const r = await t.call("PATCH", url, { body: { parameters: { NODE_OPTIONS: EVIL, MODE: "b" } } });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.json.error.details.map((e: { field: string }) => e.field), ["parameters.NODE_OPTIONS"]);
    const after = await t.call("GET", url);
    assert.equal(after.json.generation, 1);
    assert.deepEqual(after.json.parameters, { MODE: "a" });
    assert.equal((await t.call("GET", `${url}/events`)).json.length, 1);
  });

  it("refuses to deploy a version stored before the rule, naming its reserved parameter", async () => {
    // Written straight to the store, as an older flowplane would have accepted it.
    const legacy = prepareVersion({ name: "legacy", versionTag: "1", accessLevel: "project", allowedProjects: [P], flows: [flowWith("MODE")] }, "org-owner");
    legacy.parameters = [{ name: "NODE_OPTIONS", kind: "plain", default: EVIL, usedBy: [{ flowId: "f1", nodeId: "T-1", field: "text" }] }];
    await t.store.insertVersion(legacy);
    const before = await state();
    const r = await t.call("POST", base, { body: { displayName: "legacy", bundle: { name: "legacy", version: "1" }, networkAccess: "private" } });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.json.error.details.map((e: { field: string }) => e.field), ["parameters.NODE_OPTIONS"]);
    assert.doesNotMatch(r.text, /evil\.js/);
    assert.equal(await state(), before);
  });
});
