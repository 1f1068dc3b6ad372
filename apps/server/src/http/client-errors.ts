import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

/**
 * What Node's HTTP parser refuses before any route runs (a malformed chunk size, both
 * Content-Length and Transfer-Encoding, headers past Node's 16 KiB, headers or a body too slow)
 * is answered in the one error shape (`{"error":{"code","message"}}`, errors.ts), not in
 * Fastify's own (`{"error":"Bad Request","message":"Client Error","statusCode":400}`) on the API
 * nor with no body at all on the gateway's workers. The connection is closed after it: what
 * follows a request that could not be parsed cannot be trusted to start a request.
 */
export function clientErrorAnswer(err: NodeJS.ErrnoException): string {
  const [status, code, message] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? [408, "request_timeout", "the request did not arrive in time"] as const
      : err.code === "HPE_HEADER_OVERFLOW" ? [431, "headers_too_large", "the request's headers are larger than 16 KiB"] as const
        : [400, "malformed_request", "the request is not valid HTTP/1.1"] as const;
  const body = JSON.stringify({ error: { code, message } });
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-flowplane-error: ${code}\r\nconnection: close\r\n\r\n${body}`;
}

/** A `clientError` listener (node:http) and Fastify's `clientErrorHandler`: the answer above, then the socket closed. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody to answer (Node's and Fastify's own handlers skip it too).
  // Nor has one whose answer to an earlier request is under way, begun and not ended (a pipelined
  // request that could not be parsed, or a body too slow while the answer streams): the 400 or
  // 408 would land in the middle of that answer's body, as Node's own handler takes care to
  // avoid. An answer ended already (the gateway's 401 before the body it refuses) goes out whole first.
  // Written, then destroyed, as Node's own handler does: a small write goes out at once.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean; writableEnded?: boolean } | null })._httpMessage;
  const answering = inFlight?.headersSent === true && inFlight.writableEnded !== true;
  if (err.code !== "ECONNRESET" && !socket.destroyed && socket.writable && !answering) socket.write(clientErrorAnswer(err));
  socket.destroy();
}

/**
 * A `connect` listener (node:http): CONNECT asks a proxy for a tunnel, and no flowplane listener
 * is one. Without a listener Node closes the connection with no answer at all; the caller gets a
 * 405 in the one error shape instead, then the close (what follows on the connection would be
 * the tunnel's bytes, not HTTP).
 */
export function answerConnect(_req: IncomingMessage, socket: Duplex): void {
  const body = JSON.stringify({ error: { code: "method_not_allowed", message: "CONNECT is not supported: this is not a proxy" } });
  if (!socket.destroyed && socket.writable) {
    socket.write(`HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-flowplane-error: method_not_allowed\r\nconnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

const HOST_REQUIRED = JSON.stringify({ error: { code: "malformed_request", message: "an HTTP/1.1 request needs a Host header" } });

/**
 * An HTTP/1.1 request without Host is a 400 (RFC 9112, 3.2) in the one error shape, its
 * connection closed after it, as Node's own check closes it; true when `req` was one (answered).
 * HTTP/1.0 may leave Host out, and is served.
 */
export function answerMissingHost(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.headers.host !== undefined || req.httpVersionMajor !== 1 || req.httpVersionMinor < 1) return false;
  res.writeHead(400, {
    "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(HOST_REQUIRED),
    "x-flowplane-error": "malformed_request", connection: "close",
  }).end(HOST_REQUIRED);
  return true;
}

/**
 * Node answers an HTTP/1.1 request without Host itself, before any listener: a 400 with an empty
 * body, in no shape of the product's. Its check is turned off and made here instead
 * (answerMissingHost), as the server emits a request (`request`, or `checkContinue` for `Expect:
 * 100-continue`), before any of its listeners: those added later too (the gateway's path switch,
 * which takes the listeners there are, the body pace, which comes and goes), so it may be
 * installed as soon as the server is made.
 */
export function requireHost(server: Server): void {
  // Read by Node's parser at each request (the createServer option of the same name sets it; @types/node omits it).
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
    if ((event === "request" || event === "checkContinue") && answerMissingHost(args[0] as IncomingMessage, args[1] as ServerResponse)) return true;
    return emit(event, ...args);
  }) as Server["emit"];
}
