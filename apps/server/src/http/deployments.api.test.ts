import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DNS_LABEL } from "@flowplane/core";
import { loadFixture } from "@flowplane/testkit";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

const SECRET = "sk-test-never-shown-0123456789";
const SECRET2 = "sk-test-rotated-9876543210";

describe("deployments API", () => {
  let t: TestControlPlane;
  let p: string;
  let other: string;
  let base: string;
  before(async () => {
    t = await startTestControlPlane();
    p = await t.project("prod");
    other = await t.project("other");
    base = `/api/v1/projects/${p}/deployments`;
    const flows = [loadFixture("memory-chatbot")];
    for (const tag of ["v1", "v2"]) {
      const r = await t.call("POST", "/api/v1/bundles", { body: { name: "chatbot", versionTag: tag, accessLevel: "project", allowedProjects: [p], flows } });
      assert.equal(r.status, 201, r.text);
    }
    const f = await t.call("POST", "/api/v1/bundles", { body: { name: "other-bot", versionTag: "1", accessLevel: "project", allowedProjects: [other], flows } });
    assert.equal(f.status, 201);
    // custom Python components: only lfx can run this one
    const l = await t.call("POST", "/api/v1/bundles", { body: { name: "needs-lfx", versionTag: "1", accessLevel: "global", flows: [loadFixture("webhook-test")] } });
    assert.equal(l.json.compatibility.native.supported, false);
  });
  after(() => t.close());

  const body = (over: Record<string, unknown> = {}) => ({
    displayName: "Support Chat",
    bundle: { name: "chatbot", version: "latest" },
    networkAccess: "public",
    credentials: { OPENAI_API_KEY: SECRET },
    ...over,
  });
  const count = async () => (await t.call("GET", `${base}?limit=200`)).json.items.length as number;

  let id = "";
  it("creates a deployment in Provisioning, pinned, masked, with stable ids and absolute endpoints", async () => {
    const r = await t.call("POST", base, { body: body() });
    assert.equal(r.status, 201, r.text);
    const d = r.json;
    id = d.id;
    assert.equal(d.status.phase, "Provisioning");
    assert.equal(d.generation, 1);
    assert.equal(d.status.observedGeneration, 0);
    assert.deepEqual(d.bundle.name, "chatbot");
    assert.equal(d.bundle.version, "v2", "latest is resolved and pinned at creation");
    assert.match(d.bundle.digest, /^sha256:/);
    assert.deepEqual(d.credentials, { OPENAI_API_KEY: "********" });
    assert.deepEqual(d.resources, { replicas: 1, cpu: { request: "500m", limit: "1000m" }, memory: { request: "512Mi", limit: "1Gi" } });
    assert.equal(d.runtime.engine, "auto");
    assert.ok(DNS_LABEL.test(d.resourceName) && d.resourceName.startsWith("support-chat-"), d.resourceName);
    assert.match(d.endpoints.http, new RegExp(`^http://gw\\.test/projects/${p}/apps/${d.appId}/routes/[a-z0-9]+$`));
    assert.match(d.endpoints.mcp, new RegExp(`^http://gw\\.test/projects/${p}/apps/${d.appId}/routes/[a-z0-9]+/mcp$`));
    assert.notEqual(d.endpoints.http, d.endpoints.mcp);
    assert.doesNotMatch(r.text, new RegExp(SECRET));
    const got = await t.call("GET", `${base}/${id}`);
    assert.deepEqual(got.json.endpoints, d.endpoints);
    const events = await t.call("GET", `${base}/${id}/events`);
    assert.equal(events.json[0].reason, "Created");
  });

  it("refuses a flow left without a model unless the deployer chooses one, then requires that provider's key", async () => {
    const agent = { id: "Agent-m", data: { type: "Agent", node: { display_name: "Agent", template: { model: { _input_type: "ModelInput", value: "" }, api_key: { _input_type: "SecretStrInput", password: true, value: "" } } } } };
    const pub = await t.call("POST", "/api/v1/bundles", { body: { name: "no-model", versionTag: "1", accessLevel: "global", flows: [{ id: "f-no-model", name: "No model", data: { nodes: [agent], edges: [] } }] } });
    assert.equal(pub.status, 201, pub.text);
    const deploy = (over: Record<string, unknown>) => t.call("POST", base, { body: body({ displayName: "Model choice", bundle: { name: "no-model", version: "1" }, runtime: { engine: "lfx" }, credentials: {}, ...over }) });
    const none = await deploy({});
    assert.equal(none.status, 400);
    assert.match(none.text, /parameters\.MODEL_AGENT_M.*no model is selected in node Agent-m, field model/);
    const bad = await deploy({ parameters: { MODEL_AGENT_M: "Nope/x" } });
    assert.match(bad.json.error.message, /"Nope" is not a Langflow model provider/);
    const noKey = await deploy({ parameters: { MODEL_AGENT_M: "Anthropic/claude-x" } });
    assert.match(noKey.text, /credentials\.ANTHROPIC_API_KEY/);
    const ok = await deploy({ parameters: { MODEL_AGENT_M: "Anthropic/claude-x" }, credentials: { ANTHROPIC_API_KEY: SECRET } });
    assert.equal(ok.status, 201, ok.text);
    assert.deepEqual(ok.json.credentials, { ANTHROPIC_API_KEY: "********" });
    assert.equal(ok.json.parameters.MODEL_AGENT_M, "Anthropic/claude-x");
  });

  it("encrypts credentials at rest", async () => {
    const rows = await t.sql.query<{ sealed: Uint8Array }>("SELECT sealed FROM deployment_credentials WHERE deployment_id = $1", [id]);
    const sealed = Buffer.from(rows.rows[0]!.sealed);
    assert.ok(sealed.length > SECRET.length);
    assert.ok(!sealed.includes(Buffer.from(SECRET)));
    const all = await t.sql.query("SELECT * FROM deployments");
    assert.doesNotMatch(JSON.stringify(all.rows), new RegExp(SECRET));
  });

  it("validates one step at a time in a dry run, writing nothing", async () => {
    const n = await count();
    const empty = await t.call("POST", `${base}?dryRun=true&step=configure`, { body: {} });
    assert.equal(empty.status, 200);
    assert.equal(empty.json.valid, false);
    assert.deepEqual(empty.json.errors.map((e: { field: string }) => e.field).sort(), ["bundle", "displayName", "networkAccess"]);
    const configured = await t.call("POST", `${base}?dryRun=true&step=configure`, { body: body({ credentials: {} }) });
    assert.deepEqual(configured.json, { valid: true, errors: [] });
    const creds = await t.call("POST", `${base}?dryRun=true&step=credentials`, { body: body({ credentials: {} }) });
    assert.equal(creds.json.valid, false);
    assert.deepEqual(creds.json.errors, [{ field: "credentials.OPENAI_API_KEY", message: "a value for credential OPENAI_API_KEY is required" }]);
    const task = await t.call("POST", `${base}?dryRun=true&step=task`, { body: body({ resources: { replicas: 6, cpu: { request: "abc" } } }) });
    assert.deepEqual(task.json.errors.map((e: { field: string }) => e.field).sort(), ["resources.cpu.request", "resources.replicas"]);
    const review = await t.call("POST", `${base}?dryRun=true`, { body: body() });
    assert.deepEqual(review.json, { valid: true, errors: [] });
    const badStep = await t.call("POST", `${base}?dryRun=true&step=five`, { body: body() });
    assert.equal(badStep.status, 400);
    assert.equal(await count(), n);
  });

  it("answers each bad deploy with 400 naming the field, and writes nothing", async () => {
    const n = await count();
    const cases: [Record<string, unknown>, string][] = [
      [{ resources: { replicas: 0 } }, "resources.replicas"],
      [{ resources: { replicas: 6 } }, "resources.replicas"],
      [{ resources: { cpu: { request: "abc" } } }, "resources.cpu.request"],
      [{ resources: { memory: { request: "2Gi", limit: "1Gi" } } }, "resources.memory.request"],
      [{ credentials: {} }, "credentials.OPENAI_API_KEY"],
      [{ parameters: { NOT_A_PARAM: "x" } }, "parameters.NOT_A_PARAM"],
      [{ displayName: "x".repeat(64) }, "displayName"],
      [{ networkAccess: "world" }, "networkAccess"],
      [{ bundle: { name: "nope", version: "1" } }, "bundle.name"],
      [{ bundle: { name: "chatbot", version: "v9" } }, "bundle.version"],
      [{ bundle: { name: "other-bot", version: "1" } }, "bundle.name"],
      [{ bundle: { name: "needs-lfx", version: "1" }, credentials: {}, runtime: { engine: "native" } }, "runtime.engine"],
      [{ runtime: { engine: "turbo" } }, "runtime.engine"],
    ];
    for (const [over, field] of cases) {
      const r = await t.call("POST", base, { body: body(over) });
      assert.equal(r.status, 400, `${JSON.stringify(over)}: ${r.text}`);
      assert.equal(r.json.error.code, "validation_failed");
      assert.ok(r.json.error.details.some((e: { field: string }) => e.field === field), `${field} in ${r.text}`);
      assert.doesNotMatch(r.text, new RegExp(SECRET));
    }
    const malformed = await t.call("POST", base, { payload: "{", headers: { "content-type": "application/json" } });
    assert.equal(malformed.status, 400);
    const notObject = await t.call("POST", base, { body: [1, 2] });
    assert.equal(notObject.status, 400);
    const viewer = await t.user("viewer", { [p]: "viewer" });
    assert.equal((await t.call("POST", base, { body: body(), key: viewer.key })).status, 403);
    const stranger = await t.user("stranger", { [other]: "owner" });
    assert.equal((await t.call("POST", base, { body: body(), key: stranger.key })).status, 404);
    assert.equal(await count(), n);
  });

  it("patches credentials, parameters, version and resources, bumping generation; never echoes a value", async () => {
    const cred = await t.call("PATCH", `${base}/${id}`, { body: { credentials: { OPENAI_API_KEY: SECRET2 } } });
    assert.equal(cred.status, 200, cred.text);
    assert.equal(cred.json.generation, 2);
    assert.deepEqual(cred.json.credentials, { OPENAI_API_KEY: "********" });
    const version = await t.call("PATCH", `${base}/${id}`, { body: { bundle: { version: "v1" }, resources: { replicas: 3 } } });
    assert.equal(version.json.generation, 3);
    assert.equal(version.json.bundle.version, "v1");
    assert.equal(version.json.resources.replicas, 3);
    const same = await t.call("PATCH", `${base}/${id}`, { body: { resources: { replicas: 3 } } });
    assert.equal(same.json.generation, 3, "a patch that changes nothing is no new revision");
    const bad = await t.call("PATCH", `${base}/${id}`, { body: { resources: { replicas: 9 } } });
    assert.equal(bad.status, 400);
    const unknown = await t.call("PATCH", `${base}/${id}`, { body: { projectId: other } });
    assert.equal(unknown.status, 400);
    const events = await t.call("GET", `${base}/${id}/events`);
    const reasons = events.json.map((e: { reason: string }) => e.reason);
    assert.deepEqual(reasons, ["Created", "SpecChanged", "SpecChanged"]);
    assert.match(events.json[1].message, /credentials changed: OPENAI_API_KEY/);
    assert.doesNotMatch(events.text, new RegExp(`${SECRET}|${SECRET2}`));
    const sealed = await t.store.getSealedCredentials(id);
    assert.deepEqual(t.credentials.open(id, sealed), { OPENAI_API_KEY: SECRET2 }, "the new value is what is stored");
  });

  it("undeploys: 202 Deleting (owners only); then refuses edits", async () => {
    const editor = await t.user("editor", { [p]: "editor" });
    assert.equal((await t.call("DELETE", `${base}/${id}`, { key: editor.key })).status, 403);
    const r = await t.call("DELETE", `${base}/${id}`);
    assert.equal(r.status, 202);
    assert.equal(r.json.status.phase, "Deleting");
    assert.equal(r.json.generation, 4);
    assert.equal((await t.call("PATCH", `${base}/${id}`, { body: { resources: { replicas: 1 } } })).status, 409);
    assert.equal((await t.call("DELETE", `${base}/${id}`)).status, 202, "undeploy is idempotent");
    const events = await t.call("GET", `${base}/${id}/events`);
    assert.equal(events.json.at(-1).reason, "DeletionRequested");
  });

  it("turning scale to zero off wakes a deployment asleep; changing its window leaves it asleep", async () => {
    const d = await t.call("POST", base, { body: body({ displayName: "sleeper", runtime: { scaleToZero: { idleMinutes: 1 } } }) });
    assert.equal(d.status, 201, d.text);
    const url = `${base}/${d.json.id}`;
    // As the idle controller puts it to sleep (idle/idle-controller.ts).
    const sleep = () => t.store.updateDeployment(d.json.id, (cur) => ({ deployment: { ...cur, sleeping: { since: new Date().toISOString() } } }));
    const asleep = async () => Boolean((await t.store.getDeployment(d.json.id))?.sleeping);
    await sleep();
    assert.equal((await t.call("PATCH", url, { body: { runtime: { scaleToZero: { idleMinutes: 5 } } } })).status, 200);
    assert.ok(await asleep(), "still on: the next request wakes it");
    const off = await t.call("PATCH", url, { body: { runtime: { scaleToZero: { idleMinutes: null } } } });
    assert.equal(off.status, 200, off.text);
    assert.equal(await asleep(), false, "off: nothing would ever wake it but a request");
    const events = (await t.call("GET", `${url}/events`)).json as { reason: string; message: string }[];
    assert.equal(events.at(-1)?.reason, "Woken");
    assert.match(events.at(-1)?.message ?? "", /scale to zero turned off/);
    // Off together with a change of what runs: the new revision starts awake too.
    assert.equal((await t.call("PATCH", url, { body: { runtime: { scaleToZero: { idleMinutes: 1 } } } })).status, 200);
    await sleep();
    const edit = await t.call("PATCH", url, { body: { runtime: { logLevel: "debug", scaleToZero: { idleMinutes: null } } } });
    assert.equal(edit.status, 200, edit.text);
    assert.equal(await asleep(), false);
  });

  it("two undeploys at once record one request: one event, one new generation, the first time kept", async () => {
    const d = await t.call("POST", base, { body: body({ displayName: "twice undeployed" }) });
    assert.equal(d.status, 201, d.text);
    const [a, b] = await Promise.all([t.call("DELETE", `${base}/${d.json.id}`), t.call("DELETE", `${base}/${d.json.id}`)]);
    assert.deepEqual([a.status, b.status], [202, 202]);
    const after = await t.call("GET", `${base}/${d.json.id}`);
    assert.equal(after.json.generation, 2, "one undeploy is one change of desired state");
    assert.equal(after.json.deletionRequestedAt, a.json.deletionRequestedAt);
    const events = await t.call("GET", `${base}/${d.json.id}/events`);
    assert.deepEqual(events.json.map((e: { reason: string }) => e.reason), ["Created", "DeletionRequested"]);
  });

  it("an empty body sent as application/json is no body: an undeploy so sent is a 202, a deploy the 400 a deploy without a body gets", async () => {
    // Many HTTP clients send Content-Type: application/json on every request, a body or not.
    const json = { "content-type": "application/json" };
    const d = await t.call("POST", base, { body: body({ displayName: "Empty Body" }) });
    assert.equal(d.status, 201, d.text);
    const undeploy = await t.call("DELETE", `${base}/${d.json.id}`, { payload: "", headers: json });
    assert.equal(undeploy.status, 202, undeploy.text);
    assert.equal(undeploy.json.status.phase, "Deleting");
    const without = await t.call("POST", base);
    const empty = await t.call("POST", base, { payload: "", headers: json });
    assert.equal(empty.status, 400, empty.text);
    assert.equal(empty.json.error.code, "validation_failed");
    assert.deepEqual(empty.json, without.json);
    // White space is not an empty body: still JSON that does not parse.
    assert.equal((await t.call("POST", base, { payload: " ", headers: json })).json.error.code, "malformed_json");
  });

  it("a version that a canary's stable revision serves cannot be deleted; after the canary, it can", async () => {
    const flows = [loadFixture("memory-chatbot")];
    for (const tag of ["c1", "c2"]) assert.equal((await t.call("POST", "/api/v1/bundles", { body: { name: "canaried", versionTag: tag, accessLevel: "global", flows, description: tag } })).status, 201);
    const d = await t.call("POST", base, { body: body({ displayName: "canaried", bundle: { name: "canaried", version: "c1" } }) });
    assert.equal(d.status, 201, d.text);
    const c = await t.call("PATCH", `${base}/${d.json.id}`, { body: { bundle: { version: "c2" }, canary: { percent: 10 } } });
    assert.equal(c.status, 200, c.text);
    const del = await t.call("DELETE", "/api/v1/bundles/canaried/versions/c1");
    assert.equal(del.status, 409, `c1 still takes 90% of the calls: ${del.status} ${del.text}`);
    assert.equal((await t.call("POST", `${base}/${d.json.id}/promote`, { body: {} })).status, 200);
    const warm = (await t.call("GET", `${base}/${d.json.id}`)).json.liveRevisions.find((l: { role: string }) => l.role === "warm");
    if (warm) {
      assert.equal((await t.call("DELETE", "/api/v1/bundles/canaried/versions/c1")).status, 409, "kept warm for an instant rollback");
      t.clock.now = new Date(Date.parse(warm.warmUntil) + 1000);
    }
    assert.equal((await t.call("DELETE", "/api/v1/bundles/canaried/versions/c1")).status, 204);
  });

  it("pages deployments and events with a cursor", async () => {
    for (let i = 0; i < 4; i++) assert.equal((await t.call("POST", base, { body: body({ displayName: `bot ${i}` }) })).status, 201);
    const first = await t.call("GET", `${base}?limit=2`);
    assert.equal(first.json.items.length, 2);
    assert.ok(first.json.nextCursor);
    const second = await t.call("GET", `${base}?limit=2&cursor=${first.json.nextCursor}`);
    const names = [...first.json.items, ...second.json.items].map((d: { displayName: string }) => d.displayName);
    assert.deepEqual(names.slice(0, 4), ["bot 3", "bot 2", "bot 1", "bot 0"]);
    assert.equal((await t.call("GET", `${base}?limit=0`)).status, 400);
    assert.equal((await t.call("GET", `${base}?cursor=zzz`)).status, 400);
  });
});
