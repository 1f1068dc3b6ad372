import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ValidationError, parseFlow, type EngineRunRequest } from "@flowplane/core";
import { loadFixture } from "@flowplane/testkit";
import { LFX_VERSION } from "./locate.js";
import { redactor } from "./lfx-process.js";
import { applyOverrides, inputNodes, lfxFlowId, overridesFor, variantId } from "./variants.js";

// Pure parts of the lfx engine: tweaks turned into flow variants, ids lfx accepts, redaction.
const basic = parseFlow(loadFixture("basic-prompting"));
const api = parseFlow(loadFixture("simple-api-test"));
const req = (over: Partial<EngineRunRequest> = {}): EngineRunRequest => ({ inputValue: "hi", inputType: "chat", outputType: "chat", ...over });
const template = (raw: Record<string, unknown>, nodeId: string) =>
  ((raw.data as { nodes: { id: string; data: { node: { template: Record<string, Record<string, unknown>> } } }[] }).nodes.find((n) => n.id === nodeId) as { data: { node: { template: Record<string, Record<string, unknown>> } } }).data.node.template;

test("the engine's lfx version is the one the setup script pins", () => {
  const lock = readFileSync(new URL("../lfx-requirements.txt", import.meta.url), "utf8");
  assert.equal(/^lfx==(\S+)$/m.exec(lock)?.[1], LFX_VERSION);
});

test("no overrides for a plain chat run, so the flow lfx loaded at start is used", () => {
  assert.equal(overridesFor(basic, req()), null);
});

test("tweaks by display name and by id land in the node templates, replacing a global-variable binding", () => {
  const overrides = overridesFor(basic, req({ tweaks: { "Language Model": { api_key: "sk-x", temperature: 0.5, not_a_field: 1 } } }));
  assert.deepEqual(Object.fromEntries(overrides ?? []), { "LanguageModelComponent-UcEoU": { api_key: "sk-x", temperature: 0.5 } });
  const raw = applyOverrides(basic, "id-1", overrides ?? new Map());
  const t = template(raw, "LanguageModelComponent-UcEoU");
  assert.equal(t.api_key?.value, "sk-x");
  assert.equal(t.api_key?.load_from_db, false, "a literal replaces the variable binding");
  assert.equal(t.temperature?.value, 0.5);
  assert.equal(raw.id, "id-1");
  // The flow itself is untouched: variants are copies.
  assert.notEqual(template(basic.raw, "LanguageModelComponent-UcEoU").api_key?.value, "sk-x");
  const byId = overridesFor(basic, req({ tweaks: { "LanguageModelComponent-UcEoU": { stream: true } } }));
  assert.deepEqual(Object.fromEntries(byId ?? []), { "LanguageModelComponent-UcEoU": { stream: true } });
});

test("bad tweaks are refused before anything runs: unknown component, non-object, code", () => {
  for (const tweaks of [{ nope: { a: 1 } }, { "Language Model": 3 }, { "Language Model": { code: "import os" } }]) {
    assert.throws(() => overridesFor(basic, req({ tweaks: tweaks as never })), ValidationError, JSON.stringify(tweaks));
  }
});

test("a tweak naming what every object inherits (constructor, toString...) is ignored as an unknown field, and touches no built-in (the body parser refuses __proto__ keys)", () => {
  const entries = Object.entries;
  for (const name of ["constructor", "toString", "hasOwnProperty", "valueOf"]) {
    assert.equal(overridesFor(api, req({ tweaks: { "ChatOutput-J6aor": { [name]: { entries: 0, assign: 0 } } } })), null, name);
    // Even handed such an override directly, the variant writes into own template fields only.
    const raw = applyOverrides(api, "id-x", new Map([["ChatOutput-J6aor", { [name]: { entries: 0, assign: 0 } }]]));
    assert.equal(Object.hasOwn(template(raw, "ChatOutput-J6aor"), name), false, name);
  }
  assert.equal(Object.entries, entries, "Object.entries untouched");
  assert.equal(typeof Object.assign, "function");
});

test("a non-chat input_type writes the input into the matching input components", () => {
  assert.deepEqual(inputNodes(api, "text").map((n) => n.id), ["TextInput-eFiZp"]);
  assert.deepEqual(Object.fromEntries(overridesFor(api, req({ inputType: "text", inputValue: "T" })) ?? []), { "TextInput-eFiZp": { input_value: "T" } });
  assert.deepEqual([...(overridesFor(api, req({ inputType: "any", inputValue: "A" })) ?? new Map()).keys()].sort(), ["ChatInput-3OQi9", "TextInput-eFiZp"]);
});

test("variant ids are UUIDs, stable for the same overrides and distinct for different ones", () => {
  const a = variantId(basic, new Map([["n", { x: 1, y: 2 }]]));
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(variantId(basic, new Map([["n", { y: 2, x: 1 }]])), a, "key order does not matter");
  assert.notEqual(variantId(basic, new Map([["n", { x: 2, y: 2 }]])), a);
  assert.notEqual(variantId(api, new Map([["n", { x: 1, y: 2 }]])), a, "the flow is part of the id");
});

test("lfx flow ids: a UUID id is kept, anything else gets a derived UUID", () => {
  assert.equal(lfxFlowId(basic), basic.id);
  const odd = parseFlow({ ...loadFixture("simple-chat-no-llm"), id: "my-flow" });
  assert.match(lfxFlowId(odd), /^[0-9a-f]{8}-/);
  assert.equal(lfxFlowId(odd), lfxFlowId(parseFlow({ ...loadFixture("simple-chat-no-llm"), id: "my-flow" })));
});

test("the redactor hides every value of 6 characters or more, longest first", () => {
  const redact = redactor(["sk-secret-123", "sk-secret", "abc", undefined]);
  assert.equal(redact("key sk-secret-123 and sk-secret, abc stays"), "key *** and ***, abc stays");
});
