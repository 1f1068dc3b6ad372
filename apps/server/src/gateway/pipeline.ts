import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { TooManyRequestsError, accessKeyShaped, keyParamOf, queryWithoutKey } from "@flowplane/core";
import { accessKeyOf } from "../http/access-key.js";
import { BodyBudget, bodyBudgetLimits } from "../http/body-budget.js";
import { bodyTimedOut } from "../http/body-pace.js";
import { closeWithConnection } from "../http/close-with-connection.js";
import { deploymentLabels, statusClass } from "../metrics.js";
import { ACCESS_MESSAGE, type AccessLine } from "./access-log.js";
import { Admissions, READMIT_AFTER_MS } from "./admission.js";
import { LeastInFlight } from "./balancer.js";
import { declaredTooLarge, hasBody, readBody } from "./body.js";
import { Exchange, attachExchange, exchangeOf } from "./exchange.js";
import { Upstreams } from "./forward.js";
import { correlationIdOf, newRequestId, upstreamRequestHeaders } from "./headers.js";
import { gatewayParams, pathRefusal, splitGatewayPath, upstreamPath } from "./paths.js";
import { REPLICA_FAILURE, sendError } from "./replies.js";
import { candidatesFor, revisionFor } from "./revision-choice.js";
import { Cors, isPreflight } from "./cors.js";
import { RateLimiter, type Refusal } from "./rate-limit.js";
import { LookupTimeoutError, type GatewayOptions } from "./types.js";
import { monotonicNow } from "../clock.js";

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

/** A gateway on plain node:http: `handle` takes any request whose path is a gateway path (paths.ts `gatewayParams`). */
export interface Gateway {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Route answers are cached for up to 1 s: drop them (the control plane pushes this when a deployment changes). */
  forgetRoutes(): void;
  close(): Promise<void>;
}

/** The kill switch's answer (503 deployment_disabled), at admission and when admitted again. */
const DISABLED_MESSAGE = "this deployment is disabled by its owners; retry later";

/**
 * The gateway's request pipeline (DESIGN 7), one request at a time, as a sequence of steps:
 *
 *   (rate limits) admit (rate limits) -> disabled? -> read the body -> which revision -> pick a replica -> forward (retry once) -> finish
 *
 * Each step is one line in `run` below; what a step learns lands on the request's Exchange, and
 * `finish` (when the connection lets go of the request) writes the access line and the metrics
 * from it. No framework: node:http in, undici out, no per-request work beyond these steps.
 */
