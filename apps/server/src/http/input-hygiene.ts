import { isUtf8 } from "node:buffer";
import type { FastifyInstance } from "fastify";
import { MAX_JSON_DEPTH, ValidationError, inputProblem } from "@flowplane/core";

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

/** Deepest nesting accepted in a request body (core json-depth.ts says why, and why 64); the rule itself is core's storable-json.ts. */
export { MAX_JSON_DEPTH, inputProblem };

/**
 * The JSON body parser of every listener (http/listener.ts). The body's bytes must be UTF-8
 * (JSON's encoding): decoded as it came, a byte that is not UTF-8 became U+FFFD without a word,
 * so a credential holding one was stored, and reached its replica, as another value than the one
 * sent (and a `charset=latin1` body was read as UTF-8 all the same). Then Fastify's own parser,
 * which refuses prototype poisoning (`__proto__`, `constructor.prototype`).
 *
 * An empty body is no body, as a request without one: many HTTP clients send `Content-Type:
 * application/json` on every request (an undeploy, a DELETE with nothing to send, was refused
 * 400 for it). A route whose body is optional then runs; one that needs a body answers as it
 * does when none is sent (its schema's 400 naming the field). Only zero bytes: white space is
 * JSON that does not parse.
 */
export function registerJsonBodies(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    const bytes = body as Buffer;
    if (bytes.length === 0) {
      done(null, undefined);
      return;
    }
    if (!isUtf8(bytes)) {
      done(new ValidationError([{ field: "body", message: "the request body is not valid UTF-8: send JSON encoded in UTF-8" }]), undefined);
      return;
    }
    void json(req, bytes.toString("utf8"), done);
  });
}

/** Registers the check above for every route of `app`: path parameters, query and body (after registerJsonBodies' parse). */
export function registerInputHygiene(app: FastifyInstance): void {
  app.addHook("preValidation", async (req) => {
    const problem = inputProblem(req.params ?? {}, "") ?? inputProblem(req.query ?? {}, "") ?? inputProblem(req.body, "");
    if (problem) throw new ValidationError([problem]);
  });
}
