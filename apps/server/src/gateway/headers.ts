import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { GATEWAY_SECRET_HEADER, REVISION_HEADER, RUN_ID_HEADER, revisionServedBy, type LiveRevision } from "@flowplane/core";

/**
 * Header rules of a reverse proxy (RFC 9110 section 7.6.1): hop-by-hop headers, and any header
 * the client's `Connection` names, belong to one connection and are never forwarded in either
 * direction. The gateway also never forwards credentials: the runtime does no user auth and
 * must never see a caller's access key. Whatever a client sends as the gateway's own secret
 * header is dropped, and the deployment's secret is set: a replica answers nobody else.
 */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];
const CREDENTIALS = ["x-access-key", "x-api-key", "authorization"];

/** Names listed in a `Connection` header (lowercase). */
function connectionTokens(value: string | string[] | number | undefined): string[] {
  if (value === undefined || typeof value === "number") return [];
  const joined = Array.isArray(value) ? value.join(",") : value;
  return joined.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
}

/**
 * The gateway's own id of a request (its run id, core's RUN_ID_HEADER): always a fresh UUID. The
 * run history, the trace and the replica's log lines are keyed by it, so no caller can choose
 * (and collide with) another call's.
 */
export const newRequestId = (): string => randomUUID();

/** A client's X-Request-Id, bounded (at most 128 characters of A-Z a-z 0-9 . _ : -), else none: only a correlation attribute of the access line. */
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function correlationIdOf(headers: IncomingHttpHeaders): string | undefined {
  const given = headers["x-request-id"];
  return typeof given === "string" && CORRELATION_ID.test(given) ? given : undefined;
}

export interface ForwardContext {
  /** The gateway's id of this request (newRequestId): sent as RUN_ID_HEADER and as X-Request-Id, over whatever the client sent. */
  requestId: string;
  /** The client's address, appended to X-Forwarded-For. */
  clientIp: string | undefined;
  /** `http` or `https`, as the gateway was reached. */
  protocol: string;
  /** The Host the client asked for. */
  host: string | undefined;
  /** `/projects/P/apps/A/routes/R`: lets the replica build links that go back through the gateway. */
  prefix: string;
  /** The deployment's gateway secret (core's createGatewaySecrets): proves to the replica that the gateway sent this. */
  gatewaySecret: string;
}

/**
 * The headers sent upstream: the client's, minus hop-by-hop and credentials, plus the gateway's
 * request id (its run id, in RUN_ID_HEADER and X-Request-Id, replacing the client's) and the
 * X-Forwarded-* set. Mutates and returns `headers` (already a copy made by the proxy).
 */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, ctx: ForwardContext): IncomingHttpHeaders {
  for (const name of connectionTokens(headers.connection)) delete headers[name];
  for (const name of HOP_BY_HOP) delete headers[name];
  for (const name of CREDENTIALS) delete headers[name];
  headers[GATEWAY_SECRET_HEADER] = ctx.gatewaySecret;
  headers[RUN_ID_HEADER] = ctx.requestId;
  headers["x-request-id"] = ctx.requestId;
  const prior = headers["x-forwarded-for"];
  if (ctx.clientIp) headers["x-forwarded-for"] = typeof prior === "string" && prior.length > 0 ? `${prior}, ${ctx.clientIp}` : ctx.clientIp;
  headers["x-forwarded-proto"] = ctx.protocol;
  if (ctx.host) headers["x-forwarded-host"] = ctx.host;
  headers["x-forwarded-prefix"] = ctx.prefix;
  return headers;
}

/**
 * Set on every answer a replica gives, over whatever it said: the gateway shares its origin with
 * the API and the web UI (whose tab holds the caller's access key in sessionStorage), and a
 * replica runs a team's code. `sandbox` makes any HTML a replica serves a document of its own
 * opaque origin (no script, no storage, no same-origin request to the API); `nosniff` keeps a
 * JSON or text answer from being read as HTML. A replica's own Set-Cookie is dropped: every
 * deployment shares the gateway's host, so a cookie set by one would be sent to all of them
 * and to the API.
 */
const REPLICA_ANSWER_HEADERS = { "content-security-policy": "sandbox", "x-content-type-options": "nosniff" } as const;

