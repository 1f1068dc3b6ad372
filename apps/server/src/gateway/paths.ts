/**
 * The gateway's URL scheme (DESIGN 7): `/projects/{projectId}/apps/{appId}/routes/{routeId}`
 * followed by the path on the replica. An HTTP route maps the rest onto the replica's root
 * (`/flows`, `/api/v1/run/x`, `/` for the bare route); an MCP route onto `/mcp` (the bare route
 * and `<route>/mcp` are both the MCP endpoint itself).
 */
export interface GatewayPath {
  /** The route's own prefix, as the client wrote it. */
  prefix: string;
  /** What follows the prefix, raw (still percent-encoded), without the query: `""` or `/…`. */
  rest: string;
}

/**
 * Splits a request URL whose path is a gateway path (`gatewayParams`). The rest is cut from the raw URL
 * rather than rebuilt from the router's decoded parameters, so the replica sees exactly the
 * bytes the client sent (an encoded `%2F` stays encoded).
 */
export function splitGatewayPath(url: string): GatewayPath {
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  // The prefix is 6 segments: /projects/P/apps/A/routes/R; its end is the 7th slash, if any.
  let at = 0;
  for (let slashes = 0; slashes < 7; slashes++) {
    at = path.indexOf("/", at + (slashes === 0 ? 0 : 1));
    if (at === -1) return { prefix: path, rest: "" };
  }
  return { prefix: path.slice(0, at), rest: path.slice(at) };
}

/**
 * Why the rest of a gateway path is refused (400), or null. A `..` segment (also percent-encoded)
 * could climb out of the route on the replica. A malformed escape (`%ZZ`, a cut UTF-8 sequence)
 * cannot be checked for one, so it is refused rather than guessed at, and told as what it is:
 * before, it was answered as a `..` segment the path did not hold.
 */
export function pathRefusal(rest: string): string | null {
  if (!rest.includes(".") && !rest.includes("%")) return null; // the common case, without decoding
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    return "the path holds a malformed percent-escape (a '%' not followed by two hex digits of valid UTF-8)";
  }
  return decoded.split(/[/\\]/).some((s) => s === "..") ? "the path may not contain '..' segments" : null;
}

/**
 * The path on the replica for a route kind. An MCP route answers both bare and at `<route>/mcp`
 * (DESIGN 11): clients that insist on a URL ending in `/mcp` otherwise rewrite it to the origin's
 * `/mcp`, which is no route at all.
 */
export function upstreamPath(kind: "http" | "mcp", rest: string): string {
  if (kind === "mcp") return rest === "/mcp" || rest === "/mcp/" ? "/mcp" : `/mcp${rest}`;
  return rest === "" ? "/" : rest;
}

export interface RouteParams {
  projectId: string;
  appId: string;
  routeId: string;
}

/**
 * The route's three ids when `url` is a gateway path (`/projects/P/apps/A/routes/R`, optionally
 * followed by `/…`), else null: the one test that sends a request to the gateway rather than to the API.
 * Ids are percent-decoded, as a router would.
 */
export function gatewayParams(url: string): RouteParams | null {
  if (!url.startsWith("/projects/")) return null;
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  const s = path.split("/", 8); // "", projects, P, apps, A, routes, R, (rest)
  if (s.length < 7 || s[3] !== "apps" || s[5] !== "routes" || !s[2] || !s[4] || !s[6]) return null;
  try {
    return { projectId: decode(s[2]), appId: decode(s[4]), routeId: decode(s[6]) };
  } catch {
    return null; // malformed escapes: not a route
  }
}

const decode = (s: string): string => (s.includes("%") ? decodeURIComponent(s) : s);
