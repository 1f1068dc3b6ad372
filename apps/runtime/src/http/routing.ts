import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { RUN_ERROR_HEADER, MAX_JSON_DEPTH, ValidationError, tooDeepAt } from "@flowplane/core/replica";
import { answered, endAnswer } from "./answer-batch.js";

/**
 * The few pieces of a web framework the runtime needs, on `node:http` alone: a route table
 * matched by path segments, the request body read and parsed (JSON or text, with a size limit),
 * and one way to answer. A replica serves a handful of routes; a framework cost more to import
 * (about a second of a cold start on a busy machine) and more per request than it gave.
 * The behaviour is the one the runtime had on Fastify: same statuses, same bodies, same
 * content types, HEAD answered by GET routes, bodies refused with the same reasons.
 */

/** A request as a handler sees it: the path without its query, the route's parameters, the parsed body. */
export interface RuntimeRequest {
  /** The gateway's run id (RUN_ID_HEADER, set on every request it forwards), else one of this process's own. */
  id: string;
  /** The id is the gateway's (which names a run, for its trace), not one of this process's own. */
  fromGateway: boolean;
  method: string;
  path: string;
  /**
   * The query string, without its `?` (empty when there is none): a route that reads parameters
   * parses it (`new URLSearchParams(req.search)`); most read none, and a parsed query for each
   * request was an object made and dropped per run.
   */
  search: string;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The parsed body (POST only): JSON, a string for text/plain, undefined when there is none. */
  body: unknown;
  raw: IncomingMessage;
}

/**
 * A handler answers by returning a JSON payload (sent with 200) or by writing to the response
 * itself (then it returns nothing). What it throws goes to the route's `onError`, else the app's.
 */
export type Handler = (req: RuntimeRequest, res: ServerResponse) => unknown;
export type ErrorHandler = (err: unknown, req: RuntimeRequest, res: ServerResponse) => void;

/**
 * The methods routes are declared for:
 * - `GET`: also answers HEAD (headers only);
 * - `POST`: its body is read and parsed before the handler runs;
 * - `DELETE`: no body read.
 */
export type RouteMethod = "GET" | "POST" | "DELETE";

export interface Route {
  method: RouteMethod;
  /** Segments, `:name` for a parameter (one non-empty segment). */
  path: string;
  handler: Handler;
  /** Replaces the app's error handler for this route, body errors included (Langflow's `{detail}` shape). */
  onError?: ErrorHandler;
  /** POST only: the body is left unread for the handler (a multipart upload reads its own, bounded). */
  rawBody?: true;
  /**
   * POST only: the route cannot run without a body (MCP's JSON-RPC message), so an empty one sent
   * as JSON is refused (`empty_json`) instead of read as no body (readBody).
   */
  bodyRequired?: true;
}

/** Why a body was refused; the status and code the error mapping turns into an answer. */
export type BodyErrorCode =
  /** `application/json` with an empty body, on a route that needs one (Route.bodyRequired). */
  | "empty_json"
  /** Not JSON, or JSON with a `__proto__` / `constructor.prototype` key (prototype poisoning). */
  | "invalid_json"
  /** Larger than the configured limit. */
  | "body_too_large"
  /** Neither JSON nor text/plain. */
  | "unsupported_media_type";

export class BodyError extends Error {
  constructor(readonly statusCode: number, readonly code: BodyErrorCode, message: string) {
    super(message);
  }
}

interface CompiledRoute extends Route {
  segments: string[];
}

/** Routes by method, matched segment by segment; no trailing-slash or case folding (as before). */
export class Router {
  private readonly routes: CompiledRoute[] = [];

  add(route: Route): this {
    this.routes.push({ ...route, segments: route.path.split("/").slice(1) });
    return this;
  }

  /** The route and its parameters, or null. HEAD finds GET routes. Throws a 400 for a malformed escape in a parameter. */
  find(method: string, path: string): { route: Route; params: Record<string, string> } | null {
    const m = method === "HEAD" ? "GET" : method;
    const parts = path.split("/").slice(1);
    for (const route of this.routes) {
      if (route.method !== m || route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = route.segments[i]!;
        const part = parts[i]!;
        if (seg.startsWith(":")) {
          if (part === "") ok = false;
          else params[seg.slice(1)] = decodeParam(part);
        } else ok = seg === part;
      }
      if (ok) return { route, params };
    }
    return null;
  }

  /**
   * The methods routes answer at `path` (a GET route's HEAD included), for a 405's `Allow` when
   * the path is known but not under the method asked; empty when no route has the path.
   */
  methodsAt(path: string): string[] {
    const parts = path.split("/").slice(1);
    const methods = new Set<string>();
    for (const route of this.routes) {
      if (route.segments.length !== parts.length) continue;
      if (route.segments.every((seg, i) => (seg.startsWith(":") ? parts[i] !== "" : seg === parts[i]))) {
        methods.add(route.method);
        if (route.method === "GET") methods.add("HEAD");
      }
    }
    return [...methods];
  }
}

