import { Data } from "../values.js";

/**
 * lfx 1.13's structured output by prompt (the Agent's `structured_response` with tools:
 * `structured_output_orchestrator`, `prompt_fallback_invoker`, `json_extraction`): the schema
 * table becomes a pydantic model, wrapped in a list envelope; its JSON schema goes into the
 * system prompt; the JSON in the model's answer is extracted, unwrapped, validated per record
 * and wrapped into one Data. The schema text is pydantic's `model_json_schema()` through
 * `json.dumps(indent=2)`, byte for byte, since it reaches the model.
 */

/** The JSON-schema piece of each type name the schema table accepts (lfx's `_get_type_annotation`). */
const TYPES: Record<string, Record<string, unknown>> = {
  str: { type: "string" },
  text: { type: "string" },
  int: { type: "integer" },
  float: { type: "number" },
  number: { type: "number" },
  bool: { type: "boolean" },
  boolean: { type: "boolean" },
  list: { items: {}, type: "array" },
  dict: { additionalProperties: true, type: "object" },
};
const TRUE_VALUES = new Set(["true", "1", "t", "y", "yes"]);

export interface RecordField {
  name: string;
  type: string;
  description: string;
  multiple: boolean;
}

export interface RecordSchema {
  fields: RecordField[];
  /** The envelope's list field: `objects`, plus `_` until no record field has the name. */
  envelope: string;
}

const pyStr = (v: unknown, fallback: string): string => (v === undefined ? fallback : v === null ? "None" : typeof v === "boolean" ? (v ? "True" : "False") : String(v));

/** lfx's `preprocess_schema` + `build_model_from_schema`: an unknown type fails (`Invalid type: x`). */
export function recordSchema(rows: readonly Record<string, unknown>[]): RecordSchema {
  const fields = rows.map((row) => {
    const m = row.multiple;
    const multiple = typeof m === "boolean" ? m : typeof m === "string" ? TRUE_VALUES.has(m.trim().toLowerCase()) : Boolean(m);
    return { name: pyStr(row.name, "field"), type: pyStr(row.type, "str"), description: pyStr(row.description, ""), multiple };
  });
  for (const f of fields) if (!(f.type in TYPES)) throw new Error(`Invalid type: ${f.type}`);
  let envelope = "objects";
  while (fields.some((f) => f.name === envelope)) envelope += "_";
  return { fields, envelope };
}

/** Python's `str.title()`: a cased letter after a non-letter goes upper, others lower. */
function pyTitle(s: string): string {
  let out = "";
  let prevCased = false;
  for (const ch of s) {
    const cased = ch.toLowerCase() !== ch.toUpperCase();
    out += cased ? (prevCased ? ch.toLowerCase() : ch.toUpperCase()) : ch;
    prevCased = cased;
  }
  return out;
}

/** pydantic's default title of a field: `name.title().replace("_", " ").strip()`. */
const fieldTitle = (name: string): string => pyTitle(name).replace(/_/g, " ").trim();

/** pydantic's schema of the envelope model (keys sorted as pydantic sorts them). */
export function envelopeJsonSchema(schema: RecordSchema): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const f of schema.fields) {
    const base = TYPES[f.type] as Record<string, unknown>;
    const piece = f.multiple ? { items: base, type: "array" } : base;
    // Sorted keys: additionalProperties, description, items, title, type.
    const { additionalProperties, items, type } = piece as Record<string, unknown>;
    properties[f.name] = {
      ...(additionalProperties !== undefined ? { additionalProperties } : {}),
      description: f.description,
      ...(items !== undefined ? { items } : {}),
      title: fieldTitle(f.name),
      type,
    };
  }
  return {
    $defs: { OutputModel: { properties, required: schema.fields.map((f) => f.name), title: "OutputModel", type: "object" } },
    description: "A list of extracted records.",
    properties: {
      [schema.envelope]: { description: "Every record that matches the schema.", items: { $ref: "#/$defs/OutputModel" }, minItems: 1, title: fieldTitle(schema.envelope), type: "array" },
    },
    required: [schema.envelope],
    title: "OutputModel",
    type: "object",
  };
}

