import { MAX_JSON_DEPTH, jsonFrameOf, nextJsonKey, type JsonFrame } from "./json-depth.js";
import type { FieldError } from "./errors.js";

/**
 * Text PostgreSQL can store, at any depth of a JSON value: the rule the control plane applies to
 * every request at its edge (apps/server http/input-hygiene.ts) and a replica to what it sends
 * the control plane (its traces: apps/runtime trace-text.ts keeps them within it). One rule,
 * here, so both sides hold the same one.
 *
 * - PostgreSQL's `text` cannot hold NUL, and `jsonb` refuses both the `\u0000` escape and a
 *   lone UTF-16 surrogate (`\ud800` alone), which JSON can carry but Unicode text cannot.
 * - Deeply nested JSON makes recursive code overflow the stack (json-depth.ts).
 */

/**
 * The first problem in `value`, with a path such as `flows[0].data.nodes[2].id`, or null.
 * Iterative, one frame per open object or array (at most MAX_JSON_DEPTH), and the path is
 * written only for the problem found: a first version kept every value's path and its own
 * entry on a stack, and a 10 MiB body of three million empty objects (any member who may
 * publish can send one) held the event loop 6 s and took the process from 160 MiB to 960 MiB,
 * every other request of every team waiting.
 */
export function inputProblem(value: unknown, root: string): FieldError | null {
  if (typeof value === "string") {
    const bad = textProblem(value);
    return bad ? { field: root, message: `${root || "the value"} ${bad}` } : null;
  }
  if (typeof value !== "object" || value === null) return null;
  const frames: JsonFrame[] = [jsonFrameOf(value, root)];
  for (let key = nextJsonKey(frames); key !== undefined; key = nextJsonKey(frames)) {
    if (typeof key === "string") {
      const bad = textProblem(key);
      if (bad) {
        const path = pathOf(frames, key);
        return { field: path, message: `the key ${JSON.stringify(safeKey(key))} ${bad}` };
      }
    }
    const child = (frames[frames.length - 1]!.v as Record<string | number, unknown>)[key];
    if (typeof child === "string") {
      const bad = textProblem(child);
      if (bad) {
        const path = pathOf(frames, key);
        return { field: path, message: `${path || "the value"} ${bad}` };
      }
      continue;
    }
    if (typeof child !== "object" || child === null) continue;
    if (frames.length + 1 > MAX_JSON_DEPTH) {
      const path = pathOf(frames, key);
      return { field: path, message: `the JSON nests deeper than ${MAX_JSON_DEPTH} levels at ${path || "the top"}; no flow needs that` };
    }
    frames.push(jsonFrameOf(child, key));
  }
  return null;
}

/** The path of `last` under the open frames; the first frame's key is the root's name. */
function pathOf(frames: readonly JsonFrame[], last: string | number): string {
  let path = frames[0]!.key as string;
  for (const k of [...frames.slice(1).map((f) => f.key), last]) {
    if (typeof k === "number") path += `[${k}]`;
    else path = path ? `${path}.${safeKey(k)}` : safeKey(k);
  }
  return path;
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function textProblem(s: string): string | null {
  if (s.includes("\u0000")) return "contains a NUL character (\\u0000), which cannot be stored";
  if (LONE_SURROGATE.test(s)) return "contains a lone UTF-16 surrogate: it is not valid Unicode text";
  return null;
}

/** A key as shown in a field path: the offending characters written as escapes. */
function safeKey(key: string): string {
  return key.replace(/\u0000/g, "\\u0000").replace(new RegExp(LONE_SURROGATE.source, "g"), (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

