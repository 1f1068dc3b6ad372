import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { GATEWAY_SECRET_HEADER, PROBE_PATHS, REVISION_HEADER, RUN_ERROR_HEADER, RUN_ID_HEADER, RUN_ID_PATTERN, gatewaySecretChecker } from "@flowplane/core/replica";
import { registerMcp } from "../mcp.js";
import { sendError, toHttp, type HostContext } from "./context.js";
import { registerLangflowRoutes } from "./langflow-routes.js";
import { registerFileRoutes } from "./file-routes.js";
import { registerLfxRoutes } from "./lfx-routes.js";
import { registerMetaRoutes } from "./meta-routes.js";
import { AnswerBatch, answered } from "./answer-batch.js";
import { OpenList } from "./open-list.js";
import { Router, readBody, send, type RuntimeRequest } from "./routing.js";

/**
 * The runtime's HTTP server: the contract's routes, MCP, one error shape, an access log without
 * bodies. The request id is the gateway's run id (RUN_ID_HEADER, a UUID it makes for every
 * request it forwards), so a request's lines in the gateway and in the replica share it and its
 * trace is joined to its run by it. Never the caller's `x-request-id`: a caller could choose
 * another call's and collide with its trace.
 */
export interface RuntimeApp {
  /** Binds host:port, or serves the inherited listening socket `fd`; resolves with `http://host:port`. */
  listen(host: string, port: number, fd?: number): Promise<string>;
  /** Every response from now on closes its connection (`Connection: close`), those already under way included. */
  drain(): void;
  /** Stops listening, ends idle connections, resolves when every connection is gone. */
  close(): Promise<void>;
}

/**
 * Fastify's keep-alive timeout, kept: a gateway pools its connections to a replica and must
 * not find one closed under it between two requests.
 */
const KEEP_ALIVE_MS = 72_000;

/**
 * How long a new connection may stay silent before its first request, and how long any request's
 * headers may take to arrive. Node bounds neither a connection that never sends a byte (held for
 * ever) nor, by default, headers before 60 s. A gateway writes its request as soon as it connects
 * (undici and HAProxy open no connection ahead), so these cost it nothing; without them any
 * process that can reach this port (another deployment's flow, on the local driver's shared
 * loopback) could hold its fds and memory without ever passing the secret check (nor after its
 * one answer: a request without the secret closes its connection, see handle). Once a request
 * has arrived the connection is the gateway's: no inactivity bound while it is answered (an LLM
 * run may think for minutes before its first byte), then Node's keep-alive bound (KEEP_ALIVE_MS).
 */
const FIRST_REQUEST_MS = 10_000;
const HEADERS_MS = 10_000;
/**
 * The largest request head the replica reads: twice Node's 16 KiB. The gateway (and HAProxy's
 * fast path) accepts a caller's head up to 16 KiB and then adds its own headers (the secret, the
 * run id, X-Forwarded-*), so at Node's default a head the gateway had accepted could be refused
 * here: a 431 without a body, in no documented shape, passed on to the caller. What the gateway
 * adds is bounded (well under 1 KiB), so this leaves room for all of it.
 */
const MAX_HEADER_BYTES = 32 * 1024;
/**
 * The most headers the replica keeps: twice Node's 1,000 (beyond which it drops them silently).
 * The gateway keeps a caller's first 1,000 and adds its own after them, the secret first: at
 * Node's count those were the ones dropped, and the gateway's own request was refused 401 as not
 * the gateway's.
 */
const MAX_HEADERS = 2_000;
/** The connection's first-request timer, cleared by its first request. */
const FIRST_REQUEST = Symbol("firstRequestTimer");
/** Set when a request came pipelined behind another on the connection (see handle). */
const PIPELINED = Symbol("pipelined");
type TimedSocket = Socket & { [FIRST_REQUEST]?: NodeJS.Timeout | undefined; [PIPELINED]?: true };

/** The parameters of a request before its route is found (the route's own replace them); never written. */
const NO_PARAMS: Record<string, string> = Object.freeze({});

const UNAUTHENTICATED = { error: { code: "unauthenticated", message: "this replica answers only requests forwarded by its gateway", details: null } };