/** Python's `json.dumps(v, indent=2)` (ensure_ascii: every non-ASCII UTF-16 unit as `\uXXXX`). */
export function pyJsonDumps(v: unknown): string {
  return JSON.stringify(v, null, 2).replace(/[\u007f-\uffff]/g, (c) => (c === "\u007f" ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
}

/** lfx's `_build_augmented_system_prompt`. */
export function augmentedSystemPrompt(system: string, formatInstructions: string, schema: RecordSchema): string {
  const parts: string[] = [];
  if (system) parts.push(system);
  if (formatInstructions) parts.push(`Format instructions: ${formatInstructions}`);
  parts.push(
    "You must respond ONLY with a JSON object matching this schema. Do not include explanations, markdown, or any text outside the JSON.\n" +
      `Schema:\n${pyJsonDumps(envelopeJsonSchema(schema))}`,
  );
  return parts.join("\n\n");
}

/** The end of the JSON value starting at `from` (an opening bracket), strings and escapes skipped; -1 if it never closes. */
function valueEnd(text: string, from: number): number {
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] => typeof v === "object" && v !== null;

/** lfx's `extract_json_from_text`: the whole text as JSON, else the first object or array that parses. */
export function extractJson(text: string): Record<string, unknown> | unknown[] | null {
  try {
    const whole: unknown = JSON.parse(text);
    if (isContainer(whole)) return whole;
  } catch {
    // not JSON as a whole: look inside
  }
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "{" && text[i] !== "[") continue;
    const end = valueEnd(text, i);
    if (end < 0) continue;
    try {
      const v: unknown = JSON.parse(text.slice(i, end + 1));
      if (isContainer(v)) return v;
    } catch {
      // raw_decode fails here too: next candidate
    }
  }
  return null;
}

const BOOL_TRUE = new Set(["1", "on", "t", "true", "y", "yes"]);
const BOOL_FALSE = new Set(["0", "off", "f", "false", "n", "no"]);

/** pydantic's lax coercion of one value to a field's base type; undefined when it does not validate. */
function coerce(type: string, v: unknown): { ok: true; value: unknown } | { ok: false; expected: string } {
  switch (type) {
    case "str":
    case "text":
      return typeof v === "string" ? { ok: true, value: v } : { ok: false, expected: "a valid string" };
    case "int": {
      const n = typeof v === "string" && v.trim() !== "" ? Number(v.trim()) : typeof v === "number" ? v : NaN;
      return Number.isInteger(n) && typeof v !== "boolean" ? { ok: true, value: n } : { ok: false, expected: "a valid integer" };
    }
    case "float":
    case "number": {
      const n = typeof v === "string" && v.trim() !== "" ? Number(v.trim()) : typeof v === "number" ? v : NaN;
      return Number.isFinite(n) ? { ok: true, value: n } : { ok: false, expected: "a valid number" };
    }
    case "bool":
    case "boolean":
      if (typeof v === "boolean") return { ok: true, value: v };
      if (v === 0 || v === 1) return { ok: true, value: v === 1 };
      if (typeof v === "string" && BOOL_TRUE.has(v.trim().toLowerCase())) return { ok: true, value: true };
      if (typeof v === "string" && BOOL_FALSE.has(v.trim().toLowerCase())) return { ok: true, value: false };
      return { ok: false, expected: "a valid boolean" };
    case "list":
      return Array.isArray(v) ? { ok: true, value: v } : { ok: false, expected: "a valid list" };
    default:
      return isContainer(v) && !Array.isArray(v) ? { ok: true, value: v } : { ok: false, expected: "a valid dictionary" };
  }
}

/**
 * lfx's `_validate_item`: the record as pydantic dumps it (schema fields in order, extra keys
 * dropped, values coerced), or `{data, validation_error}`. The error text follows pydantic's
 * first lines; pydantic's full message (input value, docs link) is not reproduced.
 */
function validateItem(item: unknown, schema: RecordSchema): Record<string, unknown> {
  const errors: string[] = [];
  const out: Record<string, unknown> = {};
  if (!isContainer(item) || Array.isArray(item)) {
    errors.push("Input should be a valid dictionary or instance of OutputModel");
  } else {
    for (const f of schema.fields) {
      if (!(f.name in item)) {
        errors.push(`${f.name}\n  Field required`);
        continue;
      }
      const v = item[f.name];
      if (f.multiple) {
        if (!Array.isArray(v)) {
          errors.push(`${f.name}\n  Input should be a valid list`);
          continue;
        }
        const list: unknown[] = [];
        v.forEach((x, i) => {
          const c = coerce(f.type, x);
          if (c.ok) list.push(c.value);
          else errors.push(`${f.name}.${i}\n  Input should be ${c.expected}`);
        });
        out[f.name] = list;
      } else {
        const c = coerce(f.type, v);
        if (c.ok) out[f.name] = c.value;
        else errors.push(`${f.name}\n  Input should be ${c.expected}`);
      }
    }
  }
  if (errors.length === 0) return out;
  return { data: item, validation_error: `${errors.length} validation error${errors.length === 1 ? "" : "s"} for OutputModel\n${errors.join("\n")}` };
}

/** lfx's `parse_and_validate_fallback_content` then `_wrap_payload`: the Agent's structured Data. */
export function structuredData(content: string, schema: RecordSchema): Data {
  let parsed = extractJson(content);
  if (parsed === null) return new Data({ content, error: "Try setting an output schema" });
  if (!Array.isArray(parsed) && Array.isArray(parsed[schema.envelope])) parsed = parsed[schema.envelope] as unknown[];
  const records = (Array.isArray(parsed) ? parsed : [parsed]).map((item) => validateItem(item, schema));
  const first = records[0];
  return records.length === 1 && first ? new Data(first) : new Data({ results: records });
}