/**
 * Answer headers that set state for the whole origin, which every deployment shares with the API
 * and the web UI: never a replica's to send. Set-Cookie (a cookie for all of them);
 * Clear-Site-Data (would wipe the console's storage, its caller's access key, logging every
 * visitor out); NEL, Report-To and Reporting-Endpoints (a reporting policy for the origin: the
 * browser would then report other requests to it, their URLs with any key in a query string, to
 * the replica's chosen collector); Alt-Svc (reroutes the origin's later requests);
 * Strict-Transport-Security (the operator's to set, for the host). None is affected by the CSP
 * sandbox, which only governs the replica's own document. Content-Security-Policy-Report-Only is
 * the replica's document's own, but its `report-uri` needs no Report-To: the browser posts the
 * document's URL to the replica's collector, with the `x-api-key` query parameter a caller put in
 * it (Langflow's way to send a key from a browser), which the gateway strips before the replica
 * (seen with Chromium). The HAProxy and nginx fast paths drop the same (haproxy/config.ts, nginx/config.ts).
 */
export const ORIGIN_WIDE_ANSWER_HEADERS = ["set-cookie", "clear-site-data", "nel", "report-to", "reporting-endpoints", "alt-svc", "strict-transport-security", "content-security-policy-report-only"] as const;

/**
 * Answer headers that send the caller elsewhere: never a replica's to send either. The runtime
 * answers no redirect, but a replica runs a team's code, which can take its port; a redirect it
 * answered would be followed by the caller's client with the caller's access key, which has the
 * caller's rights in every project: fetch drops only `Authorization` on a cross-origin redirect
 * (Python's requests the same), so `x-access-key` and Langflow's `x-api-key` go along. A 3xx
 * without `Location` is followed by nobody. `Refresh` is a browser's redirect. The HAProxy fast
 * path drops the same (haproxy/config.ts).
 */
export const REDIRECT_ANSWER_HEADERS = ["location", "refresh"] as const;

/**
 * The headers sent back to the client: the replica's, minus hop-by-hop ones (Node frames the
 * answer itself), ORIGIN_WIDE_ANSWER_HEADERS and REDIRECT_ANSWER_HEADERS, plus
 * REPLICA_ANSWER_HEADERS. Mutates and returns `headers`, the proxy's own parsed copy.
 */
export function clientResponseHeaders<H extends OutgoingHttpHeaders | IncomingHttpHeaders>(headers: H): H {
  if (headers.connection !== undefined) for (const name of connectionTokens(headers.connection)) delete headers[name];
  for (const name of HOP_BY_HOP) if (headers[name] !== undefined) delete headers[name];
  for (const name of ORIGIN_WIDE_ANSWER_HEADERS) if (headers[name] !== undefined) delete headers[name];
  for (const name of REDIRECT_ANSWER_HEADERS) if (headers[name] !== undefined) delete headers[name];
  Object.assign(headers, REPLICA_ANSWER_HEADERS);
  return headers;
}

const REVISION = /^[1-9][0-9]{0,9}$/;

/**
 * Names the revision that answered (DESIGN 11): the replica's own `x-flowplane-revision`, the
 * revision it was started for (its driver sets FLOWPLANE_REVISION), so the header is exact
 * while a rolling update has old and new replicas serving. A replica that names none, or not as
 * a revision number, gets the route's: the deployment's current revision, as of the route
 * cache's last second (docs/revisions.md). A replica started for a revision a rollback restored
 * is named as the rollback's revision (`revisionServedBy`).
 */
export function setRevisionHeader<H extends OutgoingHttpHeaders | IncomingHttpHeaders>(headers: H, route: { revision?: number | undefined; live?: LiveRevision[] | undefined }): H {
  const given = headers[REVISION_HEADER];
  if (typeof given === "string" && REVISION.test(given)) {
    // A rollback's replicas are the restored revision's, and say so: name the revision they serve.
    if (route.live) (headers as OutgoingHttpHeaders)[REVISION_HEADER] = String(revisionServedBy(route.live, Number(given)));
    return headers;
  }
  delete headers[REVISION_HEADER];
  if (route.revision !== undefined) (headers as OutgoingHttpHeaders)[REVISION_HEADER] = String(route.revision);
  return headers;
}
