import type { Socket } from "node:net";
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
 *   all the rest of the body to throw it away; an answer given while the request is incomplete
 *   carries `Connection: close` instead, and the connection ends after a short, bounded
 *   lingering close (below), so the client reads the answer rather than a reset.
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
    if (!req.raw.complete) {
      void reply.header("connection", "close");
      lingerBeforeClose(req.raw.socket, 2 * (req.routeOptions.bodyLimit ?? 10 * 1024 * 1024));
    }
    return payload;
  });
}

/** How long a refused client may go on sending before its connection is closed. */
export const LINGER_MS = 2_000;

/**
 * nginx's lingering close: closing a socket the client is still writing to makes its kernel
 * answer with a reset, and the client may lose the answer it was sent (fetch reports "fetch
 * failed" instead of the 401 or 413). So after the answer, what still arrives is discarded
 * (never parsed, never buffered) for at most LINGER_MS and `maxBytes`, then the socket closes.
 * Node calls `destroySoon()` once a `Connection: close` answer is written; this socket's own
 * version ends the writing side at once and destroys the socket when the client is done, or
 * when the bounds are reached.
 */
export function lingerBeforeClose(socket: Socket, maxBytes: number): void {
  const s = socket as Socket & { [LINGERING]?: true };
  if (s[LINGERING]) return;
  s[LINGERING] = true;
  s.destroySoon = function lingering(this: Socket) {
    const start = this.bytesRead;
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    const onData = () => {
      if (this.bytesRead - start > maxBytes) this.destroy();
    };
    this.on("data", onData);
    this.once("close", () => clearTimeout(timer));
    this.once("end", () => this.destroy());
    this.end();
    this.resume();
  };
}
const LINGERING = Symbol.for("flowplane.lingering");
