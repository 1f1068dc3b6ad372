import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { personaChatbot } from "../persona-flow.js";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * A global bundle's defaults are its publisher's to edit (an editor of the project that
 * published it), and other projects deploy it pinned. An edit of the defaults reaches new
 * deployments and a change of version; a pinned deployment of another project keeps the values
 * it runs, also through its own next edit: before, a key rotation there took the publisher's
 * new default with it (a base URL beside an API key would then have sent the key to the publisher).
 */
describe("a version's edited defaults and the deployments pinned to it", () => {
  let t: TestControlPlane;
  let publisher: string;
  let consumer: string;
  before(async () => {
    t = await startTestControlPlane();
    publisher = await t.project("publisher");
    consumer = await t.project("consumer");
  });
  after(() => t.close());

  it("stay with the values they run until their own editors change the version", async () => {
    const pubEditor = await t.user("pub-editor", { [publisher]: "editor" });
    const editor = await t.user("consumer-editor", { [consumer]: "editor" });
    for (const tag of ["v1", "v2"]) {
      const r = await t.call("POST", "/api/v1/bundles", { key: pubEditor.key, body: { name: "shared-persona", versionTag: tag, accessLevel: "global", projectId: publisher, flows: [personaChatbot()], defaults: { PERSONA: "pirate" } } });
      assert.equal(r.status, 201, r.text);
    }
    const base = `/api/v1/projects/${consumer}/deployments`;
    const d = await t.call("POST", base, { key: editor.key, body: { displayName: "Consumer", bundle: { name: "shared-persona", version: "v1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-consumer-one-000000" } } });
    assert.equal(d.status, 201, d.text);
    assert.equal(d.json.parameters.PERSONA, "pirate");

    for (const tag of ["v1", "v2"]) {
      const edited = await t.call("PATCH", `/api/v1/bundles/shared-persona/versions/${tag}`, { key: pubEditor.key, body: { defaults: { PERSONA: "the publisher's" } } });
      assert.equal(edited.status, 200, edited.text);
    }
    const rotated = await t.call("PATCH", `${base}/${d.json.id}`, { key: editor.key, body: { credentials: { OPENAI_API_KEY: "sk-consumer-two-000000" } } });
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal(rotated.json.parameters.PERSONA, "pirate", "the key rotation took the publisher's new default");
    const r2 = await t.call("GET", `${base}/${d.json.id}/revisions/2`, { key: editor.key });
    assert.deepEqual(r2.json.changes, ["credentials.OPENAI_API_KEY"]);

    // Chosen by the deployment's own editor: a change of version, or a new deployment.
    const upgraded = await t.call("PATCH", `${base}/${d.json.id}`, { key: editor.key, body: { bundle: { version: "v2" } } });
    assert.equal(upgraded.status, 200, upgraded.text);
    assert.equal(upgraded.json.parameters.PERSONA, "the publisher's");
    const fresh = await t.call("POST", base, { key: editor.key, body: { displayName: "Fresh", bundle: { name: "shared-persona", version: "v1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-consumer-three-0000" } } });
    assert.equal(fresh.json.parameters.PERSONA, "the publisher's");
  });
});
