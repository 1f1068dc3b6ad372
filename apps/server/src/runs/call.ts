import type { IncomingHttpHeaders } from "node:http";
import { MCP_PATH, redactUrl, sessionIdOf, type NewRun } from "@flowplane/core";

/**
 * What the gateway hands the run recorder once a call is done (its `finish`): plain values it
 * already holds, no parsing. The recorder turns it into a RunRecord (`runOf`).
 */
export interface GatewayCall {
  /** The route the call was admitted to; calls refused before that (401, unknown route) are not runs. */
  route: { deploymentId: string; projectId: string; kind: "http" | "mcp" } | undefined;
  userId: string | undefined;
  keyId: string | undefined;
  requestId: string;
  method: string;
  /** The path on the replica (no query string). */
  path: string;
  headers: IncomingHttpHeaders;
  /** The request body as received, when it had one. Read (a prefix of it) only to find a session id or an MCP tool. */
  body: unknown;
  status: number;
  latencyMs: number;
  /** The answer's `x-flowplane-error` (the gateway's own error code, or the replica's). */
  errorCode: string | undefined;
  /** The revision that served the call, when the gateway knows it. */
  revision?: number | null;
}

/** How much of a body is searched for an MCP method (as core sessionIdOf searches for `session_id`): run bodies put them near the top. */
const BODY_PREFIX = 64 * 1024;
/**
 * The paths of runs: the replica's FLOW_RUN_ROUTES (core), which call.test.ts holds these to, with
 * Langflow's advanced run and a trailing slash besides. nginx/lua-log.ts counts calls on other
 * paths, by a superset test that lua-log.test.ts holds to these.
 */
export const FLOW_PATHS = [/^\/api\/v1\/run\/(?:advanced\/)?([^/]+)\/?$/, /^\/flows\/([^/]+)\/(?:run|stream)\/?$/];

/**
 * A flow id that the decoding, the key censoring and `storable` below leave as it is: no `%`,
 * no `_` (so no `fp_` key), ASCII letters, digits and `-` only (a UUID, as every exported flow's
 * id is). Taken as it is, without that work: a native front's control plane reads a run path
 * per run (fast-path/state.ts), and the work cost a third of a run's record there.
 */
const PLAIN_FLOW_ID = /^[0-9A-Za-z-]{1,200}$/;

