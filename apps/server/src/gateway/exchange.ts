import type { BodyRelease } from "../http/body-budget.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Ticket } from "./rate-limit.js";
import type { GatewayRoute } from "./types.js";

/**
 * What the gateway knows about one request, from its arrival to the access-log line: one plain
 * object per request, reached from the request and the response (no per-request closures on the
 * hot path: they kept request contexts alive past young-generation collections). Whatever a step
 * of the pipeline learns lands here, so the last step (finish) can write the run record, the
 * access line and the metrics from it alone.
 */
export class Exchange {
  readonly start = performance.now();
  /** Set by admission. */
  route: GatewayRoute | undefined = undefined;
  userId: string | undefined = undefined;
  keyId: string | undefined = undefined;
  /** The route's prefix as the client wrote it, the path on the replica, and the query (`?...`, key removed, or ""). */
  prefix = "";
  path = "";
  search = "";
  /** The whole request body (read before forwarding, bounded by the body limit), or null for none. */
  body: Buffer | null = null;
  /** The replica this request is (or was last) sent to. */
  upstream: string | undefined = undefined;
  /** The rate limiter's hold on this request (its concurrency slots), released at finish. */
  ticket: Ticket | undefined = undefined;
  /** The body budget's hold on this request's body bytes, released at finish. */
  bodyRoom: BodyRelease | undefined = undefined;
  /** Reported to scale to zero as a request in flight (released at finish). */
  active = false;
  /** The answer's `x-flowplane-error` (the gateway's own code, or the replica's), for the run history. */
  errorCode: string | undefined = undefined;
  /** The revision the answer named in `x-flowplane-revision` (the replica's own, else the route's). */
  revision: number | null = null;
  /** True while the request counts as in flight on `upstream`. */
  counted = false;
  attempts = 0;
  /** The status the client was answered with (0 until the answer's head is written). */
  status = 0;
  /** The response head came from a replica (the proxy started streaming its answer). */
  proxied = false;
  /**
   * Set by finish (which runs once): the connection let go of the request. A step that resumes
   * after an await checks it before taking anything finish would have released.
   */
  finished = false;
  /**
   * The CORS headers of every answer to this request (cors.ts `headersFor`): undefined when CORS
   * is off, and then a replica's answer headers pass as they always did.
   */
  cors: Record<string, string> | undefined = undefined;
  /** Duration in ms, set once at finish. */
  durationMs = 0;
  /**
   * `requestId`: the gateway's own id of this request (headers.ts newRequestId; the run's id).
   * `correlationId`: the client's X-Request-Id when short and plain, only for the access line.
   */
  constructor(readonly req: IncomingMessage, readonly res: ServerResponse, readonly requestId: string, readonly correlationId?: string) {}
}

const EXCHANGE = Symbol("flowplane.exchange");
type Carrier = { [EXCHANGE]?: Exchange };

export function attachExchange(res: ServerResponse, ex: Exchange): void {
  (res as ServerResponse & Carrier)[EXCHANGE] = ex;
}

export function exchangeOf(res: ServerResponse): Exchange | undefined {
  return (res as ServerResponse & Carrier)[EXCHANGE];
}
