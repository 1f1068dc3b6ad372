import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { REVISION_HEADER, RUN_ERROR_HEADER, RUN_ID_HEADER } from "@flowplane/core";

/**
 * CORS on the gateway's route paths (FLOWPLANE_GATEWAY_CORS_ORIGINS, docs/gateway.md "Browsers
 * (CORS)"): which other origins' pages may call a deployment from a browser (Langflow's embedded
 * chat widget, a browser MCP client). Off unless the operator names origins: an installation
 * that does not set it answers exactly as before (no CORS header, a preflight is a 401).
 *
 * Plain JSON (no Set): it crosses to the data-plane workers in their settings (data-plane/protocol.ts).
 */
export type CorsOrigins = { mode: "off" } | { mode: "any" } | { mode: "list"; origins: string[] };

export const CORS_OFF: CorsOrigins = { mode: "off" };

/** Why one entry of the variable is not an origin, or null when it is one (then `origin` is its normal form). */
function originOf(entry: string): { origin: string } | { reason: string } {
  let u: URL;
  try {
    u = new URL(entry);
  } catch {
    return { reason: "not a URL" };
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return { reason: "the scheme must be http or https" };
  // A browser's Origin header is scheme://host[:port], nothing after: anything more would never match.
  if (u.username || u.password || u.search || u.hash || !/^[a-z]+:\/\/[^/?#]+\/?$/i.test(entry)) return { reason: "an origin is scheme://host[:port], with no path, query or credentials" };
  return { origin: u.origin };
}

/**
 * Parses the variable's value: empty = off, `*` = any origin, else a comma list of exact origins
 * (normalized as a browser sends them: lower-case host, no default port). Throws naming the entry.
 */
export function parseCorsOrigins(value: string | undefined): CorsOrigins {
  const v = (value ?? "").trim();
  if (v === "") return CORS_OFF;
  if (v === "*") return { mode: "any" };
  const origins: string[] = [];
  for (const entry of v.split(",").map((e) => e.trim()).filter(Boolean)) {
    const o = originOf(entry);
    if ("reason" in o) throw new Error(`'${entry}' is not an origin: ${o.reason} (e.g. https://shop.example.com,http://localhost:3000, or * for any)`);
    if (!origins.includes(o.origin)) origins.push(o.origin);
  }
  return origins.length === 0 ? CORS_OFF : { mode: "list", origins };
}

/** What the routes serve (the runtime's HTTP API: GET, POST; MCP streamable HTTP: GET, POST, DELETE); HEAD needs no listing. */
const ALLOW_METHODS = "GET, POST, DELETE, OPTIONS";
/** How long a browser may reuse a preflight's answer (s): a widget's repeated calls skip it. */
const MAX_AGE_SECONDS = "600";
/**
 * The answer headers a browser script may read beyond the safelisted ones: the run id (the call's
 * record and trace), the revision that answered, the gateway's or replica's error code, the MCP
 * session, and what a client needs to back off (Retry-After, the rate-limit headers, WWW-Authenticate).
 */
export const CORS_EXPOSED_HEADERS = [
  RUN_ID_HEADER, "x-request-id", REVISION_HEADER, RUN_ERROR_HEADER, "mcp-session-id",
  "retry-after", "ratelimit", "ratelimit-policy", "www-authenticate",
].join(", ");

/** Access-Control-Request-Headers as asked, when it is a plain list of header names (anything else: none allowed). */
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

/**
 * The CORS rules of one gateway: `headersFor` is asked once per request on a route path, and its
 * headers go on every answer (the gateway's own errors and the replica's answers alike).
 */
export class Cors {
  private readonly origins: ReadonlySet<string>;

  constructor(private readonly config: CorsOrigins) {
    this.origins = new Set(config.mode === "list" ? config.origins : []);
  }

  /** The request's Origin when CORS is on and that origin may call, else undefined. */
  allowed(headers: IncomingHttpHeaders): string | undefined {
    if (this.config.mode === "off") return undefined;
    const origin = headers.origin;
    if (typeof origin !== "string" || origin === "") return undefined;
    return this.config.mode === "any" || this.origins.has(origin) ? origin : undefined;
  }

  /**
   * The CORS headers of an answer to this request: undefined only when CORS is off (then nothing
   * about an answer changes), empty for `*` and no allowed origin. With a list an allowed origin is named and every answer varies with Origin, even one
   * that names none (a shared cache must not hand one origin's answer to another); with `*` the
   * answer names `*`: keys travel as headers, never cookies, so no credentials mode is involved.
   */
  headersFor(headers: IncomingHttpHeaders): Record<string, string> | undefined {
    if (this.config.mode === "off") return undefined;
    const origin = this.allowed(headers);
    if (this.config.mode === "any") return origin === undefined ? {} : { "access-control-allow-origin": "*", "access-control-expose-headers": CORS_EXPOSED_HEADERS };
    if (origin === undefined) return { vary: "Origin" };
    return { "access-control-allow-origin": origin, vary: "Origin", "access-control-expose-headers": CORS_EXPOSED_HEADERS };
  }

  /** The preflight's own headers (beyond headersFor's): the methods, the headers asked for, how long to keep it. */
  preflightHeaders(req: IncomingMessage): Record<string, string> {
    const asked = req.headers["access-control-request-headers"];
    return {
      "access-control-allow-methods": ALLOW_METHODS,
      ...(typeof asked === "string" && HEADER_LIST.test(asked.trim()) ? { "access-control-allow-headers": asked.trim() } : {}),
      "access-control-max-age": MAX_AGE_SECONDS,
    };
  }
}

/** A CORS preflight: OPTIONS with Origin and Access-Control-Request-Method (a plain OPTIONS goes to the replica as before). */
export function isPreflight(req: IncomingMessage): boolean {
  return req.method === "OPTIONS" && req.headers.origin !== undefined && req.headers["access-control-request-method"] !== undefined;
}

/**
 * The replica's answer headers with CORS on: its own Access-Control-* are dropped (Langflow
 * answers `*` by default; the operator's setting decides, and a second Allow-Origin would make
 * the browser refuse the answer), and the gateway's are set, Vary merged with the replica's.
 * Mutates and returns `headers`.
 */
export function withCors<H extends OutgoingHttpHeaders | IncomingHttpHeaders>(headers: H, cors: Record<string, string> | undefined): H {
  for (const name of Object.keys(headers)) if (name.startsWith("access-control-")) delete headers[name];
  if (!cors) return headers;
  const out = headers as OutgoingHttpHeaders;
  for (const [k, v] of Object.entries(cors)) {
    if (k === "vary" && out.vary !== undefined) {
      const prior = String(out.vary);
      if (!prior.split(",").some((t) => t.trim().toLowerCase() === "origin" || t.trim() === "*")) out.vary = `${prior}, ${v}`;
    } else out[k] = v;
  }
  return headers;
}
