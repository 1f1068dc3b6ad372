import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { personaChatbot } from "../persona-flow.js";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * Names one team creates and others read (in the web UI, and in their terminals through the
 * CLI): no control characters (ESC starts terminal escape sequences, a newline forges table
 * rows), no bidirectional overrides. A 400 naming the field; nothing is written.
 */
describe("names others see: no control characters, no bidirectional overrides", () => {
  let t: TestControlPlane;
  let p: string;
  const BAD = ["\u001b]0;pwned\u0007x", "\u001b[31mred", "two\nlines", "tab\there", "\u202eevil", "a\u2066b", "bell\u0007", "del\u007f", "c1\u009b"];

  before(async () => {
    t = await startTestControlPlane();
    p = await t.project("names");
    assert.equal((await t.call("POST", "/api/v1/bundles", { body: { name: "persona", versionTag: "1", accessLevel: "global", flows: [personaChatbot()] } })).status, 201);
  });
  after(() => t?.close());

  const refused = (r: { status: number; json: { error: { details?: { field: string }[] } }; text: string }, field: string) => {
    assert.equal(r.status, 400, r.text);
    assert.ok(r.json.error.details?.some((d) => d.field === field), r.text);
  };

  it("project, user and deployment names", async () => {
    const projects = (await t.call("GET", "/api/v1/projects")).json.items.length as number;
    for (const name of BAD) {
      refused(await t.call("POST", "/api/v1/projects", { body: { name } }), "name");
      refused(await t.call("POST", "/api/v1/users", { body: { name, kind: "human" } }), "name");
      refused(await t.call("POST", `/api/v1/projects/${p}/deployments`, { body: { displayName: name, bundle: { name: "persona", version: "1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-x" } } }), "displayName");
    }
    assert.equal((await t.call("GET", "/api/v1/projects")).json.items.length, projects, "nothing written");
    // Any other Unicode is fine.
    assert.equal((await t.call("POST", "/api/v1/projects", { body: { name: "équipe données 数据 🚀" } })).status, 201);
  });

  it("bundle names and version tags (global ones are read by everyone), and the path segments . and ..", async () => {
    const publish = (name: string, versionTag: string) => t.call("POST", "/api/v1/bundles", { body: { name, versionTag, accessLevel: "global", flows: [personaChatbot()] } });
    const bundles = (await t.call("GET", "/api/v1/bundles")).json.items.length as number;
    for (const bad of [...BAD, "\u2028sep", ".", ".."]) {
      refused(await publish(bad, "1"), "name");
      refused(await publish("fine-name", bad), "versionTag");
    }
    assert.equal((await t.call("GET", "/api/v1/bundles")).json.items.length, bundles, "nothing written");
    assert.equal((await publish("équipe.v2 数据", "1.0.0-rc.1")).status, 201, "dots inside a name, and any other Unicode, are fine");
  });

  it("invisible characters and look-alike letters: refused in every name, mixed scripts and compatibility letters in a global bundle name; nothing written", async () => {
    const publish = (name: string, versionTag = "1") => t.call("POST", "/api/v1/bundles", { body: { name, versionTag, accessLevel: "global", flows: [personaChatbot()] } });
    const bundles = (await t.call("GET", "/api/v1/bundles")).json.items.length as number;
    const projects = (await t.call("GET", "/api/v1/projects")).json.items.length as number;
    // "persona" published in before(): the same name with a zero-width space, a no-break space,
    // a Cyrillic "о", fullwidth letters, or decomposed, would list as "persona" beside it.
    for (const lookAlike of ["per\u200Bsona", "persona\u00A0x", "pers\u043Ena", "ｐｅｒｓｏｎａ", "persona\u2060", "perso\u0301na"]) {
      refused(await publish(lookAlike), "name");
    }
    refused(await publish("persona-2", "1\u200B"), "versionTag");
    for (const name of ["team\u200B", "my\u00A0team", "\uE000team"]) {
      refused(await t.call("POST", "/api/v1/projects", { body: { name } }), "name");
      refused(await t.call("POST", `/api/v1/projects/${p}/deployments`, { body: { displayName: name, bundle: { name: "persona", version: "1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-x" } } }), "displayName");
    }
    assert.equal((await t.call("GET", "/api/v1/bundles")).json.items.length, bundles, "no bundle written");
    assert.equal((await t.call("GET", "/api/v1/projects")).json.items.length, projects, "no project written");
    // A name typed decomposed is stored composed: one name, one spelling.
    const created = await t.call("POST", "/api/v1/projects", { body: { name: "e\u0301quipe" } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.name, "\u00E9quipe");
    assert.equal((await publish("客服 bot 👩‍💻")).status, 201, "Latin with Han, and joined emoji, are fine");
  });

  it("a bundle's description: newlines and tabs kept, other control characters refused", async () => {
    const publish = (versionTag: string, description: string) => t.call("POST", "/api/v1/bundles", { body: { name: "persona", versionTag, accessLevel: "global", description, flows: [personaChatbot()] } });
    refused(await publish("2", "hi \u001b[2J cleared"), "description");
    refused(await publish("2", "\u202eevil"), "description");
    assert.equal((await publish("3", "line one\n\tline two")).status, 201);
  });
});
