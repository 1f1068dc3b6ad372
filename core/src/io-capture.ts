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

  /** A value as recorded text (redacted, then cut); null for undefined. */
  text(value: unknown): string | null {
    if (value === undefined) return null;
    return this.cut(this.redact(textOf(value)));
  }

  /** A component's inputs or outputs by name: at most MAX_IO_FIELDS values, undefined ones left out. */
  record(values: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = {};
    let n = 0;
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) continue;
      if (n++ >= MAX_IO_FIELDS) break;
      out[this.redact(name).slice(0, 200)] = this.text(value) ?? "";
    }
    return out;
  }

  private cut(text: string): string {
    if (text.length <= this.maxChars) return text;
    return `${text.slice(0, this.maxChars)}… [cut: ${text.length} characters]`;
  }
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
