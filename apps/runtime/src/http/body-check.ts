/**
 * The run routes' request bodies, checked by hand: a replica serves without zod, whose module
 * graph alone costs it about 14 MiB and a quarter of a second of its cold start (issue #16).
 * What is checked is what the routes had as zod objects: named fields of a few shapes, unknown
 * fields dropped, every problem reported with its path. Each route turns the issues into its
 * own error shape (Langflow's 422 items, or the product's field errors).
 */

/**
 * The shapes a field can have:
 * - `string`: a string;
 * - `enum`: one of `values`;
 * - `record`: a plain object (not an array), each value of the `of` shape when given, with at
 *   most `max` entries when given (a value under each of a million names is a request's 12 MiB,
 *   but its answer's one issue per name and the route's work per name were not bounded);
 * - `object`: a plain object with the named `fields`.
 */
export type Rule =
  | { type: "string" }
  | { type: "enum"; values: readonly string[] }
  | { type: "record"; of?: Rule; max?: number }
  | { type: "object"; fields: Fields };

/** A field's rule; absent (undefined) is allowed unless `required`, `null` only when `nullable`. */
export type Fields = Record<string, Rule & { nullable?: boolean; required?: boolean }>;

export interface Issue {
  path: (string | number)[];
  /** `string` and `object`: the value had another type; `enum`: another value; `size`: a record with more than its `max` entries. */
  expected: "string" | "object" | "enum" | "size";
  /** The allowed values of an `enum`. */
  values?: readonly string[];
  message: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const typeName = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

function checkValue(value: unknown, rule: Rule, path: (string | number)[], issues: Issue[]): unknown {
  switch (rule.type) {
    case "string":
      if (typeof value === "string") return value;
      issues.push({ path, expected: "string", message: `expected a string, got ${typeName(value)}` });
      return undefined;
    case "enum":
      if (typeof value === "string" && rule.values.includes(value)) return value;
      issues.push({ path, expected: "enum", values: rule.values, message: `must be one of ${rule.values.map((v) => `"${v}"`).join(", ")}` });
      return undefined;
    case "record": {
      if (!isPlainObject(value)) {
        issues.push({ path, expected: "object", message: `expected an object, got ${typeName(value)}` });
        return undefined;
      }
      if (rule.max !== undefined) {
        let n = 0;
        for (const k in value) if (Object.hasOwn(value, k)) n++;
        if (n > rule.max) {
          issues.push({ path, expected: "size", message: `has ${n} entries; at most ${rule.max} are allowed` });
          return undefined;
        }
      }
      if (!rule.of) return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = checkValue(v, rule.of, [...path, k], issues);
      return out;
    }
    case "object":
      if (!isPlainObject(value)) {
        issues.push({ path, expected: "object", message: `expected an object, got ${typeName(value)}` });
        return undefined;
      }
      return checkFieldsAt(value, rule.fields, path, issues);
  }
}

/** Each Fields object's entries, listed once (the routes' field tables are module constants). */
const entriesOf = new WeakMap<Fields, [string, Fields[string]][]>();

function checkFieldsAt(body: Record<string, unknown>, fields: Fields, path: (string | number)[], issues: Issue[]): Record<string, unknown> {
  // A fresh object with the declared fields only; `__proto__` can be no field name here.
  const out: Record<string, unknown> = {};
  let entries = entriesOf.get(fields);
  if (!entries) {
    entries = Object.entries(fields);
    entriesOf.set(fields, entries);
  }
  for (const [name, rule] of entries) {
    const value = Object.hasOwn(body, name) ? body[name] : undefined;
    if (value === undefined) {
      if (rule.required) issues.push({ path: [...path, name], expected: rule.type === "record" ? "object" : rule.type, ...(rule.type === "enum" ? { values: rule.values } : {}), message: "required" });
      continue;
    }
    if (value === null && rule.nullable) {
      out[name] = null;
      continue;
    }
    out[name] = checkValue(value, rule, [...path, name], issues);
  }
  return out;
}

/** The body as an object of the declared fields, or the issues (the body itself not an object: one issue at the empty path). */
export function checkBody(body: unknown, fields: Fields): { ok: true; value: Record<string, unknown> } | { ok: false; issues: Issue[] } {
  const issues: Issue[] = [];
  const value = checkValue(body, { type: "object", fields }, [], issues) as Record<string, unknown>;
  return issues.length === 0 ? { ok: true, value } : { ok: false, issues };
}
