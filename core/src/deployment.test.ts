import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { prepareVersion } from "./bundle.js";
import { checkDraftAgainstVersion, parseDeployDraft } from "./deploy-validation.js";
import { errorsForStep } from "./deployment.js";
import { DNS_LABEL, deriveResourceName } from "./names.js";
import { parseQuantity } from "./quantity.js";
import { createSecretBox } from "./secretbox.js";

const version = { createdAt: "2026-01-01T00:00:00.000Z", ...prepareVersion({
  name: "b", versionTag: "v1", accessLevel: "global", defaults: { MODE: "fast" },
  flows: [{ id: "f", name: "f", data: { nodes: [{ id: "N", data: { type: "Weird", node: { template: {
    key: { load_from_db: true, value: "API_KEY", password: true }, mode: { load_from_db: true, value: "MODE" } } } } }], edges: [] } }],
}, "u") };

const base = { displayName: "Support Bot", bundle: { name: "b", version: "v1" }, networkAccess: "public", credentials: { API_KEY: "k" } };

describe("deploy request validation", () => {
  it("accepts a complete request and fills the defaults", () => {
    const { draft, errors } = parseDeployDraft(base);
    assert.deepEqual(errors, []);
    assert.deepEqual(draft.resources, { replicas: 1, cpu: { request: "500m", limit: "1000m" }, memory: { request: "512Mi", limit: "1Gi" } });
    assert.equal(draft.runtime.engine, "auto");
    assert.deepEqual(checkDraftAgainstVersion(draft, version), []);
  });

  const fieldsOf = (input: unknown) => {
    const { draft, errors } = parseDeployDraft(input);
    return [...errors, ...(draft.bundle ? checkDraftAgainstVersion(draft, version) : [])].map((e) => e.field);
  };

  it("says a missing or mistyped section is required or of the wrong type, by its name (not the request body's)", () => {
    const { displayName: _, ...noName } = base;
    const messages = (input: unknown) => parseDeployDraft(input).errors.map((e) => `${e.field}: ${e.message}`);
    assert.deepEqual(messages(noName), ["displayName: displayName is required"]);
    assert.deepEqual(messages({ ...base, displayName: 7 }), ["displayName: displayName must be a string"]);
    assert.deepEqual(messages([]), [": the request body must be a JSON object"]);
  });

  it("reports each bad field by name", () => {
    assert.deepEqual(fieldsOf({ ...base, displayName: "" }), ["displayName"]);
    assert.deepEqual(fieldsOf({ ...base, displayName: "x".repeat(64) }), ["displayName"]);
    assert.deepEqual(fieldsOf({ ...base, displayName: "x".repeat(63) }), []);
    assert.deepEqual(fieldsOf({ ...base, networkAccess: "internet" }), ["networkAccess"]);
    assert.deepEqual(fieldsOf({ ...base, resources: { replicas: 0 } }), ["resources.replicas"]);
    assert.deepEqual(fieldsOf({ ...base, resources: { replicas: 6 } }), ["resources.replicas"]);
    assert.deepEqual(fieldsOf({ ...base, resources: { replicas: 5 } }), []);
    assert.deepEqual(fieldsOf({ ...base, resources: { cpu: { request: "abc" } } }), ["resources.cpu.request"]);
    assert.deepEqual(fieldsOf({ ...base, resources: { memory: { request: "2Gi", limit: "1Gi" } } }), ["resources.memory.request"]);
    // Bounded: a limit that parses to Infinity, or beyond any node, or too small to start a replica in.
    assert.deepEqual(fieldsOf({ ...base, resources: { cpu: { limit: "1e400" } } }), ["resources.cpu.limit"]);
    assert.deepEqual(fieldsOf({ ...base, resources: { memory: { limit: "99999999999999999999Ti" } } }), ["resources.memory.limit"]);
    assert.deepEqual(fieldsOf({ ...base, resources: { cpu: { request: "129", limit: "129" } } }), ["resources.cpu.request", "resources.cpu.limit"]);
    assert.deepEqual(fieldsOf({ ...base, resources: { memory: { request: "64Mi", limit: "100Mi" } } }), ["resources.memory.limit"]);
    assert.deepEqual(fieldsOf({ ...base, resources: { cpu: { request: "128", limit: "128" }, memory: { request: "1Ti", limit: "1Ti" } } }), []);
    assert.deepEqual(fieldsOf({ ...base, credentials: {} }), ["credentials.API_KEY"]);
    assert.deepEqual(fieldsOf({ ...base, credentials: { API_KEY: "" } }), ["credentials.API_KEY"]);
    assert.deepEqual(fieldsOf({ ...base, parameters: { NOPE: "x" } }), ["parameters.NOPE"]);
    assert.deepEqual(fieldsOf({ ...base, parameters: { API_KEY: "x" } }), ["parameters.API_KEY"]);
    assert.deepEqual(fieldsOf({ ...base, runtime: { engine: "native" } }), ["runtime.engine"]);
    assert.deepEqual(fieldsOf({ ...base, extra: 1 }), ["extra"]);
    assert.deepEqual(fieldsOf("nope"), [""]);
  });

  it("keeps each step's errors apart for dry runs", () => {
    const { errors } = parseDeployDraft({ displayName: "", bundle: base.bundle, resources: { replicas: 9 } });
    assert.deepEqual(errorsForStep(errors, "configure").map((e) => e.field), ["displayName", "networkAccess"]);
    assert.deepEqual(errorsForStep(errors, "task").map((e) => e.field), ["resources.replicas"]);
    assert.deepEqual(errorsForStep(errors, "credentials"), []);
    assert.equal(errorsForStep(errors, "review").length, 3);
  });
});

describe("quantities", () => {
  it("parses Kubernetes quantities and refuses the rest", () => {
    assert.equal(parseQuantity("500m"), 0.5);
    assert.equal(parseQuantity("2"), 2);
    assert.equal(parseQuantity("1Gi"), 2 ** 30);
    assert.equal(parseQuantity("512Mi"), 512 * 2 ** 20);
    assert.equal(parseQuantity("1e3"), 1000);
    assert.equal(parseQuantity("1.5G"), 1.5e9);
    for (const bad of ["abc", "", "1 Gi", "-1", "1GB", "m"]) assert.equal(parseQuantity(bad), null, bad);
  });
});

describe("resource names", () => {
  it("derives a DNS-1123 label of at most 63 characters with a unique suffix", () => {
    assert.equal(deriveResourceName("Support Bot (EU)!", "abc123"), "support-bot-eu-abc123");
    assert.equal(deriveResourceName("42 Éclairs", "x1y2z3"), "eclairs-x1y2z3");
    assert.equal(deriveResourceName("日本語", "aaaaaa"), "flow-aaaaaa");
    const long = deriveResourceName("a".repeat(63));
    assert.ok(long.length <= 63 && DNS_LABEL.test(long), long);
    assert.notEqual(deriveResourceName("same"), deriveResourceName("same"));
  });
});

describe("secret box", () => {
  it("round-trips, and refuses a tampered blob or another owner's", () => {
    const box = createSecretBox(randomBytes(32));
    const sealed = box.seal('{"API_KEY":"s3cret"}', "d1");
    assert.ok(!sealed.toString("utf8").includes("s3cret"));
    assert.equal(box.open(sealed, "d1"), '{"API_KEY":"s3cret"}');
    assert.throws(() => box.open(sealed, "d2"));
    const tampered = Buffer.from(sealed);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 1) ^ 1, tampered.length - 1);
    assert.throws(() => box.open(tampered, "d1"));
    assert.throws(() => createSecretBox(randomBytes(32)).open(sealed, "d1"));
  });
});
