import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { hasBody } from "../gateway/body.js";

/**
 * How long a request body may take: `graceMs`, plus one second for every `bytesPerSecond` bytes
 * received. Node's own bound (`requestTimeout`, 300 s by default) is on the whole request
 * whatever arrives: a 10 MiB upload over a link slower than 35 KB/s was cut with a 408 however
 * steadily it came, while Fastify (the API) sets none at all, so one caller could keep a
 * connection, and a descriptor of the control plane, for ever by sending a body a byte a minute.
 * A pace keeps both: a slow upload that keeps coming is served, and a body that does not is
 * answered 408 (`request_timeout`, in the one error shape) and its connection closed.
 */
export interface BodyPace {
  /** What any body may take, however small (default 300 s, Node's own bound before). */
  graceMs: number;
  /** Each this many bytes received buys one more second (default 4 KiB: 32 kbit/s on average). */
  bytesPerSecond: number;
  /** How often the bodies under way are looked at (default 5 s; Node checks its own timeouts every 30 s). */
  checkEveryMs: number;
}

export const DEFAULT_BODY_PACE: BodyPace = Object.freeze({ graceMs: 300_000, bytesPerSecond: 4096, checkEveryMs: 5_000 });

/** Set on a request whose body the pace cut (see bodyTimedOut). */
const TIMED_OUT = Symbol("flowplane.bodyTimedOut");

/**
 * Whether `req`'s body was cut by the pace. Its 408 is written to the connection by the
 * server's clientError listener, not through `req`'s own response, so a handler that logs what
 * it answered (the gateway's access log and run history) would otherwise take the closed
 * connection for a client that left (499).
 */
export function bodyTimedOut(req: IncomingMessage): boolean {
  return (req as IncomingMessage & { [TIMED_OUT]?: true })[TIMED_OUT] === true;
}

interface Reading {
  req: IncomingMessage;
  res: ServerResponse;
  socket: Socket;
  startedAt: number;
  bytesAtStart: number;
}

/**
 * Holds every request body `server` reads to the pace. The bytes counted are the connection's
 * (`socket.bytesRead`), so nothing listens to the body itself and its handler reads it as it
 * would. Headers have their own bound (Node's `headersTimeout`); a request without a body, or
 * whose body has arrived whole (`req.complete`), is not watched. Returns what stops the watch.
 * The server's `requestTimeout` should be 0: this replaces it. Install it after the server's own
 * `request` and `checkContinue` listeners.
 */
export function enforceBodyPace(server: Server, pace: BodyPace = DEFAULT_BODY_PACE): () => void {
  const reading = new Set<Reading>();
  // A request can come twice (the API's checkContinue listener emits it again as a `request`).
  const seen = new WeakSet<IncomingMessage>();
  const watch = (req: IncomingMessage, res: ServerResponse) => {
    if (seen.has(req) || req.complete || !hasBody(req)) return;
    seen.add(req);
    const socket = req.socket;
    // A monotonic clock, as Node's own timeouts: a step of the wall clock cut (or spared) every body at once.
    const r: Reading = { req, res, socket, startedAt: performance.now(), bytesAtStart: socket.bytesRead };
    reading.add(r);
    // Once the body is whole, or the request over, nothing is left to watch.
    const forget = () => reading.delete(r);
    req.once("end", forget);
    req.once("close", forget);
  };
  server.prependListener("request", watch);
  // `Expect: 100-continue`: a server without a checkContinue listener gets it as a `request`
  // (Node writes the 100 first); adding one would change that, so only a listener already there
  // is joined. Hence: install after the server's own listeners.
  const continues = server.listenerCount("checkContinue") > 0;
  if (continues) server.prependListener("checkContinue", watch);
  const timer = setInterval(() => {
    const now = performance.now();
    for (const r of reading) {
      if (r.req.complete || r.socket.destroyed) {
        reading.delete(r);
        continue;
      }
      // Pipelined behind an answer still going out: Node reads nothing more until that answer is
      // taken, so the body's time starts once its own answer is the connection's.
      const current = (r.socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (current && current !== r.res) {
        r.startedAt = now;
        r.bytesAtStart = r.socket.bytesRead;
        continue;
      }
      const allowedMs = pace.graceMs + ((r.socket.bytesRead - r.bytesAtStart) / pace.bytesPerSecond) * 1000;
      if (now - r.startedAt <= allowedMs) continue;
      reading.delete(r);
      (r.req as IncomingMessage & { [TIMED_OUT]?: true })[TIMED_OUT] = true;
      // Answered as Node answers its own request timeout: the server's clientError listener
      // (http/client-errors.ts) writes the 408 unless an answer is under way, then closes.
      const err = Object.assign(new Error("the request body did not arrive in time"), { code: "ERR_HTTP_REQUEST_TIMEOUT" });
      if (server.listenerCount("clientError") > 0) server.emit("clientError", err, r.socket);
      else r.socket.destroy();
    }
  }, pace.checkEveryMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    server.off("request", watch);
    server.off("checkContinue", watch);
  };
}
