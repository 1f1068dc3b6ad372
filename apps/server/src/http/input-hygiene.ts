import { isUtf8 } from "node:buffer";
import type { FastifyInstance } from "fastify";
import { MAX_JSON_DEPTH, ValidationError, jsonFrameOf, nextJsonKey, type FieldError, type JsonFrame } from "@flowplane/core";

/**
 * Input hygiene at the edge: before any handler (and so before the database) sees a request,
 * every string in its path parameters, query string and JSON body, keys included, at any
 * depth, must be text PostgreSQL can store, and the body must not nest deeper than
 * MAX_JSON_DEPTH. A request that breaks either gets 400 naming the field; nothing is written.
 *
 * - PostgreSQL's `text` cannot hold NUL, and `jsonb` refuses both the `\u0000` escape and a
 *   lone UTF-16 surrogate (`\ud800` alone), which JSON can carry but Unicode text cannot.
 *   Without this check those reach the store and come back as a 500.
 * - Deeply nested JSON makes recursive code (digests, canonical JSON, zod) overflow the stack.
 *
 * The dry run of a deploy and the real call pass through this same hook, so they agree.
 */

/** Deepest nesting accepted in a request body (core json-depth.ts says why, and why 64). */
export { MAX_JSON_DEPTH };

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

/**
 * Registers the check for every route of `app`: the body's bytes are UTF-8 (JSON's encoding),
 * then path parameters, query and body as above. Decoded as it came, a byte that is not UTF-8
 * became U+FFFD without a word: a credential holding one was stored, and reached its replica,
 * as another value than the one sent (and a `charset=latin1` body was read as UTF-8 all the same).
 */
export function registerInputHygiene(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    const bytes = body as Buffer;
    if (!isUtf8(bytes)) {
      done(new ValidationError([{ field: "body", message: "the request body is not valid UTF-8: send JSON encoded in UTF-8" }]), undefined);
      return;
    }
    void json(req, bytes.toString("utf8"), done);
  });
  app.addHook("preValidation", async (req) => {
    const problem = inputProblem(req.params ?? {}, "") ?? inputProblem(req.query ?? {}, "") ?? inputProblem(req.body, "");
    if (problem) throw new ValidationError([problem]);
  });
}
