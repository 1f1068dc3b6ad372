import { performance } from "node:perf_hooks";
import replyFrom, { type FastifyReplyFromHooks } from "@fastify/reply-from";
import type { IncomingHttpHeaders } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { accessKeyOf } from "../http/app.js";
import { registerEarlyRefusal } from "../http/early-refusal.js";
import { toHttpError } from "../http/errors.js";
import { REVISION_HEADER, RUN_ERROR_HEADER, keyParamOf, queryWithoutKey } from "@flowplane/core";
import { deploymentLabels, statusClass } from "../metrics.js";
import { Admissions, type Admission } from "./admission.js";
import { LeastInFlight } from "./balancer.js";
import { RateLimiter, applyTicket, sendRefusal, type Ticket } from "./rate-limit.js";
import { clientResponseHeaders, requestIdOf, setRevisionHeader, upstreamRequestHeaders } from "./headers.js";
import { ROUTE_PATTERN, climbsOut, splitGatewayPath, upstreamPath } from "./paths.js";
import { sendError } from "./replies.js";
import { candidatesFor, revisionFor } from "./revision-choice.js";
import type { GatewayOptions, GatewayRoute } from "./types.js";

/**
 * What the gateway knows about one request, from its arrival to the access-log line. One plain
 * object per request, reached from the request itself: the proxy callbacks below are created
 * once per plugin, not once per request. (Per-request closures handed to the proxy library
 * measurably lengthened garbage collection: they kept request contexts alive past young-generation
 * collections.)
 */
class Exchange {
  readonly start = performance.now();
  route: GatewayRoute | undefined = undefined;
  userId: string | undefined = undefined;
  keyId: string | undefined = undefined;
  /** The replica this request is (or was last) sent to. */
  upstream: string | undefined = undefined;
  /** The rate limiter's hold on this request (its concurrency slots), released when it is done. */
  ticket: Ticket | undefined = undefined;
  /** Reported to the idle controller as a request in flight (scale to zero). */
  active = false;
  /** Already held once while its deployment woke up. */
  held = false;
  /** True while the request counts as in flight on `upstream`. */
  counted = false;
  attempts = 0;
  /** The route's prefix as the client wrote it, and the path on the replica. */
  prefix = "";
  path = "";
  hasBody = false;
  /** The live revision chosen for this call (its replicas' `runs`), and whether the caller asked for it by header. */
  runs: number | undefined = undefined;
  targeted = false;
  constructor(readonly requestId: string) {}
}

const EXCHANGE = "flowplaneExchange";
function exchangeOf(req: object): Exchange {
  return (req as unknown as Record<typeof EXCHANGE, Exchange>)[EXCHANGE];
}

type Hooks = Required<Pick<FastifyReplyFromHooks, "rewriteRequestHeaders" | "rewriteHeaders" | "onError">>;
type PathParams = { projectId: string; appId: string; routeId: string };

const METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"] as const;
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

/**
 * Upstream failures, from undici's error codes:
 * - `refused`: the connection was never made, so nothing was sent: any request may go elsewhere.
 * - `reset`: the replica closed the connection before answering: it may have acted, so only
 *   idempotent requests go elsewhere (this covers a keep-alive socket closed by a draining replica).
 */
function failureOf(err: Error): "refused" | "reset" | "timeout" | "other" {
  const code = (err.cause as { code?: string } | undefined)?.code ?? (err as { code?: string }).code;
  switch (code) {
    case "ECONNREFUSED": case "UND_ERR_CONNECT_TIMEOUT": case "EHOSTUNREACH": case "ENETUNREACH": case "ENOTFOUND":
      return "refused";
    case "UND_ERR_SOCKET": case "ECONNRESET": case "EPIPE": case "UND_ERR_CLOSED":
      return "reset";
    case "UND_ERR_HEADERS_TIMEOUT": case "UND_ERR_BODY_TIMEOUT": case "FST_REPLY_FROM_GATEWAY_TIMEOUT":
      return "timeout";
    default:
      return "other";
  }
}

