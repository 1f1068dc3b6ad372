import type { FastCall, FastCount } from "../fast-path/state.js";
import { LOG_TAG } from "./config.js";

/** The tag of nginx's counted calls (nginx/lua-log.ts: calls that cannot be runs, counted, not written a line each). */
export const AGG_TAG = "fpagg";
const REVISION = /^[1-9][0-9]{0,9}$/;

/** Parses a log line of config.ts's format; null for anything else (HAProxy's own notices). */
export function parseFastLine(line: string): FastCall | null {
  const f = line.trim().split(" ");
  if (f[0] !== LOG_TAG || f.length < 10) return null;
  const [, requestId, routeId, key, method, path, status, ta, revision, err] = f as [string, string, string, string, string, string, string, string, string, string];
  const [userId, keyId] = key.split("|");
  let errorCode: string | undefined;
  try {
    errorCode = err && err !== "-" ? decodeURIComponent(err) : undefined;
  } catch {
    errorCode = undefined;
  }
  return {
    requestId, routeId, userId: userId || undefined, keyId: keyId && keyId !== "-" ? keyId : undefined, method, path,
    status: Number(status) || 0, latencyMs: Math.max(0, Number(ta) || 0), revision: REVISION.test(revision) ? Number(revision) : null, errorCode,
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
  const [userId, keyId] = key.split("|");
  return {
    routeId, userId: userId || undefined, keyId: keyId && keyId !== "-" ? keyId : undefined,
    status: Number(status) || 0, latencyMs: Math.max(0, Number(ms) || 0), revision: REVISION.test(revision) ? Number(revision) : null, calls,
  };
}