/** The flow a run path names: Langflow's `/api/v1/run/{flow}` or the runtime's `/flows/{flow}/run` and `/flows/{flow}/stream`. */
export function flowIdOf(path: string): string | null {
  for (const re of FLOW_PATHS) {
    const m = re.exec(path);
    if (m) {
      if (PLAIN_FLOW_ID.test(m[1]!)) return m[1]!;
      try {
        // An access key a caller put where the flow goes is not kept in the run history, which
        // every member of the project reads (core key-param.ts: the same rule as the logs').
        return storable(redactUrl(decodeURIComponent(m[1]!)));
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** The JSON object `body` holds, or null (not JSON, not an object). */
function jsonObject(body: Buffer): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(body.toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * A caller-supplied string as the database can store it: at most 200 characters, without NUL
 * and lone surrogates (PostgreSQL refuses both, and one such value would fail its whole batch).
 */
export function storable(v: unknown, max = 200): string | null {
  if (typeof v !== "string" || v.length === 0) return null;
  return v.slice(0, max).replace(/\u0000/g, "").replace(LONE_SURROGATE, "\uFFFD");
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const short = (v: unknown): string | null => storable(v);

/**
 * A JSON-RPC batch: the body's first byte past JSON's whitespace (and a UTF-8 BOM) is `[`. The
 * replica runs no flow for one: a batch holding `tools/call` is refused 400 / -32600 (one request
 * is one metered run: apps/runtime/src/mcp.ts `batchRunsTools`), and one without a tool call runs
 * nothing either. Read from the first bytes, so a batch too large to parse (over BODY_PREFIX) is
 * told too. It cannot hide a run: what starts with `[` is an array or no JSON at all (refused by
 * the replica's parser), and the whitespace skipped is JSON's own, or a byte that breaks the parse.
 */
function isBatch(body: Buffer): boolean {
  let i = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x09 || body[i] === 0x0a || body[i] === 0x0d)) i++;
  return body[i] === 0x5b;
}

/**
 * An MCP call that may run a flow: a POST whose JSON-RPC body names `tools/call` (a byte search,
 * so a body too large to parse still counts), or spells it with JSON escapes (`tools\/call`,
 * `\u0074ools/call`: the replica reads `tools/call` all the same, and the byte search alone let
 * such a call run its flow with no run recorded). A body small enough is read whole, once: it is
 * a tool call only when its method is `tools/call` (a `tools/list` whose cursor names the string
 * is not) and it has an id (a notification runs nothing), or, unreadable, when it names it.
 * Null: no tool call; `rpc`: the message read, if any.
 */
function toolCallOf(c: GatewayCall): { rpc: Record<string, unknown> | null } | null {
  if (c.method !== "POST" || !Buffer.isBuffer(c.body)) return null;
  if (isBatch(c.body)) return null;
  const named = c.body.indexOf("tools/call") >= 0;
  if (!named && c.body.indexOf("\\") < 0) return null;
  if (c.body.length > BODY_PREFIX) return { rpc: null };
  const rpc = jsonObject(c.body);
  if (rpc === null) return named ? { rpc: null } : null;
  // A request, not a notification: a tools/call without an id is answered 202 by the SDK and
  // calls no tool (JSON-RPC: a notification is never answered), so it ran no flow.
  return rpc.method === "tools/call" && Object.hasOwn(rpc, "id") ? { rpc } : null;
}

/**
 * `new Date(ms).toISOString()`, from the last second's text: runs come in batches whose start
 * times fall in the same second (a native front's log lines, fast-path/state.ts), and formatting
 * a date costs about half a microsecond, the milliseconds' three digits almost nothing. Date
 * truncates a fraction of a millisecond as Math.trunc does; the head is all but the milliseconds
 * and the `Z` (a year past 9999 has more digits); a time outside Date's range (or NaN) throws as Date does.
 */
const lastSecond = { second: Number.NaN, head: "" };
/** Date's range: ±8.64e15 ms. */
const MAX_TIME = 8.64e15;
function isoTime(ms: number): string {
  const t = Math.trunc(ms);
  // Outside Date's range (or NaN): Date's own answer, a RangeError (the second's text would answer for it).
  if (!(Math.abs(t) <= MAX_TIME)) return new Date(t).toISOString();
  const second = Math.floor(t / 1000);
  if (second !== lastSecond.second) {
    const iso = new Date(t).toISOString();
    lastSecond.head = iso.slice(0, -4);
    lastSecond.second = second;
  }
  const milli = t - second * 1000;
  return `${lastSecond.head}${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}Z`;
}

/**
 * The run a finished call stands for, or null when it is no run (docs/runs-and-logs.md): a run
 * is a flow run, that is a call admitted to a deployment that asked a flow to run (HTTP: a run
 * path, `flowIdOf`; MCP: a `tools/call`). Listing flows, probes, docs, MCP `initialize` or
 * `tools/list` are calls, not runs: they are in the access log and the gateway's metrics, not
 * in the run history nor in the deployment's request and error counts drawn from it.
 */
export function runOf(c: GatewayCall, now: number): NewRun | null {
  if (!c.route) return null;
  let sessionId: string | null = null;
  let tool: string | null = null;
  let flowId: string | null = null;
  // An HTTP route maps the replica's whole root, its MCP endpoint included: a tools/call sent
  // there runs a flow as surely as on the MCP route (before, it ran without a run record).
  if (c.route.kind === "mcp" || c.path === MCP_PATH) {
    const call = toolCallOf(c);
    if (!call) return null;
    sessionId = short(c.headers["mcp-session-id"]);
    if (call.rpc) tool = short((call.rpc.params as { name?: unknown } | undefined)?.name);
  } else {
    flowId = flowIdOf(c.path);
    if (flowId === null) return null;
    // The body's session_id by the traffic split's own rule (core sessionIdOf: a byte search first,
    // a parse only when it could name one); the mcp-session-id header is MCP's, not a run's.
    sessionId = short(sessionIdOf({}, Buffer.isBuffer(c.body) ? c.body : undefined));
  }
  return {
    time: isoTime(now - c.latencyMs),
    deploymentId: c.route.deploymentId,
    projectId: c.route.projectId,
    revision: c.revision ?? null,
    flowId,
    route: c.route.kind,
    tool,
    caller: { userId: c.userId ?? null, keyId: c.keyId ?? null },
    sessionId,
    requestId: c.requestId,
    method: storable(c.method, 20) ?? "?",
    status: c.status,
    latencyMs: Math.round(c.latencyMs * 100) / 100,
    tokens: null,
    errorCode: storable(c.errorCode, 100),
  };
}
