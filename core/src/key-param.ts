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

/**
 * A URL fit for a log: the key parameter's value replaced by `[redacted]`, and every access key
 * anywhere in it (path, query names and values, fragment; raw, percent-encoded, or inside a
 * longer segment) replaced by `[redacted]`; everything else byte for byte.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  const censored = q === -1 ? url : `${url.slice(0, q)}?${url.slice(q + 1).split("&").map((p) => (isKeyPair(p) ? `${KEY_PARAM}=${REDACTED}` : p)).join("&")}`;
  // A key under another name (`X-API-KEY=`, `x-access-key=`, `token=`: refused, but still a live
  // key) or in the path (`/api/v1/projects/fp_...`) is censored by its shape.
  return withoutAccessKeys(censored);
}

/** An access key as keys.ts makes them: `fp_` + 32 random bytes in base64url (43 characters). */
const ACCESS_KEY_LENGTH = 46;
/** A key and the key characters that follow it (which may begin another key). */
const KEY_RUN = /fp_[A-Za-z0-9_-]{43,}/g;
/** The same, after its `f`. */
const KEY_RUN_AFTER_F = /p_[A-Za-z0-9_-]{43,}/y;

/**
 * How many times a URL is percent-decoded in search of a key: once is what a server does; a few
 * more cover a key encoded twice or thrice, and bound the work on a URL of nested `%25`s.
 */
const MAX_DECODINGS = 4;

/**
 * `s` with every stretch that is an access key, or percent-decodes (up to MAX_DECODINGS times,
 * escapes in either letter case) to one, replaced by `[redacted]`. Cheap when there is nothing
 * to find: a key needs `fp_` in the clear or a `%`. A malformed escape is kept as it is.
 */
function withoutAccessKeys(s: string): string {
  if (!s.includes("fp_") && !s.includes("%")) return s;
  const spans: [number, number][] = [];
  let level: Level = { text: s, from: undefined, swallowedF: [] };
  keySpans(level, spans);
  for (let i = 0; i < MAX_DECODINGS && level.text.includes("%"); i++) {
    const next = percentDecoded(level);
    if (next === undefined) break;
    keySpans(next, spans);
    level = next;
  }
  if (spans.length === 0) return s;
  spans.sort((a, b) => a[0] - b[0]);
  let out = "";
  let at = 0;
  for (const [start, end] of spans) {
    if (end <= at) continue;
    if (start >= at) out += s.slice(at, start) + REDACTED;
    at = end;
  }
  return out + s.slice(at);
}

/** The URL percent-decoded some number of times. */
interface Level {
  text: string;
  /** Where each character of `text` (and its end, at `text.length`) began in the URL; the identity when undefined. */
  from: number[] | undefined;
  /**
   * The characters of `text` decoded from an escape whose last digit was an `f` (`%5f`, `%Af`):
   * a key may begin at that `f` (`x%5fp_...` holds `fp_...`, which decodes on its own), so
   * they are looked at as `f` too. Ascending indexes.
   */
  swallowedF: number[];
}

/**
 * Adds to `spans` where each key in the level's text lies in the URL. A key-shaped run longer than a key
 * may hold more than one (or one that begins inside another): the span ends where the last key
 * that begins in the run ends, and what follows it stays readable.
 */
function keySpans({ text, from, swallowedF }: Level, spans: [number, number][]): void {
  const add = (start: number, run: string) => {
    const end = start + run.lastIndexOf("fp_", run.length - ACCESS_KEY_LENGTH) + ACCESS_KEY_LENGTH;
    spans.push(from === undefined ? [start, end] : [from[start]!, from[end]!]);
  };
  if (text.includes("fp_")) for (const m of text.matchAll(KEY_RUN)) add(m.index, m[0]);
  for (const i of swallowedF) {
    KEY_RUN_AFTER_F.lastIndex = i + 1;
    const m = KEY_RUN_AFTER_F.exec(text);
    if (m !== null) add(i, `f${m[0]}`);
  }
}

/**
 * One percent-decoding of a level, byte by byte (a byte above 0x7f is one character: it is never
 * part of a key); undefined when its text has no escape. Into typed arrays, decoded as UTF-16 at
 * the end: a caller chooses the URL (16 KiB, every character an escape), and a string and an
 * array grown a character at a time made that cost the logging process about 1 ms.
 */
function percentDecoded({ text, from, swallowedF }: Level): Level | undefined {
  if (!text.includes("%")) return undefined;
  const codes = new Uint16Array(text.length);
  const outFrom: number[] = new Array<number>(text.length + 1);
  const outSwallowedF: number[] = [];
  let n = 0;
  let any = false;
  let next = 0; // the next of swallowedF to carry over
  for (let i = 0; i < text.length; ) {
    outFrom[n] = from === undefined ? i : from[i]!;
    const c = text.charCodeAt(i);
    const hi = c === 0x25 ? hexValue(text.charCodeAt(i + 1)) : -1;
    const lo = hi >= 0 ? hexValue(text.charCodeAt(i + 2)) : -1;
    if (lo >= 0) {
      if (text.charCodeAt(i + 2) === 0x66) outSwallowedF.push(n);
      codes[n++] = hi * 16 + lo;
      i += 3;
      any = true;
    } else {
      // A swallowed `f` is never a `%` nor a hex digit: it is always a character of its own.
      while (next < swallowedF.length && swallowedF[next]! < i) next++;
      if (swallowedF[next] === i) outSwallowedF.push(n);
      codes[n++] = c;
      i += 1;
    }
  }
  if (!any) return undefined;
  outFrom[n] = from === undefined ? text.length : from[text.length]!;
  outFrom.length = n + 1;
  return { text: UTF16.decode(codes.subarray(0, n)), from: outFrom, swallowedF: outSwallowedF };
}

/** `ignoreBOM`: a leading U+FEFF is kept, so every index still maps to the URL (`from`); a lone surrogate reads U+FFFD, one unit for one, never part of a key. */
const UTF16 = new TextDecoder("utf-16le", { ignoreBOM: true });

/** A hex digit's value, or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * The raw query string (without `?`) minus every key parameter and every pair whose value holds
 * an access key under another name (a key never reaches a replica), other pairs byte for byte.
 */
export function queryWithoutKey(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return "";
  return url.slice(q + 1).split("&").filter((p) => p !== "" && !isKeyPair(p) && !holdsKey(p)).join("&");
}

/** Whether a pair holds an access key, plain or percent-encoded (what redactUrl would censor in it). */
function holdsKey(pair: string): boolean {
  return withoutAccessKeys(pair) !== pair;
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
