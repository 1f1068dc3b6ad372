import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SHOWN_SETTINGS, runtimeSpec } from "@flowplane/core";
import { personaChatbot } from "../persona-flow.js";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

// A plain parameter (PERSONA: a prompt bound to a global variable, no password field) holding a
// secret, as Langflow's SQL component holds a connection string in a plain `database_url`.
const KEY = "sk-secretparam-key-0123";
const DEFAULT = "published-default-persona-7788";
const SECRET = "postgresql://app:held-one-9911@db/pricing";
const SECRET2 = "postgresql://app:held-two-2244@db/pricing";
const PLAIN = "back-in-clear-persona-5566";

describe("plain parameters kept secret (API)", () => {
  let t: TestControlPlane;
  let p: string;
  let base: string;
  let id: string;
  const get = async () => (await t.call("GET", `${base}/${id}`)).json;
  const held = async () => t.credentials.open(id, await t.store.getSealedCredentials(id));
  /** Every answer and every stored row a value could leak into: the deployment, revisions, diffs, events, manifests, the tables. */
  const everything = async (): Promise<string> => {
    const revs = await t.call("GET", `${base}/${id}/revisions`);
    const n = revs.json.items.length as number;
    const texts = [(await t.call("GET", `${base}/${id}`)).text, (await t.call("GET", base)).text, revs.text,
      (await t.call("GET", `${base}/${id}/events`)).text, (await t.call("GET", `${base}/${id}/manifests`)).text];
    for (let i = 1; i <= n; i++) texts.push((await t.call("GET", `${base}/${id}/revisions/${i}`)).text, (await t.call("GET", `${base}/${id}/revisions/diff?from=1&to=${i}`)).text);
    for (const [table, key] of [["deployments", "id"], ["deployment_revisions", "deployment_id"], ["deployment_events", "deployment_id"]] as const) {
      texts.push(JSON.stringify((await t.sql.query(`SELECT * FROM ${table} WHERE ${key} = $1`, [id])).rows));
    }
    return texts.join("\n");
  };
  const noneOf = async (...values: string[]) => {
    const text = await everything();
    for (const v of values) assert.ok(!text.includes(v), `${v} appears in an answer or a stored row`);
  };

  before(async () => {
    // A body limit of its own: the manifests shown give replicas the one the reconciler gives them.
    t = await startTestControlPlane({ bodyLimit: 4 * 1024 * 1024 });
    p = await t.project("secretparam");
    base = `/api/v1/projects/${p}/deployments`;
    const r = await t.call("POST", "/api/v1/bundles", { body: { name: "persona", versionTag: "v1", accessLevel: "project", allowedProjects: [p], flows: [personaChatbot()], defaults: { PERSONA: DEFAULT } } });
    assert.equal(r.status, 201, r.text);
    assert.ok(r.json.parameters.some((x: { name: string; kind: string }) => x.name === "PERSONA" && x.kind === "plain"), r.text);
  });
  after(() => t.close());

  it("refuses the same name under both credentials and parameters (deploy, its dry run, and an edit), naming it", async () => {
    const body = { displayName: "Both", bundle: { name: "persona", version: "v1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: KEY, PERSONA: SECRET }, parameters: { PERSONA: SECRET } };
    const r = await t.call("POST", base, { body });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.json.error.details.map((e: { field: string }) => e.field), ["credentials.PERSONA"]);
    assert.match(r.json.error.details[0].message, /both credentials and parameters/);
    assert.ok(!r.text.includes(SECRET));
    const dry = await t.call("POST", `${base}?dryRun=true&step=credentials`, { body });
    assert.deepEqual({ s: dry.status, valid: dry.json.valid, fields: dry.json.errors.map((e: { field: string }) => e.field) }, { s: 200, valid: false, fields: ["credentials.PERSONA"] });
    const ok = await t.call("POST", `${base}?dryRun=true&step=credentials`, { body: { ...body, parameters: {} } });
    assert.deepEqual(ok.json, { valid: true, errors: [] });
  });

  it("deploys a plain parameter given under credentials as a credential: sealed, masked, not a parameter (nor its default), the same variable for the replica", async () => {
    const d = await t.call("POST", base, { body: { displayName: "Pricing", bundle: { name: "persona", version: "v1" }, networkAccess: "public",
      credentials: { OPENAI_API_KEY: KEY, PERSONA: SECRET } } });
    assert.equal(d.status, 201, d.text);
    id = d.json.id;
    const view = await get();
    assert.deepEqual(view.credentials, { OPENAI_API_KEY: "********", PERSONA: "********" });
    assert.ok(!("PERSONA" in view.parameters), JSON.stringify(view.parameters));
    assert.deepEqual(await held(), { OPENAI_API_KEY: KEY, PERSONA: SECRET });
    const r1 = (await t.call("GET", `${base}/${id}/revisions/1`)).json;
    assert.deepEqual({ creds: r1.credentials, persona: "PERSONA" in r1.parameters }, { creds: { OPENAI_API_KEY: "********", PERSONA: "********" }, persona: false });
    // What the reconciler hands the driver: PERSONA in the environment, as a plain parameter would be.
    const stored = (await t.store.getDeployment(id))!;
    const plainParameters = (await t.store.getVersion("persona", "v1", null))!.parameters.filter((x) => x.kind === "plain").map((x) => x.name);
    const spec = runtimeSpec({ deployment: stored, credentials: await held(), plainParameters, bundleUrl: "", identityToken: "", gatewaySecret: "" });
    assert.equal(spec.env.PERSONA, SECRET);
    // Named to the replica as kept secret (its guards treat it as a credential); the bundle's own credential is not.
    assert.deepEqual(spec.secretParameters, ["PERSONA"]);
    // With inputs and outputs kept, the replica redacts its value as a credential's.
    const recording = runtimeSpec({ deployment: { ...stored, runtime: { ...stored.runtime, io: { record: true, maxChars: 100 } } }, credentials: await held(), plainParameters, bundleUrl: "", identityToken: "", gatewaySecret: "" });
    assert.deepEqual(recording.recordIO?.credentialNames, ["OPENAI_API_KEY", "PERSONA"]);
    // The manifests the API shows carry the name too, as the pod's environment (never the value).
    // (The replica's settings are in its Secret, shown; its parameters' values are not.)
    const manifests = (await t.call("GET", `${base}/${id}/manifests`)).json as { kind: string; data?: Record<string, string> }[];
    const data = manifests.find((o) => o.kind === "Secret")!.data!;
    assert.equal(Buffer.from(data.FLOWPLANE_SECRET_PARAMETER_NAMES!, "base64").toString(), '["PERSONA"]');
    assert.equal(data.PERSONA, "<redacted>");
    assert.equal(data.FLOWPLANE_GATEWAY_SECRET, "<redacted>");
    assert.equal(Buffer.from(data.FLOWPLANE_MAX_BODY_BYTES!, "base64").toString(), String(4 * 1024 * 1024));
    // Only the runtime's settings are shown; every other value in the Secret is hidden.
    for (const [name, value] of Object.entries(data)) if (!SHOWN_SETTINGS.has(name)) assert.equal(value, "<redacted>", name);
    await noneOf(SECRET, KEY, DEFAULT);
  });

  it("an edit under credentials replaces it as a credential: named credentials.PERSONA in the revision, never valued", async () => {
    const e = await t.call("PATCH", `${base}/${id}`, { body: { credentials: { PERSONA: SECRET2 } } });
    assert.equal(e.status, 200, e.text);
    assert.deepEqual((await t.call("GET", `${base}/${id}/revisions/2`)).json.changes, ["credentials.PERSONA"]);
    assert.equal((await held()).PERSONA, SECRET2);
    await noneOf(SECRET, SECRET2, KEY, DEFAULT);
  });

  it("an edit under parameters moves it back into the clear (the held value dropped); under credentials again moves it back in", async () => {
    const both = await t.call("PATCH", `${base}/${id}`, { body: { credentials: { PERSONA: SECRET }, parameters: { PERSONA: PLAIN } } });
    assert.equal(both.status, 400, both.text);
    assert.deepEqual(both.json.error.details.map((x: { field: string }) => x.field), ["credentials.PERSONA"]);
    // Only plain parameters move: a declared credential still cannot be given under parameters.
    const declared = await t.call("PATCH", `${base}/${id}`, { body: { parameters: { OPENAI_API_KEY: "sk-x" } } });
    assert.deepEqual({ s: declared.status, fields: declared.json.error.details.map((x: { field: string }) => x.field) }, { s: 400, fields: ["parameters.OPENAI_API_KEY"] });

    const back = await t.call("PATCH", `${base}/${id}`, { body: { parameters: { PERSONA: PLAIN } } });
    assert.equal(back.status, 200, back.text);
    assert.deepEqual({ creds: back.json.credentials, persona: back.json.parameters.PERSONA }, { creds: { OPENAI_API_KEY: "********" }, persona: PLAIN });
    assert.deepEqual(await held(), { OPENAI_API_KEY: KEY });
    assert.deepEqual((await t.call("GET", `${base}/${id}/revisions/3`)).json.changes, ["parameters.PERSONA", "credentials.PERSONA"]);

    const again = await t.call("PATCH", `${base}/${id}`, { body: { credentials: { PERSONA: SECRET } } });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.json.credentials, { OPENAI_API_KEY: "********", PERSONA: "********" });
    assert.ok(!("PERSONA" in again.json.parameters));
    assert.deepEqual((await t.call("GET", `${base}/${id}/revisions/4`)).json.changes, ["parameters.PERSONA", "credentials.PERSONA"]);
    await noneOf(SECRET, SECRET2, KEY, DEFAULT);
  });

  it("a rollback restores the revision's choice: in the clear to revision 3, held again (with its value) to revision 2", async () => {
    const r3 = await t.call("POST", `${base}/${id}/rollback`, { body: { revision: 3 } });
    assert.equal(r3.status, 200, r3.text);
    assert.deepEqual({ creds: r3.json.credentials, persona: r3.json.parameters.PERSONA }, { creds: { OPENAI_API_KEY: "********" }, persona: PLAIN });
    assert.deepEqual(await held(), { OPENAI_API_KEY: KEY });

    const r2 = await t.call("POST", `${base}/${id}/rollback`, { body: { revision: 2 } });
    assert.equal(r2.status, 200, r2.text);
    assert.deepEqual(r2.json.credentials, { OPENAI_API_KEY: "********", PERSONA: "********" });
    assert.ok(!("PERSONA" in r2.json.parameters));
    assert.equal((await held()).PERSONA, SECRET2);
    await noneOf(SECRET, SECRET2, KEY, DEFAULT);
  });

});