function decodeParam(s: string): string {
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    throw Object.assign(new Error(`'${s}' is not a valid url component`), { statusCode: 400 });
  }
}

/**
 * Answers with a body: a string as is, anything else as JSON. `Content-Length` always set. A
 * response the app adopted into its answer batch is ended at the end of this pass of the event
 * loop (answer-batch.ts), its head fixed now. A response already answered is left as it is.
 */
export function send(res: ServerResponse, status: number, body: unknown, type = "application/json; charset=utf-8"): void {
  if (answered(res)) return;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  // One writeHead with the headers as a list (in the order setHeader gave them; headers set before
  // come first, as they did): cheaper per answer than a setHeader each.
  const headers: (string | number)[] = ["content-type", type];
  // The error's code for the gateway's run history, which never reads bodies.
  if (status >= 400) {
    const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
    if (typeof code === "string") headers.push(RUN_ERROR_HEADER, code);
  }
  headers.push("content-length", Buffer.byteLength(text));
  res.writeHead(status, headers);
  endAnswer(res, text);
}

const JSON_EMPTY = "Body cannot be empty when content-type is set to 'application/json'";
const JSON_INVALID = "Body is not valid JSON but content-type is set to 'application/json'";

/**
 * Reads and parses a POST body, as the runtime always has: `application/json` (any case, with
 * parameters) as JSON, `text/plain` as a string, no body and no content type as undefined, any
 * other type refused (415), more than `limit` bytes refused (413) without reading further when
 * the length is announced.
 *
 * An empty body sent as JSON is no body (undefined), as Langflow (FastAPI) reads it: many HTTP
 * clients send `Content-Type: application/json` on every request, and Langflow's run API runs
 * such a call with its defaults. `required` (Route.bodyRequired): refused, 400 `empty_json`.
 */
export async function readBody(req: IncomingMessage, limit: number, required = false): Promise<unknown> {
  const type = req.headers["content-type"];
  const length = req.headers["content-length"];
  const chunked = req.headers["transfer-encoding"] !== undefined;
  if (type === undefined && !chunked && (length === undefined || length === "0")) return undefined;
  const essence = (type ?? "").split(";")[0]!.trim().toLowerCase();
  const kind = essence === "application/json" ? "json" : essence === "text/plain" ? "text" : null;
  if (kind === null) throw new BodyError(415, "unsupported_media_type", "Unsupported Media Type");
  const text = (await readLimited(req, limit, () => new BodyError(413, "body_too_large", "Request body is too large"))).toString("utf8");
  if (kind === "text") return text;
  if (text.length === 0) {
    if (required) throw new BodyError(400, "empty_json", JSON_EMPTY);
    return undefined;
  }
  const body = parseJson(text);
  // Too deep for the recursive code behind the routes (core json-depth.ts): a 400 naming the
  // field, on every route (runs, MCP). Each level takes two characters, so a short body, as a
  // run's usually is, cannot be too deep and is not walked.
  if (text.length > 2 * MAX_JSON_DEPTH) {
    const at = tooDeepAt(body);
    if (at !== null) throw new ValidationError([{ field: at, message: `the JSON nests deeper than ${MAX_JSON_DEPTH} levels; no flow needs that` }]);
  }
  return body;
}

/**
 * The body's bytes, at most `limit`: over it, `tooLarge()` is thrown, before reading when the
 * length is announced, else as soon as it is passed (the rest is drained unread, so the answer
 * still reaches the client).
 */
export function readLimited(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const length = req.headers["content-length"];
  if (length !== undefined && Number(length) > limit) return Promise.reject(tooLarge());
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off("data", onData);
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    };
    req.on("data", onData);
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

/**
 * JSON.parse, refusing prototype poisoning (a `__proto__` key, or a `constructor` key holding
 * `prototype`) as Fastify did. The checking parse runs only when the text could hold such a key.
 */
function parseJson(text: string): unknown {
  try {
    if (!/proto|constructor|\\u/.test(text)) return JSON.parse(text) as unknown;
    return JSON.parse(text, (key, value: unknown) => {
      if (key === "__proto__") throw new Error("forbidden key");
      if (key === "constructor" && typeof value === "object" && value !== null && Object.hasOwn(value, "prototype")) throw new Error("forbidden key");
      return value;
    }) as unknown;
  } catch {
    throw new BodyError(400, "invalid_json", JSON_INVALID);
  }
}
