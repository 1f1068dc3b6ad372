import type { FastifyInstance } from "fastify";

/**
 * A request is refused (401, 403, 404, 413...) before its body is read, and the body is then
 * not read at all. Authentication and route admission run in `onRequest` hooks, which Fastify
 * runs on the headers alone; this module covers the two ways a body could still be taken in:
 *
 * - `Expect: 100-continue`. Node answers `100 Continue` by itself, at once, before any hook
 *   runs, unless the server has a `checkContinue` listener. With this one, the request goes
 *   through the hooks first and `100 Continue` is written only in `preParsing`, which runs once
 *   every `onRequest` hook (authentication, admission) has let the request through. A refused
 *   client never sends its body.
 * - A client that sends its body without waiting. Node would keep the connection alive and read
 *   the rest of the body to throw it away; an answer given while the request is incomplete
 *   carries `Connection: close` instead, so the connection ends after the answer.
 */
const INSTALLED = Symbol.for("flowplane.earlyRefusal");
const CONTINUED = Symbol.for("flowplane.continued");

export function registerEarlyRefusal(app: FastifyInstance): void {
  const server = app.server as typeof app.server & { [INSTALLED]?: true };
  if (!server[INSTALLED]) {
    server[INSTALLED] = true;
    // Deliver the request as an ordinary one; `100 Continue` is written below, once admitted.
    server.on("checkContinue", (req, res) => server.emit("request", req, res));
  }
  app.addHook("preParsing", async (req, reply, payload) => {
    const raw = req.raw as typeof req.raw & { [CONTINUED]?: true };
    // Registered on the root and on the gateway's scope: write it once.
    // A declared length over the limit is refused by the body parser (413): no Continue for it either.
    const declared = Number(req.headers["content-length"] ?? 0);
    const tooLarge = Number.isFinite(declared) && declared > req.routeOptions.bodyLimit;
    if (!raw[CONTINUED] && !tooLarge && /100-continue/i.test(String(req.headers.expect ?? "")) && !raw.complete) {
      raw[CONTINUED] = true;
      reply.raw.writeContinue();
    }
    return payload;
  });
  app.addHook("onSend", async (req, reply, payload) => {
    if (!req.raw.complete) void reply.header("connection", "close");
    return payload;
  });
}