export function buildApp(ctx: HostContext): RuntimeApp {
  const router = new Router();
  registerMetaRoutes(router, ctx);
  registerLfxRoutes(router, ctx);
  registerLangflowRoutes(router, ctx);
  registerFileRoutes(router, ctx);
  registerMcp(router, ctx);
  const secretMatches = ctx.config.gatewaySecret === null ? null : gatewaySecretChecker(ctx.config.gatewaySecret);
  /** Responses not finished yet, so a drain can mark them `Connection: close` before their headers go. */
  const open = new OpenList<ServerResponse>();
  /** The answers of one pass of the event loop, written at its end (answer-batch.ts says why). */
  const batch = new AnswerBatch();
  let closing = false;
  let seq = 0;

  const appError = (err: unknown, req: RuntimeRequest, res: ServerResponse) => {
    if (toHttp(err).status >= 500) ctx.log.error({ requestId: req.id, error: err instanceof Error ? err.message : String(err) }, "request failed");
    sendError(res, err);
  };

  async function handle(raw: IncomingMessage, res: ServerResponse): Promise<void> {
    const socket = raw.socket as TimedSocket;
    if (socket[FIRST_REQUEST] !== undefined) {
      clearTimeout(socket[FIRST_REQUEST]);
      socket[FIRST_REQUEST] = undefined;
    }
    const method = raw.method ?? "GET";
    const url = raw.url ?? "/";
    const q = url.indexOf("?");
    // Path only in logs and errors: a query string may carry anything.
    const path = q < 0 ? url : url.slice(0, q);
    const given = raw.headers[RUN_ID_HEADER];
    const fromGateway = typeof given === "string" && RUN_ID_PATTERN.test(given);
    const id = fromGateway ? given : `req-${(seq++).toString(36)}`;
    // Counted on the response, so streaming and MCP answers are counted until they end.
    ctx.state.inFlight++;
    open.add(res);
    batch.adopt(res);
    // Pipelined behind a response still under way: queued without a socket. If the connection
    // closes before its turn (the one ahead closed it, or the client left), Node 20 never emits
    // its 'close' (fixed upstream, nodejs/node#62534): it would stay in `open` and in inFlight
    // for ever, and a SIGTERM wait out the whole grace. The connection's 'close' ends it instead.
    if (res.socket === null) socket[PIPELINED] = true;
    const started = Date.now();
    res.once("close", () => {
      ctx.state.inFlight--;
      open.delete(res);
      // Path only: a query string may carry anything. Debug, not info: one line per request is
      // the gateway's access log; the replica's own is for when one looks closer.
      ctx.log.debug({ requestId: id, method, path, status: res.statusCode, ms: Date.now() - started }, "request");
      // Closing: a kept-alive connection whose last answer just went is idle now; end it.
      if (closing) server.closeIdleConnections();
    });
    // Only the gateway may call this replica: it adds the deployment's secret to every request it
    // forwards. The platform's probes (/health, /ready) stay open; they reveal nothing.
    const hasSecret = secretMatches === null || secretMatches(raw.headers[GATEWAY_SECRET_HEADER]);
    // A request without the secret gets its one answer, then the connection closes: else the
    // 72 s keep-alive (renewed by a probe every minute) or a body announced and never sent let
    // a caller that never passes the check hold the connection for ever, past FIRST_REQUEST_MS
    // and HEADERS_MS. The gateway sends the secret on every request, so its connections stay.
    if (ctx.state.draining || !hasSecret) res.setHeader("connection", "close");
    if (ctx.config.revision !== null) res.setHeader(REVISION_HEADER, String(ctx.config.revision));
    if (!hasSecret && !PROBE_PATHS.has(path)) return send(res, 401, UNAUTHENTICATED);
    const req: RuntimeRequest = { id, fromGateway, method, path, search: q < 0 ? "" : url.slice(q + 1), params: NO_PARAMS, headers: raw.headers, body: undefined, raw };
    let onError = appError;
    try {
      const found = router.find(method, path);
      if (!found) {
        // A known path asked with another method: 405 with Allow, as Langflow (Starlette) and the
        // API answer it; Langflow's own `{"detail"}` below /api/v1/, where its clients read it.
        const allowed = router.methodsAt(path);
        if (allowed.length === 0) return send(res, 404, { error: { code: "not_found", message: `no route ${method} ${path}`, details: null } });
        res.setHeader("allow", allowed.join(", "));
        if (!path.startsWith("/api/v1/")) return send(res, 405, { error: { code: "method_not_allowed", message: `${method} is not allowed on ${path}; it answers ${allowed.join(", ")}`, details: null } });
        res.setHeader(RUN_ERROR_HEADER, "method_not_allowed");
        return send(res, 405, { detail: "Method Not Allowed" });
      }
      req.params = found.params;
      if (found.route.onError) onError = found.route.onError;
      if (found.route.method === "POST" && !found.route.rawBody) req.body = await readBody(raw, ctx.config.maxBodyBytes, found.route.bodyRequired === true);
      const payload = await found.route.handler(req, res);
      if (payload !== undefined && !res.headersSent) send(res, 200, payload);
    } catch (err) {
      // The client left (its run was cancelled for it, context.ts RunCanceller): no one to answer,
      // and nothing failed here to log.
      if (res.destroyed) return;
      if (res.headersSent) {
        // Too late for an error answer (a stream under way): end it.
        ctx.log.error({ requestId: id, error: err instanceof Error ? err.message : String(err) }, "request failed");
        // An answer queued in the batch ends itself, whole.
        if (!answered(res)) res.end();
      } else onError(err, req, res);
    }
  }

  // Checked every 5 s (Node's default is 30 s), so HEADERS_MS is kept within that.
  const server: Server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS, headersTimeout: HEADERS_MS, connectionsCheckingInterval: 5_000, maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => void handle(req, res));
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.maxHeadersCount = MAX_HEADERS;
  server.on("connection", (socket: TimedSocket) => {
    const timer = setTimeout(() => socket.destroy(), FIRST_REQUEST_MS);
    timer.unref();
    socket[FIRST_REQUEST] = timer;
    socket.once("close", () => {
      clearTimeout(timer);
      if (socket[PIPELINED] !== true) return;
      const stranded: ServerResponse[] = [];
      for (const res of open) if (res.socket === null && res.req.socket === socket) stranded.push(res);
      for (const res of stranded) {
        res.destroy();
        res.emit("close");
      }
    });
  });
  return {
    listen: (host, port, fd) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        const listening = () => {
          server.off("error", reject);
          const { address, port: bound } = server.address() as AddressInfo;
          resolve(`http://${address.includes(":") ? `[${address}]` : address}:${bound}`);
        };
        if (fd === undefined) server.listen(port, host, listening);
        else server.listen({ fd }, listening);
      }),
    drain() {
      for (const res of open) if (!res.headersSent) res.setHeader("connection", "close");
    },
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        closing = true;
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
