import { PROBE_PATHS, type ReplicaLogChunk } from "@flowplane/core";
import type { LogLine } from "@flowplane/core/api";

/**
 * What the logs endpoint makes of the lines a driver read: JSON lines (the runtime's own) give
 * their time and level; probe lines (`/ready`, `/health`, the runtime's request lines for them
 * and an access log's `GET /ready` text) are dropped; a request id keeps only the lines whose
 * own `requestId` field is that id (the gateway's x-request-id reaches the replica, whose lines
 * about it carry it). Not a line that merely mentions it: another run's error quoting it (a
 * caller may put any run's id in an input) is that other run's line.
 */
const PROBE_TEXT = /\b(?:GET|HEAD) \/(?:ready|health)\b/;

export function toLogLine(replica: string, text: string): LogLine | null {
  return readLine(replica, text)?.line ?? null;
}

/** A log line and the request it is about (its JSON's own `requestId`), or null for a probe line. */
function readLine(replica: string, text: string): { line: LogLine; requestId: string | null } | null {
  let time: string | null = null;
  let level: string | null = null;
  let requestId: string | null = null;
  // What an access log's request line would be in: the whole line, or, in a JSON line, the
  // engine's own output it carries (`line`). Not the rest of a JSON line: its error messages
  // and values quote callers (a model's error echoing the prompt), and a caller who put
  // "GET /health" in an input had the replica's "request failed" line about it left out.
  let accessText: string | null = text;
  if (text.startsWith("{")) {
    try {
      const rec = JSON.parse(text) as { time?: unknown; level?: unknown; path?: unknown; line?: unknown; requestId?: unknown };
      if (typeof rec.path === "string" && PROBE_PATHS.has(rec.path)) return null;
      if (typeof rec.time === "string") time = rec.time;
      else if (typeof rec.time === "number") time = new Date(rec.time).toISOString();
      if (typeof rec.level === "string") level = rec.level;
      if (typeof rec.requestId === "string") requestId = rec.requestId;
      accessText = typeof rec.line === "string" ? rec.line : null;
    } catch {
      // not JSON after all: kept as text
    }
  }
  if (accessText !== null && PROBE_TEXT.test(accessText)) return null;
  return { line: { replica, time, level, text }, requestId };
}

/**
 * The chunks' lines as log lines, filtered, oldest first: lines with a time are ordered by it
 * across replicas; a line without one keeps its place after its replica's previous line.
 */
export function mergeChunks(chunks: readonly ReplicaLogChunk[], requestId?: string): LogLine[] {
  const keyed: { line: LogLine; at: string; order: number }[] = [];
  let order = 0;
  for (const c of chunks) {
    let last = "";
    for (const text of c.lines) {
      // The text test first: it is cheap and leaves most lines unparsed; the field decides.
      if (requestId !== undefined && !text.includes(requestId)) continue;
      const read = readLine(c.replica, text);
      if (!read || (requestId !== undefined && read.requestId !== requestId)) continue;
      const { line } = read;
      if (line.time) last = line.time;
      keyed.push({ line, at: line.time ?? last, order: order++ });
    }
  }
  keyed.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order - b.order));
  return keyed.map((k) => k.line);
}
