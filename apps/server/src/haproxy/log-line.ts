import type { FastCall, FastCount } from "../fast-path/state.js";
import { LOG_TAG } from "./config.js";

/** The tag of nginx's counted calls (nginx/lua-log.ts: calls that cannot be runs, counted, not written a line each). */
export const AGG_TAG = "fpagg";
/** A line's revision field: a plain revision number, else none. */
const revisionOf = (field: string): number | null => (/^[1-9][0-9]{0,9}$/.test(field) ? Number(field) : null);

/** A line's `user|key` field (`-` for a key id: none). */
function callerOf(field: string): { userId: string | undefined; keyId: string | undefined } {
  const bar = field.indexOf("|");
  const userId = bar === -1 ? field : field.slice(0, bar);
  // What follows the bar, up to a second one (split's second part).
  const keyId = bar === -1 ? undefined : field.slice(bar + 1, field.indexOf("|", bar + 1) >>> 0);
  return { userId: userId || undefined, keyId: keyId && keyId !== "-" ? keyId : undefined };
}

/**
 * The first `n` space-separated fields of `line`, as `line.split(" ").slice(0, n)` gives them, or
 * null when it has fewer. indexOf and slice, not split: the control plane reads a line per run a
 * native front serves, and split made every field of the whole line (about half of the parse's
 * cost, bench figures in docs/performance.md "Session 57").
 */
export function firstFields(line: string, n: number): string[] | null {
  const f = new Array<string>(n);
  let at = 0;
  for (let i = 0; i < n - 1; i++) {
    const sp = line.indexOf(" ", at);
    if (sp === -1) return null;
    f[i] = line.slice(at, sp);
    at = sp + 1;
  }
  const end = line.indexOf(" ", at);
  f[n - 1] = end === -1 ? line.slice(at) : line.slice(at, end);
  return f;
}

/** Parses a log line of config.ts's format; null for anything else (HAProxy's own notices). */
export function parseFastLine(line: string): FastCall | null {
  const f = firstFields(line.trim(), 10);
  if (!f || f[0] !== LOG_TAG) return null;
  const [, requestId, routeId, key, method, path, status, ta, revision, err] = f as [string, string, string, string, string, string, string, string, string, string];
  let errorCode: string | undefined;
  try {
    errorCode = err && err !== "-" ? decodeURIComponent(err) : undefined;
  } catch {
    errorCode = undefined;
  }
  const caller = callerOf(key);
  return {
    requestId, routeId, userId: caller.userId, keyId: caller.keyId, method, path,
    status: Number(status) || 0, latencyMs: Math.max(0, Number(ta) || 0), revision: revisionOf(revision), errorCode,
  };
}

/**
 * Parses a counted line (`fpagg <route id> <user|key> <revision or -> <status> <ms> <calls>`);
 * null for anything else, and for a count that is not a whole number of calls.
 */
export function parseFastCount(line: string): FastCount | null {
  const f = line.trim().split(" ");
  if (f[0] !== AGG_TAG || f.length !== 7) return null;
  const [, routeId, key, revision, status, ms, n] = f as [string, string, string, string, string, string, string];
  const calls = /^[1-9][0-9]{0,14}$/.test(n) ? Number(n) : 0;
  if (calls === 0) return null;
  const caller = callerOf(key);
  return {
    routeId, userId: caller.userId, keyId: caller.keyId,
    status: Number(status) || 0, latencyMs: Math.max(0, Number(ms) || 0), revision: revisionOf(revision), calls,
  };
}
