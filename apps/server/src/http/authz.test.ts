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
  const keys = {} as Record<Actor, string | null>;
  let n = 0;

  before(async () => {
    t = await startTestControlPlane();
    P = await t.project("matrix");
    const Q = await t.project("elsewhere");
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
    ["delete the project's bundle version", async () => call("DELETE", `/api/v1/bundles/${await bundle()}/versions/1`), { org: 204, owner: 204, editor: 204, viewer: 403, outsider: 404, anonymous: 401 }],
    ["list deployments", async () => call("GET", `/api/v1/projects/${P}/deployments`), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 404, anonymous: 401 }],
    ["deploy", async () => call("POST", `/api/v1/projects/${P}/deployments`, await deployBody()), { org: 201, owner: 201, editor: 201, viewer: 403, outsider: 404, anonymous: 401 }],
    ["validate a deploy step (dry run)", async () => call("POST", `/api/v1/projects/${P}/deployments?dryRun=true&step=configure`, await deployBody()), { org: 200, owner: 200, editor: 200, viewer: 403, outsider: 404, anonymous: 401 }],
    ["get a deployment", async () => call("GET", await deployment()), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 404, anonymous: 401 }],
    ["read a deployment's events", async () => call("GET", `${await deployment()}/events`), { org: 200, owner: 200, editor: 200, viewer: 200, outsider: 404, anonymous: 401 }],
    ["edit a deployment", async () => call("PATCH", await deployment(), { resources: { replicas: 2 } }), { org: 200, owner: 200, editor: 200, viewer: 403, outsider: 404, anonymous: 401 }],
    ["undeploy", async () => call("DELETE", await deployment()), { org: 202, owner: 202, editor: 403, viewer: 403, outsider: 404, anonymous: 401 }],
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

  it("hides the project's bundles from outsiders' lists, on the server", async () => {
    const name = await bundle();
    const listed = async (key: string | null) => (await t.call("GET", "/api/v1/bundles?limit=200", { key })).json.items.map((b: { name: string }) => b.name);
    for (const actor of ["org", "owner", "editor", "viewer"] as Actor[]) assert.ok((await listed(keys[actor])).includes(name), actor);
    assert.ok(!(await listed(keys.outsider)).includes(name));
  });
});
