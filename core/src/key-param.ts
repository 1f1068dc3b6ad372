import { REDACTED } from "./logging.js";

/**
 * Langflow lets a client send its key in the `x-api-key` query parameter (its `APIKeyQuery`),
 * so a URL may hold a key. These helpers find it, strip it before a request is forwarded, and
 * censor it in a URL that is logged (the logging adapter applies `redactUrl` to every `url`).
 */

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
  const pairs = url.slice(q + 1).split("&").map((p) => (isKeyPair(p) ? `${KEY_PARAM}=${REDACTED}` : p));
  // A key under another name (`X-API-KEY=`, `x-access-key=`, `token=`: refused, but still a live
  // key) is censored by its shape: flowplane's prefix and 32 bytes of base64url.
  return `${url.slice(0, q)}?${pairs.join("&").replace(ACCESS_KEY_SHAPE, REDACTED)}`;
}

/** An access key as keys.ts makes them: `fp_` + 32 random bytes in base64url (43 characters). */
const ACCESS_KEY_SHAPE = /fp_[A-Za-z0-9_-]{43}/g;

/**
 * The raw query string (without `?`) minus every key parameter and every pair whose value holds
 * an access key under another name (a key never reaches a replica), other pairs byte for byte.
 */
export function queryWithoutKey(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return "";
  return url.slice(q + 1).split("&").filter((p) => p !== "" && !isKeyPair(p) && !holdsKey(p)).join("&");
}

function holdsKey(pair: string): boolean {
  ACCESS_KEY_SHAPE.lastIndex = 0; // a global regex keeps its position between calls
  return ACCESS_KEY_SHAPE.test(pair);
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
