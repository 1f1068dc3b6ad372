import type { FastCall } from "../fast-path/state.js";
import { LOG_TAG } from "./config.js";

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
    status: Number(status) || 0, latencyMs: Math.max(0, Number(ta) || 0), revision: /^[1-9][0-9]{0,9}$/.test(revision) ? Number(revision) : null, errorCode,
  };
}