export function createGateway(o: GatewayOptions): Gateway {
  const clock = o.now ?? monotonicNow;
  const admissions = new Admissions({
    listener: o.listener, resolveRoute: o.resolveRoute, authenticate: o.authenticate, now: clock,
    keyTtlMs: o.keyCacheTtlMs, routeTtlMs: o.routeCacheTtlMs,
  });
  const balancer = new LeastInFlight();
  const { log, metrics, bodyLimit } = o;
  // A connection that failed its listener check (a dead replica's port taken, or the table unreadable): said once per port per 10 s.
  const foreignSaid = new Map<string, number>();
  const upstreams = new Upstreams({
    connectionsPerReplica: o.connectionsPerReplica ?? 128, connectTimeoutMs: o.connectTimeoutMs ?? 5_000,
    onForeignListener: (origin, why) => {
      const now = monotonicNow();
      if ((foreignSaid.get(origin) ?? -Infinity) > now - 10_000) return;
      foreignSaid.set(origin, now);
      log.warn({ upstream: origin, why }, "a connection to a replica failed its listener check: closed unused, the call sent elsewhere");
    },
  });
  const accessLog = o.accessLog ?? ((line: AccessLine) => log.info({ ...line }, ACCESS_MESSAGE));
  // One limiter for both listeners of a process (serve.ts passes it); its share of every limit is 1/N with N gateway processes.
  const limiter = o.rateLimiter ?? new RateLimiter({ now: o.now });
  const { idle, runs } = o;
  const bodies = o.bodyBudget ?? new BodyBudget(bodyBudgetLimits(bodyLimit));
  const refuse = (ex: Exchange, r: Refusal) => sendError(ex, 429, "rate_limited", r.message, bodyLimit, r.headers);
  // The body budget's 429 (roomForBody), counted with the limiter's as every gateway 429 is.
  const fail429 = (ex: Exchange, err: TooManyRequestsError) => {
    metrics.gatewayRateLimited.inc({ reason: "body-budget" });
    sendError(ex, 429, "rate_limited", err.message, bodyLimit, { "retry-after": String(err.retryAfterSeconds ?? 1) });
  };
  const fail = (ex: Exchange, status: number, code: Parameters<typeof sendError>[2], message: string) => sendError(ex, status, code, message, bodyLimit);
  // Off (the default): no CORS header is ever written and a preflight is a request like any other (401 without a key).
  const cors = o.cors && o.cors.mode !== "off" ? new Cors(o.cors) : undefined;

  async function run(ex: Exchange): Promise<void> {
    const { req } = ex;
    const params = gatewayParams(req.url ?? "")!;

    // 0. A browser's CORS preflight carries no key: answered here, before any key check, lookup or
    //    rate limit (it costs no bad-key token), and never forwarded.
    if (cors && isPreflight(req)) return preflight(ex, cors);

    // 1. Admission, on the headers alone: no key, unknown key or route: 401/404, body unread.
    //    Rate limits around it (rate-limit.ts): an address flooding bad keys has what cannot be a
    //    key refused before any lookup, and its bad keys after; a good key is never limited by them.
    //    An admitted request then meets its deployment's and its key's limits.
    const key = accessKeyOf(req.headers) ?? keyParamOf(req.url ?? "");
    const ip = req.socket.remoteAddress ?? "";
    const early = limiter.beforeAdmission(ip, () => admissions.verified(key) || accessKeyShaped(key));
    if (early) return refuse(ex, early);
    // An address over budget looks its keys up one at a time (rate-limit.ts lookupTurn).
    const turn = limiter.lookupTurn(ip, () => admissions.verified(key));
    const endTurn = turn === null ? null : await turn;
    let a: Awaited<ReturnType<typeof admissions.admit>>;
    try {
      // Gone while it waited in line: its lookup is not made.
      if (endTurn && ex.finished) return;
      const admission = admissions.admit(key, params);
      a = admission instanceof Promise ? await admission : admission;
    } finally {
      endTurn?.();
    }
    const admittedAt = clock();
    // The client may have left while the key or route was looked up: finish has run already and
    // released nothing, so nothing may be taken for the request now. A concurrency slot or
    // scale-to-zero activity taken after finish was never given back: a caller who closed each
    // connection right after its request line filled a deployment's maxConcurrent for good (429
    // to every caller until the gateway restarted) and kept it awake for ever. A bad key still
    // costs its address, as it would have.
    if (ex.finished) {
      if (!a.ok) limiter.afterAdmission(ip, Boolean(key), a);
      return;
    }
    const limiting = limiter.afterAdmission(ip, Boolean(key), a);
    const limited = limiting instanceof Promise ? await limiting : limiting;
    // Asked of a worker (the control plane's own gateway): the client may have left meanwhile.
    if (ex.finished) return limited?.ok ? limited.release() : undefined;
    if (limited && !limited.ok) return refuse(ex, limited);
    if (!a.ok) return notAdmitted(ex, a);
    ex.route = a.route;
    ex.userId = a.principal.userId;
    ex.keyId = a.principal.keyId;
    if (limited) {
      ex.ticket = limited;
      // The proxied answer keeps these (writeHead merges them with the replica's headers).
      if (limited.headers.ratelimit) for (const [k, v] of Object.entries(limited.headers)) ex.res.setHeader(k, v);
    }
    if (idle) {
      idle.activity(a.route.deploymentId, 1);
      ex.active = true;
    }

    // 2. The kill switch, after admission: only a caller who may reach the deployment learns that it is disabled.
    if (a.route.disabled) return fail(ex, 503, "deployment_disabled", DISABLED_MESSAGE);

    // 3. Where it goes on the replica.
    const { prefix, rest } = splitGatewayPath(req.url!);
    const refused = pathRefusal(rest);
    if (refused !== null) return fail(ex, 400, "bad_request", refused);
    ex.prefix = prefix;
    const query = queryWithoutKey(req.url!); // the key parameter never reaches the replica
    ex.path = upstreamPath(a.route.kind, rest);
    ex.search = query ? `?${query}` : "";

    // 4. The body, whole and bounded (413 above the limit); `100 Continue` only now, once admitted.
    if (declaredTooLarge(req, bodyLimit)) return fail(ex, 413, "payload_too_large", `the request body exceeds ${bodyLimit} bytes`);
    if (hasBody(req) && !(await roomForBody(ex, a.principal.userId))) return;
    if (!req.complete && /100-continue/i.test(String(req.headers.expect ?? ""))) ex.res.writeContinue();
    const reading = readBody(req, bodyLimit);
    const body = reading ? await reading : null;
    if (body === "aborted") return;
    if (body === "too_large") return fail(ex, 413, "payload_too_large", `the request body exceeds ${bodyLimit} bytes`);
    ex.body = req.method === "GET" || req.method === "HEAD" ? null : body;
    // Held from here to finish is what was read (a chunked body counted the whole limit until now):
    // a small chunked call streaming a long answer must not hold a caller's share for minutes.
    ex.bodyRoom?.keep(ex.body?.length ?? 0);
    // 4b. Admitted again when the body took its time. Admission was on the headers, and a body may
    //     come minutes after them (the body pace grants any body 300 s; the body budget may hold
    //     it back too): a key revoked, or a role removed, meanwhile still had its call forwarded,
    //     long after the 5 s the revocation promises. Through the same caches, so no more lookups.
    if (!(await stillAdmitted(ex, key, params, admittedAt))) return;

    // 5. The traffic split (docs/revisions.md): which live revision serves this call (by the
    //    target header, else sticky by its session id, else by its request id); its replicas only.
    const choice = revisionFor(a.route, req.headers, ex.body, ex.requestId);
    if (choice.error) return fail(ex, choice.error.status, choice.error.status === 400 ? "bad_request" : "not_found", choice.error.message);
    const candidates = () => candidatesFor(o.endpoints, a.route.resourceName, choice.live?.runs, choice.targeted);

    // 6 and 7. Pick the least busy ready replica and forward; a refused connection (any method) or
    // a reset (idempotent methods) is tried once more on another replica.
    let failed: string | undefined;
    for (;;) {
      let upstream = balancer.pick(candidates(), failed);
      // Scaled to zero (or still starting): hold the request while the deployment wakes, once,
      // up to its wake timeout; then forward it, or answer 503 if nothing is ready even so.
      if (upstream === undefined && !failed && idle && a.route.wakeTimeoutSeconds !== undefined) {
        await idle.wake(a.route.deploymentId, a.route.wakeTimeoutSeconds * 1000).catch((err: unknown) => {
          log.error({ err, requestId: ex.requestId, deploymentId: a.route.deploymentId }, "gateway: wake-up failed");
        });
        if (ex.res.destroyed) return; // the client left meanwhile
        // Held while it woke: up to its wake timeout (minutes), long after the headers were
        // admitted. A key revoked (or a role removed, or the deployment disabled) meanwhile had
        // its call forwarded once a replica came: admitted again, as after a slow body (4b).
        if (!(await stillAdmitted(ex, key, params, admittedAt))) return;
        upstream = balancer.pick(candidates());
      }
      if (upstream === undefined) return fail(ex, 503, "unavailable", failed ? REPLICA_FAILURE.refused : "the deployment has no ready replica; retry shortly");
      const result = await forward(ex, upstream);
      if (result === null || ex.res.destroyed) return; // streaming the replica's answer, or the client left
      release(ex);
      const retry = ex.attempts === 1 && (result.failure === "refused" || (result.failure === "reset" && IDEMPOTENT.has(req.method!)));
      metrics.gatewayUpstreamErrors.inc({ reason: result.failure, retried: String(retry) });
      log.warn({ requestId: ex.requestId, routeId: a.route.routeId, upstream, failure: result.failure, code: result.code }, "gateway: upstream failed");
      if (retry) { failed = upstream; continue; }
      if (result.failure === "timeout") return fail(ex, 504, "gateway_timeout", REPLICA_FAILURE.timeout(a.route.requestTimeoutSeconds));
      if (result.failure === "refused") return fail(ex, 503, "unavailable", REPLICA_FAILURE.refused);
      return fail(ex, 502, "bad_gateway", REPLICA_FAILURE.failed);
    }
  }

  /** A key or route refused (Admissions' 401 or 404), at admission or when admitted again. */
  function notAdmitted(ex: Exchange, refused: { status: number; message: string }): void {
    fail(ex, refused.status, refused.status === 401 ? "unauthenticated" : "not_found", refused.message);
  }

  /**
   * Admits a request's key and route again, through the same caches (no more lookups), when it
   * was admitted at least READMIT_AFTER_MS ago (a slow body, a wake-up): false when it is over
   * (refused now, or its client left meanwhile). A deployment disabled meanwhile is refused too.
   */
  async function stillAdmitted(ex: Exchange, key: string | undefined, params: Parameters<Admissions["admit"]>[1], admittedAt: number): Promise<boolean> {
    if (clock() - admittedAt < READMIT_AFTER_MS) return true;
    const again = admissions.admit(key, params);
    const b = again instanceof Promise ? await again : again;
    if (ex.finished) return false;
    if (!b.ok) {
      notAdmitted(ex, b);
      return false;
    }
    if (b.route.disabled) {
      fail(ex, 503, "deployment_disabled", DISABLED_MESSAGE);
      return false;
    }
    return true;
  }

  /**
   * 204 with the CORS headers (set at handle) and the preflight's own for an allowed origin; 403
   * without any CORS header for another, which the browser reports as a CORS failure.
   */
  function preflight(ex: Exchange, c: Cors): void {
    if (c.allowed(ex.req.headers) === undefined) return fail(ex, 403, "forbidden", "this origin may not call the gateway's routes from a browser");
    for (const [k, v] of Object.entries(c.preflightHeaders(ex.req))) ex.res.setHeader(k, v);
    ex.status = 204;
    ex.res.statusCode = 204;
    ex.res.end();
  }

  function forward(ex: Exchange, upstream: string) {
    const route = ex.route!;
    ex.attempts++;
    ex.upstream = upstream;
    ex.counted = true;
    balancer.acquire(upstream);
    metrics.gatewayInFlight.add(route.kind, 1);
    const { req } = ex;
    // A copy: a retry starts again from the client's headers.
    const headers = upstreamRequestHeaders({ ...req.headers }, {
      requestId: ex.requestId, clientIp: req.socket.remoteAddress, protocol: "encrypted" in req.socket ? "https" : "http",
      host: req.headers.host, prefix: ex.prefix, gatewaySecret: o.gatewaySecret(route.deploymentId),
    });
    // undici frames the body itself and names the replica's host; the gateway answered `Expect` itself.
    delete headers["content-length"];
    delete headers.host;
    delete headers.expect;
    // The listener the driver made for this deployment's replica there (forward.ts checks each new connection against it).
    return upstreams.send(ex, upstream, headers, route.requestTimeoutSeconds * 1000, o.replicaListener?.(route.resourceName, upstream));
  }

  /**
   * Room in the body budget for this request's body (its declared length, else the body limit),
   * held until finish: each body is read whole before it is forwarded, and nothing else bounded
   * how many a worker held at once. False when the request is over: refused 429 (the caller's or
   * the worker's room is full), or its client left while it waited.
   */
  async function roomForBody(ex: Exchange, userId: string): Promise<boolean> {
    const declared = ex.req.headers["content-length"] === undefined ? NaN : Number(ex.req.headers["content-length"]);
    const left = new AbortController();
    const onClose = () => left.abort(new Error("the client left"));
    ex.res.once("close", onClose);
    try {
      const room = await bodies.take(`user ${userId}`, Number.isFinite(declared) ? declared : bodyLimit, left.signal);
      if (ex.finished) {
        room();
        return false;
      }
      ex.bodyRoom = room;
      return true;
    } catch (err) {
      if (err instanceof TooManyRequestsError && !ex.finished) {
        fail429(ex, err);
      }
      return false;
    } finally {
      ex.res.removeListener("close", onClose);
    }
  }

  function release(ex: Exchange): void {
    if (!ex.counted) return;
    ex.counted = false;
    balancer.release(ex.upstream!);
    metrics.gatewayInFlight.add(ex.route!.kind, -1);
  }

  /** 8. Runs once per request when its connection is done with it (answered, failed or abandoned). */
  function finish(ex: Exchange): void {
    if (ex.finished) return;
    ex.finished = true;
    release(ex);
    ex.ticket?.release();
    ex.bodyRoom?.();
    if (ex.active) {
      ex.active = false;
      idle!.activity(ex.route!.deploymentId, -1);
    }
    const { req, res, route } = ex;
    // 499 (client closed the request) when the client left before the answer began, as nginx
    // logs it; 408 when the body pace cut it (its answer went to the connection, not through res).
    const timedOut = !res.headersSent && bodyTimedOut(req);
    if (timedOut) ex.errorCode = "request_timeout";
    const status = res.headersSent ? res.statusCode : timedOut ? 408 : 499;
    ex.status = status;
    ex.durationMs = performance.now() - ex.start;
    metrics.gatewayRequestDuration.observe(
      { route_id: route?.routeId ?? "unresolved", kind: route?.kind ?? "unresolved", status_class: statusClass(status), ...deploymentLabels(route, ex.revision) },
      ex.durationMs / 1000,
    );
    accessLog({
      requestId: ex.requestId, ...(ex.correlationId ? { correlationId: ex.correlationId } : {}), routeId: route?.routeId ?? gatewayParams(req.url ?? "")?.routeId, deploymentId: route?.deploymentId,
      userId: ex.userId, method: req.method, status, durationMs: Math.round(ex.durationMs * 100) / 100,
      upstream: ex.upstream, attempts: ex.attempts, completed: res.writableFinished,
    });
    // The run history (runs/recorder.ts): a push into a bounded buffer, written in batches elsewhere.
    runs?.record({
      route, userId: ex.userId, keyId: ex.keyId, requestId: ex.requestId, method: req.method ?? "?", path: ex.path, headers: req.headers,
      body: ex.body, status, latencyMs: ex.durationMs, errorCode: ex.errorCode, revision: ex.revision,
    });
  }

  function onClose(this: ServerResponse): void {
    const ex = exchangeOf(this);
    if (ex) finish(ex);
  }

  return {
    handle(req, res) {
      const ex = new Exchange(req, res, newRequestId(), correlationIdOf(req.headers));
      attachExchange(res, ex);
      res.setHeader("x-request-id", ex.requestId);
      // Every answer, the gateway's own errors included, carries them (a proxied answer: forward.ts).
      if (cors) {
        ex.cors = cors.headersFor(req.headers);
        if (ex.cors) for (const [k, v] of Object.entries(ex.cors)) res.setHeader(k, v);
      }
      res.once("close", onClose);
      // A pipelined request's finish must run when its connection closes (close-with-connection.ts).
      closeWithConnection(req, res);
      run(ex).catch((err: unknown) => {
        // A data-plane worker whose control plane did not answer in time (a clear 504, never a hung request).
        if (err instanceof LookupTimeoutError) {
          log.warn({ requestId: ex.requestId, lookup: err.lookup }, "gateway: the control plane did not answer a lookup in time");
          return fail(ex, 504, "gateway_timeout", `the gateway's control plane did not answer within ${err.timeoutMs / 1000} s; retry shortly`);
        }
        log.error({ err, requestId: ex.requestId }, "gateway: key or route lookup failed");
        fail(ex, 500, "internal_error", "an unexpected error occurred; it has been logged");
      });
    },
    forgetRoutes: () => admissions.forgetRoutes(),
    close: () => upstreams.close(),
  };
}
