import { test } from "node:test";
import assert from "node:assert/strict";
import { augmentedSystemPrompt, extractJson, recordSchema, structuredData } from "./components/structured-output.js";

// The Agent's structured_response by prompt, as lfx 1.13's orchestrator does it. The expected
// schema text below is what lfx 1.13.0 printed for this table (pydantic's model_json_schema
// through json.dumps(indent=2)); the equivalence suite compares the whole path against lfx.
const LFX_SCHEMA = `{
  "$defs": {
    "OutputModel": {
      "properties": {
        "a": {
          "description": "d\\"\\u00e9",
          "title": "A",
          "type": "string"
        },
        "objects": {
          "description": "",
          "items": {
            "type": "integer"
          },
          "title": "Objects",
          "type": "array"
        },
        "my_field": {
          "description": "x",
          "title": "My Field",
          "type": "number"
        },
        "c": {
          "additionalProperties": true,
          "description": "x",
          "title": "C",
          "type": "object"
        },
        "f": {
          "description": "x",
          "items": {},
          "title": "F",
          "type": "array"
        }
      },
      "required": [
        "a",
        "objects",
        "my_field",
        "c",
        "f"
      ],
      "title": "OutputModel",
      "type": "object"
    }
  },
  "description": "A list of extracted records.",
  "properties": {
    "objects_": {
      "description": "Every record that matches the schema.",
      "items": {
        "$ref": "#/$defs/OutputModel"
      },
      "minItems": 1,
      "title": "Objects",
      "type": "array"
    }
  },
  "required": [
    "objects_"
  ],
  "title": "OutputModel",
  "type": "object"
}`;

test("the schema prompt is lfx's byte for byte: types, multiple, titles, non-ASCII escaped, envelope renamed on collision", () => {
  const schema = recordSchema([
    { name: "a", type: "str", description: 'd"é', multiple: "False" },
    { name: "objects", type: "int", description: "", multiple: "True" },
    { name: "my_field", type: "float", description: "x" },
    { name: "c", type: "dict", description: "x" },
    { name: "f", type: "list", description: "x" },
  ]);
  assert.equal(schema.envelope, "objects_");
  const prompt = augmentedSystemPrompt("SYS", "FMT", schema);
  assert.equal(prompt, `SYS\n\nFormat instructions: FMT\n\nYou must respond ONLY with a JSON object matching this schema. Do not include explanations, markdown, or any text outside the JSON.\nSchema:\n${LFX_SCHEMA}`);
  assert.throws(() => recordSchema([{ name: "x", type: "weird" }]), /Invalid type: weird/);
});

test("JSON is found as lfx's raw_decode scan finds it: whole text first, then the first object or array that parses", () => {
  assert.deepEqual(extractJson('{"a": 1}'), { a: 1 });
  assert.deepEqual(extractJson('see [digest:x] then {"a": "}"} and [1]'), { a: "}" });
  assert.equal(extractJson("no json [here"), null);
});

test("records are validated and wrapped as lfx does", () => {
  const schema = recordSchema([{ name: "n", type: "int", description: "" }, { name: "ok", type: "bool", description: "" }]);
  assert.deepEqual(structuredData("nothing", schema).data, { content: "nothing", error: "Try setting an output schema" });
  assert.deepEqual(structuredData('{"objects": [{"n": "3", "ok": "yes", "x": 1}]}', schema).data, { n: 3, ok: true }, "lax coercion, extra keys dropped, one record unwrapped");
  assert.deepEqual(structuredData("[]", schema).data, { results: [] });
  const bad = structuredData('[{"n": 1.5, "ok": true}, {"n": 2, "ok": false}]', schema).data as { results: Record<string, unknown>[] };
  assert.deepEqual(bad.results[1], { n: 2, ok: false });
  assert.deepEqual(bad.results[0]?.data, { n: 1.5, ok: true });
  assert.match(String(bad.results[0]?.validation_error), /^1 validation error for OutputModel\nn\n/);
});
