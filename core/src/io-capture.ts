import { MAX_IO_FIELDS } from "./api/trace-bounds.js";
import { REDACTED } from "./logging.js";

/**
 * Inputs and outputs as a trace keeps them (issue #19; runtime.io; docs/runs-and-logs.md): the
 * replica turns each value into text, replaces every occurrence of a secret it knows and of
 * anything shaped like an access key, then cuts it to `maxChars`. Redaction comes first, so a
 * secret straddling the cut is never left half visible. Pure: the replica builds one per process
 * from the values it was given (its credentials, its gateway secret, its identity token).
 * A redacted value reads REDACTED, as in the logs.
 */

/**
 * Access keys (keys.ts: `fp_` + 43 base64url characters). The gateway strips the caller's key
 * from the headers, so a replica never knows it; one a caller pastes into an input is still
 * recognised by its shape.
 */
const ACCESS_KEY = /fp_[A-Za-z0-9_-]{43}/g;

/**
 * Values shorter than this are not redacted: a credential of two characters would blank every
 * occurrence of them in every text. Real credentials are far longer.
 */
export const MIN_REDACTED_LENGTH = 4;

/** How deep and how wide a structured value is walked; beyond that it is summarised. */
const MAX_DEPTH = 8;
const MAX_ENTRIES = 500;

export interface IOCaptureOptions {
  /** The values to redact: credential values, the gateway secret, the identity token. */
  secrets: Iterable<string | undefined>;
  /** The cut of each value, in characters (runtime.io.maxChars). */
  maxChars: number;
}

export class IOCapture {
  private secrets: string[];
  readonly maxChars: number;

  constructor(o: IOCaptureOptions) {
    this.secrets = [];
    this.maxChars = o.maxChars;
    this.add(o.secrets);
  }

  /**
   * More values to redact from now on: a secret the replica learns later (its identity token,
   * read from a file the platform rotates; a rotation adds one value an hour, kept).
   */
  add(values: Iterable<string | undefined>): void {
    const all = new Set<string>(this.secrets);
    for (const s of values) {
      if (typeof s !== "string" || s.length < MIN_REDACTED_LENGTH) continue;
      all.add(s);
      // As it appears inside a JSON text (quotes, backslashes, control characters escaped).
      const escaped = JSON.stringify(s).slice(1, -1);
      if (escaped !== s) all.add(escaped);
    }
    // Longest first: a secret that contains another is replaced whole.
    this.secrets = [...all].sort((a, b) => b.length - a.length);
  }

  /** Every occurrence of a secret, and every access key, replaced by REDACTED. */
  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out.replace(ACCESS_KEY, REDACTED);
  }

  /**
   * A caller's or a flow's text as a trace may keep it: redacted and storable (storableText).
   * Redaction first, on the text as it came: replaced first, a secret holding a NUL would no
   * longer match and be kept but for that character. Redacted again when the replacement changed
   * anything: a secret holding U+FFFD (an environment value that was not UTF-8 reads so) may
   * appear only then. REDACTED is ASCII, so neither step brings back what the other removed.
   */
  clean(text: string): string {
    const redacted = this.redact(text);
    const fixed = storableText(redacted);
    return fixed === redacted ? fixed : storableText(this.redact(fixed));
  }

  /** A value as recorded text (redacted and storable, then cut); null for undefined. */
  text(value: unknown): string | null {
    if (value === undefined) return null;
    const t = this.clean(textOf(value));
    return t.length <= this.maxChars ? t : `${cutText(t, this.maxChars)}… [cut: ${t.length} characters]`;
  }

  /** A component's inputs or outputs by name: at most MAX_IO_FIELDS values, undefined ones left out; names clean too. */
  record(values: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = {};
    let n = 0;
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) continue;
      if (n++ >= MAX_IO_FIELDS) break;
      out[cutText(this.clean(name), 200)] = this.text(value) ?? "";
    }
    return out;
  }
}

declare global {
  // ES2024, in Node 20; the base tsconfig's lib stops at ES2023.
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

/**
 * `s` with NUL and lone UTF-16 surrogates as U+FFFD (one unit for one: the length is the same).
 * What a trace carries is stored in PostgreSQL, whose `text` cannot hold NUL and whose `jsonb`
 * refuses `\u0000` and a lone surrogate; the control plane's edge (apps/server
 * http/input-hygiene.ts) refuses a request holding one anywhere, so one such string in a
 * replica's batch of traces lost every trace in it, other callers' included.
 */
export function storableText(s: string): string {
  const w = s.isWellFormed() ? s : s.toWellFormed();
  return w.includes("\u0000") ? w.replaceAll("\u0000", "\uFFFD") : w;
}

/** At most `max` UTF-16 units, never ending on the first half of a pair: well-formed text stays so. */
export function cutText(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/**
 * A value as text: a string as is; a message (anything with a `text` string) as its text;
 * anything else as JSON (cycles, functions and depth summarised, never thrown).
 */
export function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null) return "null";
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (typeof value === "object" && !Array.isArray(value) && typeof (value as { text?: unknown }).text === "string") return (value as { text: string }).text;
  try {
    return JSON.stringify(plain(value, 0, new Set())) ?? String(value);
  } catch {
    return String(value);
  }
}

function plain(v: unknown, depth: number, seen: Set<object>): unknown {
  if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (typeof v === "bigint") return String(v);
  if (typeof v === "function" || typeof v === "symbol" || v === undefined) return undefined;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  const o = v as object;
  if (seen.has(o)) return "[cycle]";
  if (depth >= MAX_DEPTH) return Array.isArray(o) ? `[${o.length} items]` : "[object]";
  seen.add(o);
  try {
    if (Array.isArray(o)) return o.slice(0, MAX_ENTRIES).map((x) => plain(x, depth + 1, seen) ?? null);
    const out: Record<string, unknown> = {};
    let n = 0;
    for (const [k, x] of Object.entries(o)) {
      if (n++ >= MAX_ENTRIES) break;
      const p = plain(x, depth + 1, seen);
      if (p !== undefined) out[k] = p;
    }
    return out;
  } finally {
    seen.delete(o);
  }
}
