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
