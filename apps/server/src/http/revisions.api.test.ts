import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { personaChatbot } from "../persona-flow.js";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

const SECRET = "sk-rev-one-never-shown-0123";
const SECRET2 = "sk-rev-two-never-shown-4567";

describe("revisions API", () => {
  let t: TestControlPlane;
  let p: string;
  let base: string;
  let id: string;
  const rev = (path = "") => `${base}/${id}/revisions${path}`;
  const noSecret = (text: string) => assert.doesNotMatch(text, new RegExp(`${SECRET}|${SECRET2}`));

  before(async () => {
    t = await startTestControlPlane();
    p = await t.project("rev");
    base = `/api/v1/projects/${p}/deployments`;
    for (const tag of ["v1", "v2"]) {
      const r = await t.call("POST", "/api/v1/bundles", { body: { name: "persona", versionTag: tag, accessLevel: "project", allowedProjects: [p], flows: [personaChatbot()], defaults: {} } });
      assert.equal(r.status, 201, r.text);
      assert.ok(r.json.parameters.some((x: { name: string; kind: string }) => x.name === "PERSONA" && x.kind === "plain"), r.text);
    }
    const d = await t.call("POST", base, { body: { displayName: "Rev", bundle: { name: "persona", version: "v1" }, networkAccess: "public",
      credentials: { OPENAI_API_KEY: SECRET }, parameters: { PERSONA: "pirate" } } });
    assert.equal(d.status, 201, d.text);
    id = d.json.id;
    assert.equal(d.json.revision, 1);
  });
  after(() => t.close());

  it("deploy makes revision 1: who, when, what runs; credentials by name only", async () => {
    const list = await t.call("GET", rev());
    assert.equal(list.status, 200, list.text);
    assert.equal(list.json.items.length, 1);
    const r1 = list.json.items[0];
    assert.deepEqual({ n: r1.revision, cause: r1.cause, by: r1.createdBy.name, changes: r1.changes, v: r1.bundle.version, persona: r1.parameters.PERSONA, creds: r1.credentials },
      { n: 1, cause: "deploy", by: "admin", changes: [], v: "v1", persona: "pirate", creds: { OPENAI_API_KEY: "********" } });
    assert.deepEqual(Object.keys(r1.resources), ["cpu", "memory"]);
    noSecret(list.text);
    const events = await t.call("GET", `${base}/${id}/events`);
    assert.match(events.json[0].message, /^revision 1 /);
  });

  it("an edit asked as a dry run (?dryRun=true, which only a deploy takes) is refused, naming the parameter, and changes nothing", async () => {
    const before = (await t.call("GET", `${base}/${id}`)).json;
    const dry = await t.call("PATCH", `${base}/${id}?dryRun=true`, { body: { parameters: { PERSONA: "dry" } } });
    assert.equal(dry.status, 400, dry.text);
    assert.equal(dry.json.error.code, "validation_failed");
    assert.equal(dry.json.error.details[0].field, "dryRun");
    const after = (await t.call("GET", `${base}/${id}`)).json;
    assert.deepEqual({ g: after.generation, r: after.revision, persona: after.parameters.PERSONA }, { g: before.generation, r: before.revision, persona: before.parameters.PERSONA });
  });

  it("an edit of what runs is a new revision naming the fields; scaling is not, and keeps the generation", async () => {
    const edit = await t.call("PATCH", `${base}/${id}`, { body: { credentials: { OPENAI_API_KEY: SECRET2 }, parameters: { PERSONA: "poet" } } });
    assert.equal(edit.status, 200, edit.text);
    assert.deepEqual({ g: edit.json.generation, r: edit.json.revision }, { g: 2, r: 2 });
    const r2 = (await t.call("GET", rev("/2"))).json;
    assert.deepEqual({ cause: r2.cause, changes: r2.changes }, { cause: "edit", changes: ["parameters.PERSONA", "credentials.OPENAI_API_KEY"] });

    const scaled = await t.call("PATCH", `${base}/${id}`, { body: { resources: { replicas: 3 } } });
    assert.equal(scaled.status, 200, scaled.text);
    assert.deepEqual({ g: scaled.json.generation, r: scaled.json.revision, replicas: scaled.json.resources.replicas }, { g: 2, r: 2, replicas: 3 });
    assert.equal((await t.call("GET", rev())).json.items.length, 2, "no revision for scaling");
    const events = (await t.call("GET", `${base}/${id}/events`)).json as { reason: string; message: string }[];
    assert.match(events.at(-1)!.message, /replicas 1 -> 3 \(revision 2 stays; nothing restarts\)/);
    assert.match(events.find((e) => e.reason === "SpecChanged")!.message, /^revision 2 \(generation 2\) by admin/);
    noSecret(JSON.stringify(events));
  });

  it("diffs two revisions: values of plain parameters, names of credentials, version, runtime, CPU/memory", async () => {
    await t.call("PATCH", `${base}/${id}`, { body: { bundle: { version: "v2" }, runtime: { logLevel: "debug" }, resources: { cpu: { limit: "2" } } } });
    const d = await t.call("GET", rev("/diff?from=1&to=3"));
    assert.equal(d.status, 200, d.text);
    assert.deepEqual(d.json, {
      from: 1, to: 3, bundle: { from: "v1", to: "v2" },
      parameters: [{ name: "PERSONA", from: "pirate", to: "poet" }],
      credentials: { added: [], removed: [], changed: ["OPENAI_API_KEY"] },
      runtime: [{ name: "logLevel", from: "info", to: "debug" }],
      resources: [{ name: "cpu.limit", from: "1000m", to: "2" }],
    });
    noSecret(d.text);
    assert.deepEqual((await t.call("GET", rev("/3"))).json.changes, ["bundle.version", "runtime.logLevel", "resources.cpu.limit"]);
    const same = await t.call("GET", rev("/diff?from=2&to=2"));
    assert.deepEqual(same.json.credentials, { added: [], removed: [], changed: [] });
    assert.equal((await t.call("GET", rev("/diff?from=1"))).status, 400);
    assert.match((await t.call("GET", rev("/diff?from=1&to=x"))).text, /to must be a revision number/);
    assert.equal((await t.call("GET", rev("/diff?from=1&to=9"))).status, 404);
    assert.equal((await t.call("GET", rev("/9"))).status, 404);
    assert.equal((await t.call("GET", rev("/abc"))).status, 400);
    const page = await t.call("GET", rev("?limit=2"));
    const next = await t.call("GET", rev(`?limit=2&cursor=${page.json.nextCursor}`));
    assert.deepEqual([...page.json.items, ...next.json.items].map((r: { revision: number }) => r.revision), [3, 2, 1]);
  });

  it("a bad revision number in the path is a 400 naming the path's revision (not the body)", async () => {
    for (const bad of ["abc", "1.5", "0", "-1"]) {
      const r = await t.call("GET", rev(`/${bad}`));
      assert.equal(r.status, 400, `${bad}: ${r.text}`);
      assert.equal(r.json.error.details[0].field, "revision", `${bad}: ${r.text}`);
      assert.doesNotMatch(r.text, /request body/, bad);
    }
  });

  it("rollback: editors only, a clear 4xx for a bad, unknown or current revision, nothing written", async () => {
    const viewer = await t.user("rev-viewer", { [p]: "viewer" });
    const editor = await t.user("rev-editor", { [p]: "editor" });
    assert.equal((await t.call("GET", rev(), { key: viewer.key })).status, 200, "viewers read revisions");
    assert.equal((await t.call("POST", `${base}/${id}/rollback`, { key: viewer.key, body: { revision: 1 } })).status, 403);
    const bad = await t.call("POST", `${base}/${id}/rollback`, { body: { revision: "one" } });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /revision must be a number/, "a string is named as the wrong type, not as missing");
    const missing = await t.call("POST", `${base}/${id}/rollback`, { body: {} });
    assert.equal(missing.status, 400);
    assert.match(missing.text, /revision is required/);
    const unknown = await t.call("POST", `${base}/${id}/rollback`, { body: { revision: 7 } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.text, /"field":"revision".*has no revision 7/);
    const current = await t.call("POST", `${base}/${id}/rollback`, { key: editor.key, body: { revision: 3 } });
    assert.equal(current.status, 409);
    assert.match(current.text, /revision 3 is already the current revision/);
    const d = (await t.call("GET", `${base}/${id}`)).json;
    assert.deepEqual({ g: d.generation, r: d.revision }, { g: 3, r: 3 }, "nothing was written");
  });

  it("rollback restores version, parameters, credentials, runtime and CPU/memory as a new revision and generation; the replica count stays", async () => {
    const editor = await t.user("rev-editor-2", { [p]: "editor" });
    const r = await t.call("POST", `${base}/${id}/rollback`, { key: editor.key, body: { revision: 1 } });
    assert.equal(r.status, 200, r.text);
    noSecret(r.text);
    const d = r.json;
    assert.deepEqual({ g: d.generation, r: d.revision, v: d.bundle.version, persona: d.parameters.PERSONA, log: d.runtime.logLevel, cpu: d.resources.cpu.limit, replicas: d.resources.replicas },
      { g: 4, r: 4, v: "v1", persona: "pirate", log: "info", cpu: "1000m", replicas: 3 });
    assert.deepEqual(t.credentials.open(id, await t.store.getSealedCredentials(id)), { OPENAI_API_KEY: SECRET }, "revision 1's credential is back");
    const r4 = (await t.call("GET", rev("/4"))).json;
    assert.deepEqual({ cause: r4.cause, to: r4.rolledBackTo, by: r4.createdBy.name }, { cause: "rollback", to: 1, by: "rev-editor-2" });
    assert.deepEqual(r4.changes, ["bundle.version", "parameters.PERSONA", "credentials.OPENAI_API_KEY", "runtime.logLevel", "resources.cpu.limit"]);
    const events = (await t.call("GET", `${base}/${id}/events`)).json as { reason: string; message: string }[];
    assert.match(events.at(-1)!.message, /^revision 4 \(generation 4\) by rev-editor-2: rolled back to revision 1/);
    noSecret(JSON.stringify(events));
    // Revision 1 and the current one (4) are now the same: nothing to roll back.
    const identical = await t.call("POST", `${base}/${id}/rollback`, { body: { revision: 1 } });
    assert.equal(identical.status, 409);
    assert.match(identical.text, /identical/);
    // And forward again to revision 3.
    const again = await t.call("POST", `${base}/${id}/rollback`, { body: { revision: 3 } });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual({ r: again.json.revision, v: again.json.bundle.version, persona: again.json.parameters.PERSONA }, { r: 5, v: "v2", persona: "poet" });
    assert.deepEqual(t.credentials.open(id, await t.store.getSealedCredentials(id)), { OPENAI_API_KEY: SECRET2 });
  });

  it("a bad canary share is a 400 naming percent, with or without a canary under way; nothing written", async () => {
    const before = (await t.call("GET", `${base}/${id}`)).json;
    for (const body of [{ percent: 0 }, { percent: 100 }, { percent: -1 }, { percent: 50.5 }, { percent: "50" }, { percent: null }, {}, { percent: 10, extra: 1 }]) {
      const r = await t.call("POST", `${base}/${id}/canary`, { body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.json.error.message, /percent|extra/, r.text);
    }
    const after = (await t.call("GET", `${base}/${id}`)).json;
    assert.equal(after.revision, before.revision);
    assert.deepEqual(after.traffic ?? null, before.traffic ?? null);
    const none = await t.call("POST", `${base}/${id}/canary`, { body: { percent: 10 } });
    assert.equal(none.status, 409, "a good share without a canary is still the state's 409");
  });

  /**
   * Bundle `name` published by a project of its own with versions `tags`, shared with another
   * project (`user`), where it is deployed at the first tag; the deployment's URL.
   */
  const sharedDeployment = async (name: string, tags: [string, string]) => {
    const publisher = await t.project(`${name}-publisher`);
    const q = await t.project(`${name}-user`);
    for (const tag of tags) {
      const r = await t.call("POST", "/api/v1/bundles", { body: { name, versionTag: tag, projectId: publisher, accessLevel: "project", allowedProjects: [publisher, q], flows: [personaChatbot()], defaults: {} } });
      assert.equal(r.status, 201, r.text);
    }
    const d = await t.call("POST", `/api/v1/projects/${q}/deployments`, { body: { displayName: name, bundle: { name, version: tags[0] }, networkAccess: "public", credentials: { OPENAI_API_KEY: SECRET }, parameters: { PERSONA: "pirate" } } });
    assert.equal(d.status, 201, d.text);
    return { publisher, user: q, url: `/api/v1/projects/${q}/deployments/${d.json.id}` };
  };

  it("a rollback to a version its publisher no longer shares with the project is refused (409), nothing written; shared again, it is restored", async () => {
    const { publisher, user, url } = await sharedDeployment("persona-shared", ["s1", "s2"]);
    assert.equal((await t.call("PATCH", url, { body: { bundle: { version: "s2" } } })).status, 200);
    const unshared = await t.call("PATCH", "/api/v1/bundles/persona-shared/versions/s1", { body: { allowedProjects: [publisher] } });
    assert.equal(unshared.status, 200, unshared.text);
    const before = (await t.call("GET", url)).json;
    const refused = await t.call("POST", `${url}/rollback`, { body: { revision: 1 } });
    assert.equal(refused.status, 409, refused.text);
    assert.equal(refused.json.error.message, "revision 1 runs persona-shared@s1, which is no longer shared with this project: it cannot be restored");
    const after = (await t.call("GET", url)).json;
    assert.deepEqual({ g: after.generation, r: after.revision, v: after.bundle.version }, { g: before.generation, r: before.revision, v: "s2" });
    assert.equal((await t.call("GET", `${url}/revisions`)).json.items.length, 2, "no revision written");
    // Shared again, the same rollback goes through.
    assert.equal((await t.call("PATCH", "/api/v1/bundles/persona-shared/versions/s1", { body: { allowedProjects: [publisher, user] } })).status, 200);
    const restored = await t.call("POST", `${url}/rollback`, { body: { revision: 1 } });
    assert.equal(restored.status, 200, restored.text);
    assert.equal(restored.json.bundle.version, "s1");
    // Aborting a canary goes back to what its stable replicas serve now, shared or not: it is never refused for that.
    const canary = await t.call("PATCH", url, { body: { bundle: { version: "s2" }, canary: { percent: 10 } } });
    assert.equal(canary.status, 200, canary.text);
    assert.equal((await t.call("PATCH", "/api/v1/bundles/persona-shared/versions/s1", { body: { allowedProjects: [publisher] } })).status, 200);
    const aborted = await t.call("POST", `${url}/abort`);
    assert.equal(aborted.status, 200, aborted.text);
    assert.equal(aborted.json.bundle.version, "s1");
  });

  it("a canary whose version stops being shared mid-canary is neither promoted nor given a larger share (409, nothing written); aborted, it is", async () => {
    const { publisher, url } = await sharedDeployment("persona-canary", ["c1", "c2"]);
    assert.equal((await t.call("PATCH", url, { body: { bundle: { version: "c2" }, canary: { percent: 10 } } })).status, 200);
    assert.equal((await t.call("PATCH", "/api/v1/bundles/persona-canary/versions/c2", { body: { allowedProjects: [publisher] } })).status, 200);
    const before = (await t.call("GET", url)).json;
    const more = await t.call("POST", `${url}/canary`, { body: { percent: 99 } });
    assert.equal(more.status, 409, more.text);
    const promoted = await t.call("POST", `${url}/promote`);
    assert.equal(promoted.status, 409, promoted.text);
    assert.match(promoted.json.error.message, /persona-canary@c2, which is no longer shared with this project/);
    assert.deepEqual((await t.call("GET", url)).json.traffic, before.traffic, "nothing written");
    assert.equal((await t.call("POST", `${url}/canary`, { body: { percent: 5 } })).status, 200, "a smaller share stays allowed");
    const aborted = await t.call("POST", `${url}/abort`);
    assert.equal(aborted.status, 200, aborted.text);
    assert.equal(aborted.json.bundle.version, "c1");
  });

  it("an edit naming the pinned version its publisher no longer shares is applied as one naming none; a move to an unshared version is refused (400)", async () => {
    const { publisher, url } = await sharedDeployment("persona-pinned", ["p1", "p2"]);
    assert.equal((await t.call("PATCH", "/api/v1/bundles/persona-pinned/versions/p1", { body: { allowedProjects: [publisher] } })).status, 200);
    const edited = await t.call("PATCH", url, { body: { bundle: { version: "p1" }, parameters: { PERSONA: "poet" } } });
    assert.equal(edited.status, 200, edited.text);
    assert.deepEqual({ v: edited.json.bundle.version, r: edited.json.revision, persona: edited.json.parameters.PERSONA }, { v: "p1", r: 2, persona: "poet" });
    assert.equal((await t.call("PATCH", "/api/v1/bundles/persona-pinned/versions/p2", { body: { allowedProjects: [publisher] } })).status, 200);
    const before = (await t.call("GET", url)).json;
    const moved = await t.call("PATCH", url, { body: { bundle: { version: "p2" } } });
    assert.equal(moved.status, 400, moved.text);
    assert.match(moved.text, /persona-pinned@p2 is not shared with this project/);
    assert.equal((await t.call("GET", url)).json.generation, before.generation, "nothing written");
  });

  it("an edit naming the pinned version, replaced meanwhile by another content under its tag that the project is not shared, is refused; the deployment keeps its digest", async () => {
    const { publisher, url } = await sharedDeployment("persona-replaced", ["r1", "r2"]);
    // A move to r2 during which an organisation owner deletes r2 (no deployment pins it yet) and
    // publishes another r2, shared with its publisher alone: the move reads r2's first content and
    // pins its digest, the store holds the second.
    const store = t.store as { getSealedCredentials: (id: string) => Promise<Buffer | null> };
    const read = store.getSealedCredentials.bind(t.store);
    store.getSealedCredentials = async (id) => {
      store.getSealedCredentials = read;
      assert.equal((await t.call("DELETE", "/api/v1/bundles/persona-replaced/versions/r2")).status, 204);
      const other = { ...personaChatbot(), description: "another content" };
      const r = await t.call("POST", "/api/v1/bundles", { body: { name: "persona-replaced", versionTag: "r2", projectId: publisher, accessLevel: "project", allowedProjects: [publisher], flows: [other], defaults: {} } });
      assert.equal(r.status, 201, r.text);
      return read(id);
    };
    const moved = await t.call("PATCH", url, { body: { bundle: { version: "r2" } } });
    assert.equal(moved.status, 200, moved.text);
    const stored = (await t.call("GET", "/api/v1/bundles/persona-replaced/versions/r2")).json;
    assert.notEqual(stored.digest, moved.json.bundle.digest, "the race happened: the deployment pins r2's first content");
    const edited = await t.call("PATCH", url, { body: { bundle: { version: "r2" }, parameters: { PERSONA: "poet" } } });
    assert.equal(edited.status, 400, `an edit naming r2 moved the deployment to r2's new, unshared content (${edited.json?.bundle?.digest === stored.digest ? "it now pins that digest" : edited.text})`);
    assert.match(edited.text, /persona-replaced@r2 is not shared with this project/);
    const unnamed = await t.call("PATCH", url, { body: { parameters: { PERSONA: "poet" } } });
    assert.equal(unnamed.status, 409, unnamed.text);
    assert.match(unnamed.text, /persona-replaced@r2 now holds another content, not shared with this project/);
    assert.equal((await t.call("GET", url)).json.bundle.digest, moved.json.bundle.digest, "nothing written");
  });

  it("an undeployed deployment refuses rollback (409)", async () => {
    assert.equal((await t.call("DELETE", `${base}/${id}`)).status, 202);
    assert.equal((await t.call("POST", `${base}/${id}/rollback`, { body: { revision: 1 } })).status, 409);
  });
});
