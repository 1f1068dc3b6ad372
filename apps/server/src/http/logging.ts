import type { FastifyInstance, FastifyServerOptions } from "fastify";

/**
 * Fastify's logger for every listener of the control plane (API, public and private gateway).
 * Keys reach the server in headers (`x-access-key`, `x-api-key`, `Authorization`) and, as
 * Langflow allows, in the `x-api-key` query parameter: Fastify's automatic request lines carry
 * the URL, so the request serializer logs it with that parameter's value replaced, and the key
 * headers are redacted should a line ever include them.
 */
export function loggerOptions(level: string): NonNullable<Exclude<FastifyServerOptions["logger"], boolean>> {
  return {
    level,
    redact: { paths: ["req.headers.authorization", 'req.headers["x-access-key"]', 'req.headers["x-api-key"]', "req.headers.cookie"], censor: "[redacted]" },
    serializers: {
      req: (req: { method: string; url: string; hostname?: string; ip?: string; socket?: { remotePort?: number } }) => ({
        method: req.method,
        url: redactUrl(req.url),
        host: req.hostname,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  };
}

/** The query parameter Langflow reads a key from (its `APIKeyQuery`, exact name). */
export const KEY_PARAM = "x-api-key";

/** Whether one `name=value` pair of a raw query string names the key parameter (also percent-encoded). */
function isKeyPair(pair: string): boolean {
  const eq = pair.indexOf("=");
  const name = (eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, " ");
  try {
    return decodeURIComponent(name) === KEY_PARAM;
  } catch {
    return false;
  }
}

/** A URL with the key parameter's value replaced by `[redacted]`; everything else byte for byte. */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return url;
  const pairs = url.slice(q + 1).split("&").map((p) => (isKeyPair(p) ? `${KEY_PARAM}=[redacted]` : p));
  return `${url.slice(0, q)}?${pairs.join("&")}`;
}

/** The raw query string (without `?`) minus every key parameter, other pairs byte for byte. */
export function queryWithoutKey(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return "";
  return url.slice(q + 1).split("&").filter((p) => p !== "" && !isKeyPair(p)).join("&");
}

/** The first non-empty key parameter's value, decoded; undefined when there is none. */
export function keyParamOf(url: string): string | undefined {
  const q = url.indexOf("?");
  if (q === -1) return undefined;
  for (const pair of url.slice(q + 1).split("&")) {
    if (!isKeyPair(pair)) continue;
    const eq = pair.indexOf("=");
    if (eq === -1) continue;
    try {
      const value = decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, " "));
      if (value.length > 0) return value;
    } catch {
      // a malformed value is no key
    }
  }
  return undefined;
}

/**
 * The answer for a URL outside every route, for a listener without the API (the API has its own,
 * same shape). Fastify's default handler would log the URL with its query, key included.
 */
export function answerUnknownPaths(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { code: "not_found", message: `no such endpoint: ${req.method} ${req.url.split("?")[0]}` } });
  });
}
