import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * The whole role x action matrix. Actors: the org owner, the project's owner, editor and
 * viewer, an outsider (owner of another project) and an anonymous caller. Each action runs
 * on fresh objects made by the org owner, so one cell never depends on another.
 */
type Actor = "org" | "owner" | "editor" | "viewer" | "outsider" | "anonymous";
const ACTORS: Actor[] = ["org", "owner", "editor", "viewer", "outsider", "anonymous"];

describe("authorization matrix", () => {
  let t: TestControlPlane;
  let P: string;
  let Q: string;
  const keys = {} as Record<Actor, string | null>;
  let n = 0;

  before(async () => {
    t = await startTestControlPlane();
    P = await t.project("matrix");
    Q = await t.project("elsewhere");
    keys.org = t.ownerKey;
    keys.owner = (await t.user("owner", { [P]: "owner" }, "human")).key;
    keys.editor = (await t.user("editor", { [P]: "editor" })).key;
    keys.viewer = (await t.user("viewer", { [P]: "viewer" })).key;
    keys.outsider = (await t.user("outsider", { [Q]: "owner" })).key;
    keys.anonymous = null;
  });
  after(() => t.close());

  const flows = () => [loadFixture("simple-api-test")];
  const bundle = async () => {
    const name = `b${++n}`;
    const r = await t.call("POST", "/api/v1/bundles", { body: { name, versionTag: "1", accessLevel: "project", allowedProjects: [P], flows: flows() } });
    assert.equal(r.status, 201, r.text);
    return name;
  };
  const deployment = async () => {
    const name = await bundle();
    const r = await t.call("POST", `/api/v1/projects/${P}/deployments`, { body: { displayName: `d${n}`, bundle: { name, version: "1" }, networkAccess: "private" } });
    assert.equal(r.status, 201, r.text);
    return `/api/v1/projects/${P}/deployments/${r.json.id}`;
  };
  // A global bundle published by the project's editor on behalf of the project, with a plain parameter.
  const plainFlow = { id: "plain", name: "plain", data: { nodes: [{ id: "T", data: { type: "TextInput", node: { template: {
    mode: { load_from_db: true, value: "MODE" } } } } }], edges: [] } };
  const globalBundle = async () => {
    const name = `g${++n}`;
    const r = await t.call("POST", "/api/v1/bundles", { key: keys.editor, body: { name, versionTag: "1", accessLevel: "global", projectId: P, flows: [plainFlow] } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.projectId, P);
    return name;
  };
  const deployBody = async () => ({ displayName: "x", bundle: { name: await bundle(), version: "1" }, networkAccess: "public" });

  type Action = (key: string | null) => Promise<number>;
  const call = (method: string, url: string, body?: unknown): Action => async (key) => (await t.call(method, url, { key, ...(body !== undefined ? { body } : {}) })).status;

  const matrix: [string, Action | (() => Promise<Action>), Record<Actor, number>][] = [
    ["list projects", call("GET", "/api/v1/projects"), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 200, anonymous: 401 }],
    ["get project", () => Promise.resolve(call("GET", `/api/v1/projects/${P}`)), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 404, anonymous: 401 }],
    ["create project", async () => call("POST", "/api/v1/projects", { name: `p${++n}` }), { org: 201, owner: 403, editor: 403, viewer: 403, outsider: 403, anonymous: 401 }],
    ["list members", async () => call("GET", `/api/v1/projects/${P}/members`), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 404, anonymous: 401 }],
    ["set a member's role", async () => {
      const u = await t.user(`m${++n}`);
      return call("PUT", `/api/v1/projects/${P}/members/${u.id}`, { role: "viewer" });
    }, { org: 200, owner: 200, editor: 403, viewer: 403, outsider: 404, anonymous: 401 }],
    ["create a user", async () => call("POST", "/api/v1/users", { name: `u${++n}`, kind: "machine" }), { org: 201, owner: 403, editor: 403, viewer: 403, outsider: 403, anonymous: 401 }],
    ["create another user's key", async () => {
      const u = await t.store.createUser({ id: `k${++n}`, name: "k", kind: "machine", orgOwner: false });
      return call("POST", `/api/v1/users/${u.id}/access-keys`, { expiresInDays: 30 });
    }, { org: 201, owner: 404, editor: 404, viewer: 404, outsider: 404, anonymous: 401 }],
    ["revoke another user's key", async () => {
      const u = await t.user(`r${++n}`);
      const keysOf = await t.store.listKeys(u.id);
      return call("DELETE", `/api/v1/access-keys/${keysOf[0]!.id}`);
    }, { org: 200, owner: 404, editor: 404, viewer: 404, outsider: 404, anonymous: 401 }],
    ["publish a bundle shared with the project", async () => call("POST", "/api/v1/bundles", { name: `pub${++n}`, versionTag: "1", accessLevel: "project", allowedProjects: [P], flows: flows() }),
      { org: 201, owner: 201, editor: 201, viewer: 403, outsider: 403, anonymous: 401 }],
    ["get the project's bundle version", async () => call("GET", `/api/v1/bundles/${await bundle()}/versions/1`), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 404, anonymous: 401 }],
    ["edit the project's bundle version", async () => call("PATCH", `/api/v1/bundles/${await bundle()}/versions/1`, { description: "d" }), { org: 200, owner: 200, editor: 200, viewer: 403, outsider: 404, anonymous: 401 }],
    ["delete the project's bundle version", async () => call("DELETE", `/api/v1/bundles/${await bundle()}/versions/1`), { org: 204, owner: 403, editor: 403, viewer: 403, outsider: 404, anonymous: 401 }],
    // Global visibility grants no management: only the publishing project's owners and editors (and org owners).
    ["publish a global bundle for the project", async () => call("POST", "/api/v1/bundles", { name: `gp${++n}`, versionTag: "1", accessLevel: "global", projectId: P, flows: flows() }),
      { org: 201, owner: 201, editor: 201, viewer: 403, outsider: 403, anonymous: 401 }],
    // A bundle's name belongs to its publishing project: another team may not add a version (and so become its `latest`).
    ["add a version to a global bundle", async () => call("POST", "/api/v1/bundles", { name: await globalBundle(), versionTag: "2", accessLevel: "global", projectId: P, flows: [plainFlow] }),
      { org: 201, owner: 201, editor: 201, viewer: 403, outsider: 403, anonymous: 401 }],
    ["add a version to a global bundle, publishing for another project", async () => call("POST", "/api/v1/bundles", { name: await globalBundle(), versionTag: "2", accessLevel: "global", projectId: Q, flows: [plainFlow] }),
      { org: 201, owner: 403, editor: 403, viewer: 403, outsider: 403, anonymous: 401 }],
    ["get a global bundle version", async () => call("GET", `/api/v1/bundles/${await globalBundle()}/versions/1`), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 200, anonymous: 401 }],
    ["change a global bundle's access", async () => call("PATCH", `/api/v1/bundles/${await globalBundle()}/versions/1`, { accessLevel: "project", allowedProjects: [P] }),
      { org: 200, owner: 200, editor: 200, viewer: 403, outsider: 403, anonymous: 401 }],
    ["change a global bundle's description", async () => call("PATCH", `/api/v1/bundles/${await globalBundle()}/versions/1`, { description: "mine now" }),
      { org: 200, owner: 200, editor: 200, viewer: 403, outsider: 403, anonymous: 401 }],
    ["change a global bundle's defaults", async () => call("PATCH", `/api/v1/bundles/${await globalBundle()}/versions/1`, { defaults: { MODE: "x" } }),
      { org: 200, owner: 200, editor: 200, viewer: 403, outsider: 403, anonymous: 401 }],
    ["delete a global bundle version", async () => call("DELETE", `/api/v1/bundles/${await globalBundle()}/versions/1`), { org: 204, owner: 403, editor: 403, viewer: 403, outsider: 403, anonymous: 401 }],
    ["list deployments", async () => call("GET", `/api/v1/projects/${P}/deployments`), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 404, anonymous: 401 }],
    ["deploy", async () => call("POST", `/api/v1/projects/${P}/deployments`, await deployBody()), { org: 201, owner: 201, editor: 201, viewer: 403, outsider: 404, anonymous: 401 }],
    ["validate a deploy step (dry run)", async () => call("POST", `/api/v1/projects/${P}/deployments?dryRun=true&step=configure`, await deployBody()), { org: 200, owner: 200, editor: 200, viewer: 403, outsider: 404, anonymous: 401 }],
    ["get a deployment", async () => call("GET", await deployment()), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 404, anonymous: 401 }],
    ["read a deployment's events", async () => call("GET", `${await deployment()}/events`), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 404, anonymous: 401 }],
    ["edit a deployment", async () => call("PATCH", await deployment(), { resources: { replicas: 2 } }), { org: 200, owner: 200, editor: 200, viewer: 403, outsider: 404, anonymous: 401 }],
    ["undeploy", async () => call("DELETE", await deployment()), { org: 202, owner: 202, editor: 403, viewer: 403, outsider: 404, anonymous: 401 }],
    ["list a deployment's revisions", async () => call("GET", `${await deployment()}/revisions`), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 404, anonymous: 401 }],
    ["diff two revisions", async () => call("GET", `${await deployment()}/revisions/diff?from=1&to=1`), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 404, anonymous: 401 }],
    // Roles as for an edit.
    ["roll back a deployment", async () => {
      const url = await deployment();
      assert.equal((await t.call("PATCH", url, { body: { runtime: { logLevel: "debug" } } })).status, 200);
      return call("POST", `${url}/rollback`, { revision: 1 });
    }, { org: 200, owner: 200, editor: 200, viewer: 403, outsider: 404, anonymous: 401 }],
  ];

  for (const [name, make, expected] of matrix) {
    it(name, async () => {
      const got = {} as Record<Actor, number>;
      for (const actor of ACTORS) {
        const action = make.length === 0 ? await (make as () => Promise<Action>)() : (make as Action);
        got[actor] = await action(keys[actor]);
      }
      assert.deepEqual(got, expected);
    });
  }

  it("keeps a global bundle another team pins out of that team's hands", async () => {
    const name = await globalBundle();
    const r = await t.call("POST", `/api/v1/projects/${Q}/deployments`, { key: keys.outsider, body: { displayName: "pinned", bundle: { name, version: "1" }, networkAccess: "private" } });
    assert.equal(r.status, 201, r.text);
    for (const body of [{ accessLevel: "project", allowedProjects: [Q] }, { defaults: { MODE: "evil" } }, { description: "taken" }]) {
      const patch = await t.call("PATCH", `/api/v1/bundles/${name}/versions/1`, { key: keys.outsider, body });
      assert.equal(patch.status, 403, JSON.stringify(body));
      assert.match(patch.json.error.message, new RegExp(`project ${P}`));
    }
    assert.equal((await t.call("DELETE", `/api/v1/bundles/${name}/versions/1`, { key: keys.outsider })).status, 403);
    const v = await t.call("GET", `/api/v1/bundles/${name}/versions/1`, { key: keys.outsider });
    assert.equal(v.json.accessLevel, "global");
    assert.equal(v.json.description, "");
    assert.equal(v.json.parameters[0].default, undefined);
  });

  it("publishes a global bundle on behalf of the caller's only editor project, and asks when there are several", async () => {
    const solo = await t.call("POST", "/api/v1/bundles", { key: keys.editor, body: { name: `solo${++n}`, versionTag: "1", accessLevel: "global", flows: flows() } });
    assert.equal(solo.status, 201, solo.text);
    assert.equal(solo.json.projectId, P);
    const Q2 = await t.project(`second${++n}`);
    const multi = await t.user(`multi${n}`, { [P]: "editor", [Q2]: "owner" });
    const ask = await t.call("POST", "/api/v1/bundles", { key: multi.key, body: { name: `multi${n}`, versionTag: "1", accessLevel: "global", flows: flows() } });
    assert.equal(ask.status, 400);
    assert.equal(ask.json.error.details[0].field, "projectId");
    const notThere = await t.call("POST", "/api/v1/bundles", { key: keys.editor, body: { name: `nt${n}`, versionTag: "1", accessLevel: "global", projectId: Q, flows: flows() } });
    assert.equal(notThere.status, 403);
    assert.equal((await t.call("GET", `/api/v1/bundles/nt${n}`)).status, 404);
  });

  it("tells an outsider nothing of a project's existence when it shares a bundle with it", async () => {
    // The same 403 for a project that exists (P, where the outsider has no role) and one that does not.
    const missing = "00000000-0000-4000-8000-000000000000";
    const shareWith = async (target: string) => (await t.call("POST", "/api/v1/bundles", { key: keys.outsider,
      body: { name: `share${++n}`, versionTag: "1", accessLevel: "project", projectId: Q, allowedProjects: [Q, target], flows: flows() } }));
    const [there, notThere] = [await shareWith(P), await shareWith(missing)];
    assert.deepEqual([there.status, notThere.status], [403, 403], notThere.text);
    assert.doesNotMatch(notThere.text, /does not exist/);
    const mine = (await t.call("POST", "/api/v1/bundles", { key: keys.outsider,
      body: { name: `share${++n}`, versionTag: "1", accessLevel: "project", projectId: Q, allowedProjects: [Q], flows: flows() } })).json.name as string;
    const edits = await Promise.all([P, missing].map(async (target) =>
      (await t.call("PATCH", `/api/v1/bundles/${mine}/versions/1`, { key: keys.outsider, body: { allowedProjects: [Q, target] } })).status));
    assert.deepEqual(edits, [403, 403]);
    // An org owner, who may share with any project, still learns which one is missing.
    const org = await t.call("PATCH", `/api/v1/bundles/${mine}/versions/1`, { body: { allowedProjects: [Q, missing] } });
    assert.equal(org.status, 400);
    assert.match(org.text, /does not exist/);
  });

  it("hides the project's bundles from outsiders' lists, on the server", async () => {
    const name = await bundle();
    const listed = async (key: string | null) => (await t.call("GET", "/api/v1/bundles?limit=200", { key })).json.items.map((b: { name: string }) => b.name);
    for (const actor of ["org", "owner", "editor", "viewer"] as Actor[]) assert.ok((await listed(keys[actor])).includes(name), actor);
    assert.ok(!(await listed(keys.outsider)).includes(name));
  });
});
