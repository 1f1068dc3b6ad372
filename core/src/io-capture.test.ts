import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateAccessKey } from "./keys.js";
import { IOCapture, textOf } from "./io-capture.js";
import { MAX_IO_FIELDS } from "./api/runs.js";
import { resolveRuntime } from "./deployment.js";
import { changedFields, diffRevisions, type RevisionSpec } from "./revision.js";

describe("IOCapture: what a trace keeps of inputs and outputs", () => {
  const secret = "sk-live-9f8e7d6c";
  const quoted = 'pa"ss\\word';
  const io = new IOCapture({ secrets: [secret, quoted, "ab", undefined], maxChars: 40 });

  it("replaces every occurrence of each secret, in strings and inside structures (JSON-escaped too)", () => {
    assert.equal(io.text(`a ${secret} b ${secret}`), "a [redacted] b [redacted]");
    assert.equal(io.text({ k: quoted }), '{"k":"[redacted]"}');
    assert.deepEqual(io.record({ api_key: secret, n: 3, gone: undefined }), { api_key: "[redacted]", n: "3" });
  });

  it("redacts a secret added later (a rotated identity token) from then on", () => {
    const later = new IOCapture({ secrets: [], maxChars: 100 });
    assert.equal(later.text("token eyJhbGciOi.rotated"), "token eyJhbGciOi.rotated");
    later.add(["eyJhbGciOi.rotated"]);
    assert.equal(later.text("token eyJhbGciOi.rotated"), "token [redacted]");
  });

  it("replaces anything shaped like an access key, known or not", () => {
    const { key } = generateAccessKey();
    assert.equal(io.text(`key=${key}`), "key=[redacted]");
  });

  it("leaves values too short to be credentials alone (a two-letter value would blank every text)", () => {
    assert.equal(io.text("abc ab"), "abc ab");
  });

  it("cuts after redacting, so a secret across the cut is never half shown, and says how long the value was", () => {
    const v = `${"x".repeat(35)}${secret}`;
    assert.equal(io.text(v), `${"x".repeat(35)}[reda… [cut: ${35 + 10} characters]`);
    assert.equal(io.text("short"), "short");
  });

  it("keeps at most MAX_IO_FIELDS values per component", () => {
    const many = Object.fromEntries(Array.from({ length: MAX_IO_FIELDS + 10 }, (_, i) => [`f${i}`, i]));
    assert.equal(Object.keys(io.record(many)).length, MAX_IO_FIELDS);
  });

  it("text of a message is its text; of anything else, JSON that never throws", () => {
    assert.equal(textOf({ text: "hi", sender: "User" }), "hi");
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    assert.equal(textOf(cyclic), '{"a":1,"self":"[cycle]"}');
    assert.equal(textOf(10n), "10");
    assert.equal(io.text(undefined), null);
  });
});

describe("runtime.io in a revision", () => {
  const spec = (runtime: RevisionSpec["runtime"]): RevisionSpec => ({
    bundle: { name: "b", version: "1", digest: "sha256:x" }, runtime, parameters: {}, parameterOverrides: {}, credentialNames: [],
    resources: { cpu: { request: "1", limit: "1" }, memory: { request: "1Gi", limit: "1Gi" } },
  });

  it("is off by default, and a record stored before it existed reads as off", () => {
    assert.deepEqual(resolveRuntime(undefined).io, { record: false, maxChars: 2048 });
    const { io: _io, ...old } = resolveRuntime(undefined);
    assert.deepEqual(resolveRuntime({ logLevel: "warn" }, old as never).io, { record: false, maxChars: 2048 });
  });

  it("turning it on is a change of what runs (runtime.io.record); an old revision without it compares as off", () => {
    const { io: _io, ...old } = resolveRuntime(undefined);
    const on = resolveRuntime({ io: { record: true } });
    const d = diffRevisions({ revision: 1, ...spec(old as never) }, { revision: 2, ...spec(on) }, []);
    assert.deepEqual(changedFields(d), ["runtime.io.record"]);
    assert.deepEqual(changedFields(diffRevisions({ revision: 1, ...spec(old as never) }, { revision: 2, ...spec(resolveRuntime(undefined)) }, [])), []);
  });
});
