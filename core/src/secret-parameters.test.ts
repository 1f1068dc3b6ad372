import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { prepareVersion, type BundleVersion } from "./bundle.js";
import { checkDraftAgainstVersion, parseDeployDraft } from "./deploy-validation.js";
import { checkValues, credentialNamesFor, effectiveParameters, errorsForStep, heldAfterEdit, plainNamesAmong } from "./deployment.js";

// Like Langflow 1.13's SQL component: a connection string (password included) in a plain text field.
const version: BundleVersion = { createdAt: "2026-01-01T00:00:00.000Z", ...prepareVersion({
  name: "pricing", versionTag: "v1", accessLevel: "global", defaults: { DATABASE_URL: "postgresql://app:published@db/pricing", MODE: "fast" },
  flows: [{ id: "f", name: "f", data: { nodes: [{ id: "SQL", data: { type: "Weird", node: { template: {
    key: { load_from_db: true, value: "API_KEY", password: true },
    database_url: { load_from_db: true, value: "DATABASE_URL" },
    mode: { load_from_db: true, value: "MODE" } } } } }], edges: [] } }],
}, "u") };
// A model choice beside them (kind "model" is assigned at publish from the model field; built by hand here).
const withModel: BundleVersion = { ...version, parameters: [...version.parameters, { name: "MODEL_A", kind: "model", default: "OpenAI/gpt-4o-mini", usedBy: [{ flowId: "f", nodeId: "A", field: "model" }] }] };

const URL = "postgresql://app:s3cret@db/pricing";
const fields = (credentials: Record<string, string>, parameters: Record<string, string>, requireAll = true, v = version) =>
  checkValues(v, credentials, parameters, requireAll).map((e) => `${e.field}: ${e.message}`);

describe("plain parameters kept secret: checkValues", () => {
  it("accepts a plain parameter given under credentials, at deploy and at edit", () => {
    assert.deepEqual(fields({ API_KEY: "k", DATABASE_URL: URL }, {}), []);
    assert.deepEqual(fields({ DATABASE_URL: URL }, {}, false), []);
  });

  it("refuses the same name under both credentials and parameters, naming it", () => {
    assert.deepEqual(fields({ API_KEY: "k", DATABASE_URL: URL }, { DATABASE_URL: URL }),
      ['credentials.DATABASE_URL: "DATABASE_URL" is given under both credentials and parameters: give it once (under credentials to keep it secret)']);
    assert.deepEqual(fields({ DATABASE_URL: URL }, { DATABASE_URL: "x" }, false).length, 1);
  });

  it("refuses an empty secret value: leaving the name out is how its default is asked for", () => {
    assert.deepEqual(fields({ API_KEY: "k", DATABASE_URL: "" }, {}).map((m) => m.split(":")[0]), ["credentials.DATABASE_URL"]);
  });

  it("still refuses a credential given as a plain parameter, and a model choice given as a credential", () => {
    assert.deepEqual(fields({}, { API_KEY: "k" }, false), ['parameters.API_KEY: "API_KEY" is a credential: set it under credentials']);
    assert.deepEqual(fields({ OPENAI_API_KEY: "sk", API_KEY: "k", MODEL_A: "OpenAI/gpt-4o" }, {}, true, withModel),
      ['credentials.MODEL_A: "MODEL_A" is a model choice, not a credential: set it under parameters']);
  });

  it("is checked by the credentials step of a dry run, like any other value of that step", () => {
    const { draft, errors } = parseDeployDraft({ displayName: "P", bundle: { name: "pricing", version: "v1" }, networkAccess: "public",
      credentials: { API_KEY: "k", DATABASE_URL: URL }, parameters: { DATABASE_URL: URL } });
    const all = [...errors, ...checkDraftAgainstVersion(draft, version)];
    assert.deepEqual(errorsForStep(all, "credentials").map((e) => e.field), ["credentials.DATABASE_URL"]);
    assert.deepEqual(errorsForStep(all, "task"), []);
    const ok = parseDeployDraft({ displayName: "P", bundle: { name: "pricing", version: "v1" }, networkAccess: "public", credentials: { API_KEY: "k", DATABASE_URL: URL } });
    assert.deepEqual(checkDraftAgainstVersion(ok.draft, version), []);
  });
});

describe("plain parameters kept secret: names and values", () => {
  it("names a held plain parameter among the credentials, after the declared ones", () => {
    const held = plainNamesAmong(version.parameters, ["API_KEY", "DATABASE_URL", "NOPE"]);
    assert.deepEqual(held, ["DATABASE_URL"]);
    assert.deepEqual(credentialNamesFor(version, effectiveParameters(version, {}, held), held), ["API_KEY", "DATABASE_URL"]);
    assert.deepEqual(credentialNamesFor(version, effectiveParameters(version, {})), ["API_KEY"]);
    // A model choice is never held: it picks which key is needed and is read in clear to do so.
    assert.deepEqual(plainNamesAmong(withModel.parameters, ["MODEL_A"]), []);
  });

  it("leaves a held parameter out of the effective parameters, its published default too", () => {
    assert.deepEqual(effectiveParameters(version, {}), { DATABASE_URL: "postgresql://app:published@db/pricing", MODE: "fast" });
    assert.deepEqual(effectiveParameters(version, { MODE: "slow" }, ["DATABASE_URL"]), { MODE: "slow" });
  });

  it("moves a parameter to the credentials when an edit gives it there, and back when an edit gives it under parameters", () => {
    assert.deepEqual(heldAfterEdit(version.parameters, ["API_KEY"], { credentials: { DATABASE_URL: URL } }), ["DATABASE_URL"]);
    assert.deepEqual(heldAfterEdit(version.parameters, ["API_KEY", "DATABASE_URL"], { credentials: { API_KEY: "k2" } }), ["DATABASE_URL"]);
    assert.deepEqual(heldAfterEdit(version.parameters, ["API_KEY", "DATABASE_URL"], { parameters: { DATABASE_URL: "sqlite://" } }), []);
    // A version where the name is no longer a plain parameter holds it no more.
    assert.deepEqual(heldAfterEdit(version.parameters.filter((p) => p.name !== "DATABASE_URL"), ["DATABASE_URL"], {}), []);
  });
});
