/**
 * Which revision serves a call (docs/revisions.md, "Traffic split"). Pure, so the gateway (in
 * whatever process or worker shape it takes) calls it in one line with what the route already
 * carries: the live revisions with their shares, the call's session id and the caller's target
 * header. No state is kept per session: a session id is hashed into 0..99 and the shares are laid
 * out over that range, so every call of one conversation lands on the same revision for as long
 * as the shares stay (skew protection), and raising a canary's share only moves sessions towards it.
 */

/** The request header that sends a call to one live revision, whatever its share (even 0%: a warm one). */
export const REVISION_TARGET_HEADER = "x-flowplane-revision-target";

/** One revision that has replicas and may be reached. */
export interface LiveRevision {
  /** The deployment's revision (what `x-flowplane-revision` names and the target header asks for). */
  revision: number;
  /**
   * The revision its replicas were started for (the driver's grouping, `endpoints(name, runs)`):
   * the same number, except for a rollback, whose replicas are those of the revision it restored.
   */
  runs: number;
  /** Its share of the calls, 0..100; the shares of one route add up to 100. 0: reachable only by the target header. */
  percent: number;
}

/**
 * The outcome of `chooseRevision`:
 * - `{ live }`: send the call to that revision's replicas (`live.runs`);
 * - `{ live: undefined }`: the route names no live revisions (an older control plane): any ready replica;
 * - `{ error }`: the target header names something that cannot be reached (answer 400 or 404 with the message).
 */
export type RevisionChoice = { live: LiveRevision | undefined; error?: undefined } | { live?: undefined; error: { status: 400 | 404; message: string } };

/** 32-bit FNV-1a: cheap, stable across processes and versions (the stickiness depends on it), not security. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A session's place in 0..99, the same for every call of the session. */
export function sessionBucket(sessionKey: string): number {
  return fnv1a(sessionKey) % 100;
}

/**
 * The revision for one call. `target` is the target header's value when the caller sent one;
 * `sessionKey` the call's session id (or, without one, anything random per call such as the
 * request id: then calls spread by the shares). Shares are laid out newest revision first over
 * the buckets, so a canary (the newer revision) holds buckets 0..p-1: raising p keeps every
 * session already on the canary there.
 */
export function chooseRevision(live: readonly LiveRevision[] | undefined, sessionKey: string, target?: string): RevisionChoice {
  if (target !== undefined) {
    if (!/^[1-9][0-9]{0,9}$/.test(target.trim())) return { error: { status: 400, message: `${REVISION_TARGET_HEADER} must be a revision number` } };
    const n = Number(target.trim());
    const hit = live?.find((l) => l.revision === n);
    if (hit) return { live: hit };
    const names = live?.map((l) => l.revision).join(", ") || "none";
    return { error: { status: 404, message: `revision ${n} is not live (live revisions: ${names})` } };
  }
  if (!live || live.length === 0) return { live: undefined };
  const ordered = live.filter((l) => l.percent > 0);
  if (ordered.length <= 1) return { live: ordered[0] ?? live[0] };
  ordered.sort((a, b) => b.revision - a.revision);
  const bucket = sessionBucket(sessionKey);
  let upTo = 0;
  for (const l of ordered) {
    upTo += l.percent;
    if (bucket < upTo) return { live: l };
  }
  return { live: ordered[ordered.length - 1] };
}

/** Whether the route splits calls at all (two revisions with a share each): only then is a session id worth reading. */
export function isSplit(live: readonly LiveRevision[] | undefined): boolean {
  return (live?.filter((l) => l.percent > 0).length ?? 0) > 1;
}

/**
 * The revision to name in `x-flowplane-revision` for an answer from a replica started for
 * `runs`: the live revision those replicas serve (a rollback's replicas are the restored
 * revision's), else `runs` itself.
 */
export function revisionServedBy(live: readonly LiveRevision[] | undefined, runs: number): number {
  return live?.find((l) => l.runs === runs)?.revision ?? runs;
}

/** Where run bodies put the session id near the top: how much of a body is searched. */
const SESSION_BODY_PREFIX = 64 * 1024;

/**
 * The call's session id: MCP's `mcp-session-id` header, else Langflow's `session_id` in a JSON
 * run body. Undefined without one. Reads the body only when it holds the bytes `session_id`.
 */
export function sessionIdOf(headers: Readonly<Record<string, string | string[] | undefined>>, body: Uint8Array | undefined): string | undefined {
  const mcp = headers["mcp-session-id"];
  if (typeof mcp === "string" && mcp.length > 0) return mcp;
  if (!body || body.length === 0 || body.length > SESSION_BODY_PREFIX) return undefined;
  const text = new TextDecoder().decode(body);
  // A key spelled with a JSON escape (`session\u005fid`) is the same key: such a body is parsed
  // too. Only an escape of an ASCII character (`\u00..`) can spell one.
  if (!text.includes("session_id") && !text.includes("\\u00")) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    const s = v !== null && typeof v === "object" ? (v as { session_id?: unknown }).session_id : undefined;
    return typeof s === "string" && s.length > 0 ? s : undefined;
  } catch {
    return undefined;
  }
}
