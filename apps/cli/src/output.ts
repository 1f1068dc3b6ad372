import { createRequire } from "node:module";
import { emojiMarks } from "@flowplane/core/api";
import { usageError } from "./errors.js";
import { out, type Io } from "./io.js";

/** `table` for people, `json` and `yaml` for scripts (the API's own shapes, unchanged), `name` for loops. */
export type Format = "table" | "json" | "yaml" | "name";

export function parseFormat(value: string | undefined, allowed: readonly Format[] = ["table", "json", "yaml"]): Format {
  const v = (value ?? "table") as Format;
  if (!allowed.includes(v)) throw usageError(`-o ${value}: choose one of ${allowed.join(", ")}`);
  return v;
}

/** Prints data as JSON or YAML; returns false for `table`/`name`, which the caller renders. */
export function printData(io: Io, format: Format, data: unknown): boolean {
  if (format === "json") out(io, JSON.stringify(data, null, 2));
  // Required on use (synchronously, as printing is): the YAML library costs every other call its start-up time.
  else if (format === "yaml") io.stdout.write((createRequire(import.meta.url)("yaml") as typeof import("yaml")).stringify(data));
  else return false;
  return true;
}

/**
 * What a terminal would act on instead of showing: control characters (ESC opens escape
 * sequences that recolor, retitle or clear the terminal), DEL, C1 controls and bidirectional
 * overrides. A table or a `key: value` line shows strings other teams chose (flow names, error
 * messages, descriptions): each such character is written as a visible `\u{..}` escape instead.
 * A table cell is one line, so newlines and tabs are escaped there too.
 *
 * So is what a terminal draws as nothing: format characters (zero-width space and
 * joiners, word joiner, byte order mark, soft hyphen, bidirectional marks, tag characters),
 * variation selectors and the blank fillers. A global bundle named `support-bot` and a
 * zero-width space was listed, and offered by the deploy walk, exactly as the support team's
 * `support-bot`; written out, the two differ.
 */
const CONTROL_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029\p{Cf}\u034f\u115f\u1160\u180b-\u180f\u2800\u3164\uffa0\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/gu;
const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\p{Cf}\u034f\u115f\u1160\u180b-\u180f\u2800\u3164\uffa0\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/gu;
const visible = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;
/** Written out, bar the joiners and selectors of emoji (core's emojiMarks): 👩‍💻 stays one picture. */
const writtenOut = (s: string, control: RegExp): string => {
  const kept = emojiMarks(s);
  return s.replace(control, (c: string, at: number) => (kept.has(at) ? c : visible(c)));
};
export const shownLine = (s: string): string => writtenOut(s, CONTROL_IN_LINE);
export const shownText = (s: string): string => writtenOut(s, CONTROL_IN_TEXT);

/** Left-aligned columns separated by two spaces; the last column is never padded. Cells are shown as one line (shownLine). */
export function table(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows].map((r) => r.map((c) => shownLine(c ?? "")));
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd()).join("\n");
}

/**
 * `key: value` lines with the values aligned. A value over several lines (a description, which
 * another team writes) has its later lines indented under its first: written at the line's
 * start, "Access:      project (support)" in a global bundle's description read as the
 * version's own Access line, above the real one.
 */
export function keyValues(pairs: [string, string][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  const indent = `\n${" ".repeat(width + 1)}`;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)} ${shownText(v).replace(/\n/g, indent)}`).join("\n");
}

/** "3m ago"-style age of an ISO time, for tables. */
export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(s)) return "";
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