/**
 * The gateway (DESIGN 7) on a Fastify instance: `/projects/:projectId/apps/:appId/routes/:routeId`
 * and everything below it, for every method, proxied to the route's ready replicas with
 * @fastify/reply-from on undici. It sits in its own encapsulated plugin (own body parsing,
 * error handling and hooks), so it shares an instance with the JSON API without touching it.
 * Errors surface at the instance's `ready()`/`listen()`.
 */
export function registerGateway(app: FastifyInstance, o: GatewayOptions): void {
  void app.register(async (scope) => gatewayPlugin(scope, o));
}

async function gatewayPlugin(scope: FastifyInstance, o: GatewayOptions): Promise<void> {
  const admissions = new Admissions({
    listener: o.listener, resolveRoute: o.resolveRoute, authenticate: o.authenticate, now: o.now ?? Date.now,
    keyTtlMs: o.keyCacheTtlMs, routeTtlMs: o.routeCacheTtlMs,
  });
  const balancer = new LeastInFlight();
  const limiter = o.rateLimiter ?? new RateLimiter({ now: o.now });
  scope.decorateRequest(EXCHANGE, null);
  // Admission (onRequest) before the body: no 100 Continue and no body read for a refused request.
  registerEarlyRefusal(scope);
  // The scope's own logger, not req.log: the routes below run at `warn` so that Fastify's
  // automatic request lines (which carry the URL with its query string) stay out of the log,
  // and the access line is written here instead, with only what may be logged.
  const log = scope.log;

  await scope.register(replyFrom, {
    disableRequestLogging: true, // its lines carry the upstream URL
    undici: {
      connections: o.connectionsPerReplica ?? 128,
      pipelining: 1,
      connect: { timeout: o.connectTimeoutMs ?? 5_000 },
    },
  });

  // Bodies are passed through raw, whatever their type. They are read into memory, bounded by
  // the body limit: that makes the limit exact (413 before a byte goes upstream) and lets a
  // request whose connection was refused be sent again to another replica. Answers, which can
  // be long streams, are never buffered.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: o.bodyLimit }, (_req, body, done) => done(null, body));

  scope.setErrorHandler((err, req, reply) => {
    const { status, body, unexpected } = toHttpError(err);
    if (unexpected) log.error({ err, requestId: exchangeOf(req)?.requestId }, "gateway error");
    void reply.code(status).header(RUN_ERROR_HEADER, body.error.code).send(body);
  });

  // Callback style: with both lookups cached (the common case) admission is synchronous, and
  // the request goes on without a trip through the promise machinery.
  scope.addHook("onRequest", (req, reply, done) => {
    const ex = new Exchange(requestIdOf(req.headers));
    (req as unknown as Record<typeof EXCHANGE, Exchange>)[EXCHANGE] = ex;
    void reply.header("x-request-id", ex.requestId);
    reply.raw.once("close", () => finish(req, reply, ex));
    const key = accessKeyOf(req.headers) ?? keyParamOf(req.url);
    const admitted = (a: Admission) => {
      // Rate limits, after admission: failed authentications per address, then the deployment's limits.
      const limited = limiter.afterAdmission(req.ip, Boolean(key), a);
      if (limited && !limited.ok) return sendRefusal(reply, limited);
      if (!a.ok) return void sendError(reply, a.status, a.status === 401 ? "unauthenticated" : "not_found", a.message);
      if (limited) {
        ex.ticket = limited;
        applyTicket(reply, limited);
      }
      ex.route = a.route;
      ex.userId = a.principal.userId;
      ex.keyId = a.principal.keyId;
      if (o.idle) {
        o.idle.activity(a.route.deploymentId, 1);
        ex.active = true;
      }
      done();
    };
    const failed = (err: unknown) => {
      log.error({ err, requestId: ex.requestId }, "gateway: key or route lookup failed");
      sendError(reply, 500, "internal_error", "an unexpected error occurred; it has been logged");
    };
    try {
      // Rate limits, before admission: an address flooding bad keys is answered here, without a lookup.
      const early = limiter.beforeAdmission(req.ip, () => admissions.verified(key));
      if (early) return sendRefusal(reply, early);
      const a = admissions.admit(key, req.params as PathParams);
      if (a instanceof Promise) a.then(admitted, failed);
      else admitted(a);
    } catch (err) {
      failed(err);
    }
  });

  // Callback style, returning nothing: returning the (thenable) reply would make Fastify wait on
  // it with extra listeners on every request.
  const handler = (req: FastifyRequest, reply: FastifyReply): void => {
    const ex = exchangeOf(req);
    const { prefix, rest } = splitGatewayPath(req.url);
    if (climbsOut(rest)) {
      sendError(reply, 400, "bad_request", "the path may not contain '..' segments");
      return;
    }
    // After admission: only a caller who may reach the deployment learns that it is disabled.
    if (ex.route!.disabled) {
      sendError(reply, 503, "deployment_disabled", "this deployment is disabled by its owners; retry later");
      return;
    }
    // The traffic split (docs/revisions.md): which live revision serves this call.
    const choice = revisionFor(ex.route!, req.headers, req.body, ex.requestId);
    if (choice.error) return void sendError(reply, choice.error.status, choice.error.status === 400 ? "bad_request" : "not_found", choice.error.message);
    ex.runs = choice.live?.runs;
    ex.targeted = choice.targeted;
    ex.prefix = prefix;
    ex.path = upstreamPath(ex.route!.kind, rest);
    ex.hasBody = req.method !== "GET" && req.method !== "HEAD" && Buffer.isBuffer(req.body);
    forward(req, reply, ex);
  };

  for (const url of [ROUTE_PATTERN, `${ROUTE_PATTERN}/*`]) {
    scope.route({ method: [...METHODS], url, exposeHeadRoute: false, logLevel: "warn", bodyLimit: o.bodyLimit, handler });
  }

  function forward(req: FastifyRequest, reply: FastifyReply, ex: Exchange, failed?: string): void {
    const route = ex.route!;
    const upstream = balancer.pick(candidatesFor(o.endpoints, route.resourceName, ex.runs, ex.targeted), failed);
    // Scaled to zero (or still starting): hold the request while the deployment wakes, once,
    // up to its wake timeout; then forward it, or answer 503 if nothing is ready even so.
    if (upstream === undefined && !failed && !ex.held && o.idle && route.wakeTimeoutSeconds !== undefined) {
      ex.held = true;
      const go = () => { if (!req.raw.socket.destroyed) forward(req, reply, ex); };
      o.idle.wake(route.deploymentId, route.wakeTimeoutSeconds * 1000).then(go, (err: unknown) => {
        log.error({ err, requestId: ex.requestId, deploymentId: route.deploymentId }, "gateway: wake-up failed");
        go();
      });
      return;
    }
    if (upstream === undefined) {
      sendError(reply, 503, "unavailable", failed ? "no ready replica accepted the connection; retry shortly" : "the deployment has no ready replica; retry shortly");
      return;
    }
    ex.attempts++;
    ex.upstream = upstream;
    ex.counted = true;
    balancer.acquire(upstream);
    o.metrics.gatewayInFlight.add(route.kind, 1);
    reply.from(upstream + ex.path, {
      // undici's headersTimeout and bodyTimeout: how long the replica may take to start its
      // answer, then how long it may stay silent between two chunks. Not a cap on the whole
      // exchange, so a stream (SSE, MCP) lives as long as data keeps flowing.
      timeout: route.requestTimeoutSeconds * 1000,
      // The raw bytes as received: reply-from would re-encode a JSON body otherwise.
      ...(ex.hasBody ? { body: req.body, contentType: req.headers["content-type"] ?? "application/octet-stream" } : {}),
      rewriteRequestHeaders, rewriteHeaders, onError, queryString,
    });
  }

  function release(ex: Exchange): void {
    if (!ex.counted) return;
    ex.counted = false;
    balancer.release(ex.upstream!);
    o.metrics.gatewayInFlight.add(ex.route!.kind, -1);
  }

  // The client's query string minus Langflow's `x-api-key` parameter: like the key headers, a key
  // never reaches the replica. (Without this option the proxy would copy the client's query as is.)
  const queryString = (_search: string | undefined, reqUrl: string): string => queryWithoutKey(reqUrl);

  const rewriteRequestHeaders: Hooks["rewriteRequestHeaders"] = (req, headers) => {
    const ex = exchangeOf(req);
    if (!ex.hasBody) delete headers["content-length"];
    // The gateway has answered `Expect` itself (early-refusal.ts) and holds the whole body; undici refuses the header.
    delete headers.expect;
    return upstreamRequestHeaders(headers as IncomingHttpHeaders, { requestId: ex.requestId, clientIp: req.ip, protocol: req.protocol, host: req.headers.host, prefix: ex.prefix, gatewaySecret: o.gatewaySecret(ex.route!.deploymentId) });
  };

  const rewriteHeaders: Hooks["rewriteHeaders"] = (headers, req) => {
    const out = clientResponseHeaders(headers);
    out["x-request-id"] = exchangeOf(req!).requestId;
    return setRevisionHeader(out, exchangeOf(req!).route!);
  };

  const onError: Hooks["onError"] = (r, { error }) => {
    const reply = r as unknown as FastifyReply;
    const req = reply.request;
    const ex = exchangeOf(req);
    const route = ex.route!;
    const upstream = ex.upstream;
    release(ex);
    const failure = failureOf(error);
    const retry = ex.attempts === 1 && !req.raw.socket.destroyed && (failure === "refused" || (failure === "reset" && IDEMPOTENT.has(req.method)));
    o.metrics.gatewayUpstreamErrors.inc({ reason: failure, retried: String(retry) });
    log.warn({ requestId: ex.requestId, routeId: route.routeId, upstream, failure, code: (error.cause as { code?: string } | undefined)?.code }, "gateway: upstream failed");
    if (retry) return forward(req, reply, ex, upstream);
    if (failure === "timeout") return void sendError(reply, 504, "gateway_timeout", `the replica did not answer within ${route.requestTimeoutSeconds} s`);
    if (failure === "refused") return void sendError(reply, 503, "unavailable", "no ready replica accepted the connection; retry shortly");
    sendError(reply, 502, "bad_gateway", "the replica failed while handling the request");
  };

  /** Runs once per request when its connection is done with it (answered, failed or abandoned). */
  function finish(req: FastifyRequest, reply: FastifyReply, ex: Exchange): void {
    release(ex);
    ex.ticket?.release();
    if (ex.active) {
      ex.active = false;
      o.idle!.activity(ex.route!.deploymentId, -1);
    }
    const raw = reply.raw;
    // 499 (client closed the request) when the client left before the answer began, as nginx logs it.
    const status = raw.headersSent ? raw.statusCode : 499;
    const durationMs = performance.now() - ex.start;
    const route = ex.route;
    o.metrics.gatewayRequestDuration.observe(
      { route_id: route?.routeId ?? "unresolved", kind: route?.kind ?? "unresolved", status_class: statusClass(status), ...deploymentLabels(route, reply.getHeader(REVISION_HEADER)) },
      durationMs / 1000,
    );
    // Never the URL (its query string and path may carry data), never headers, never bodies.
    log.info({
      requestId: ex.requestId, routeId: route?.routeId ?? (req.params as PathParams).routeId, deploymentId: route?.deploymentId,
      userId: ex.userId, method: req.method, status, durationMs: Math.round(durationMs * 100) / 100,
      upstream: ex.upstream, attempts: ex.attempts, completed: raw.writableFinished,
    }, "gateway request");
    // The run history (runs/recorder.ts): a push into a bounded buffer, written in batches elsewhere.
    o.runs?.record({
      route, userId: ex.userId, keyId: ex.keyId, requestId: ex.requestId, method: req.method, path: ex.path, headers: req.headers,
      body: req.body, status, latencyMs: durationMs, errorCode: reply.getHeader(RUN_ERROR_HEADER) as string | undefined,
      // The revision named to the client: the replica's own when it said, else the route's.
      revision: Number(reply.getHeader(REVISION_HEADER)) || null,
    });
  }
}
