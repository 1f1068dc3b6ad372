import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkBody, type Fields } from "./body-check.js";

const fields: Fields = {
  input_value: { type: "string", nullable: true },
  input_type: { type: "enum", values: ["chat", "text"] },
  tweaks: { type: "record", of: { type: "record" }, nullable: true },
  inputs: { type: "object", fields: { input_value: { type: "string", required: true } } },
};

describe("run bodies checked without zod", () => {
  it("keeps the declared fields, drops the others, takes null only where allowed", () => {
    const r = checkBody({ input_value: null, input_type: "text", tweaks: { A: { x: 1 } }, extra: 1 }, fields);
    assert.deepEqual(r, { ok: true, value: { input_value: null, input_type: "text", tweaks: { A: { x: 1 } } } });
    assert.equal(Object.getPrototypeOf(r.ok && r.value), Object.prototype);
    const bad = checkBody({ input_type: null }, fields);
    assert.deepEqual(bad.ok ? null : bad.issues.map((i) => [i.path, i.expected]), [[["input_type"], "enum"]]);
  });

  it("reports every problem with its path: wrong types, values, nested records, required fields", () => {
    const r = checkBody({ input_value: 3, input_type: "voice", tweaks: { A: [1], B: { ok: true } }, inputs: {} }, fields);
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.issues.map((i) => [i.path, i.expected, i.values ?? null]), [
      [["input_value"], "string", null],
      [["input_type"], "enum", ["chat", "text"]],
      [["tweaks", "A"], "object", null],
      [["inputs", "input_value"], "string", null],
    ]);
    for (const i of r.ok ? [] : r.issues) assert.ok(i.message.length > 0);
  });

  it("refuses a body that is not an object (an array, a string) at the empty path", () => {
    for (const body of [[], "text", 1, null]) {
      const r = checkBody(body, fields);
      assert.deepEqual(!r.ok && r.issues.map((i) => [i.path, i.expected]), [[[], "object"]]);
    }
  });

  it("never copies __proto__ from a body into the checked value", () => {
    const body = JSON.parse('{"__proto__": {"polluted": true}, "input_value": "x"}') as unknown;
    const r = checkBody(body, fields);
    assert.ok(r.ok);
    assert.equal((r.value as { polluted?: boolean }).polluted, undefined);
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  });
});
