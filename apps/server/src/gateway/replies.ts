import type { ServerResponse } from "node:http";
import { RUN_ERROR_HEADER } from "@flowplane/core";
import { lingerBeforeClose } from "../http/early-refusal.js";
import { hasBody } from "./body.js";
import type { Exchange } from "./exchange.js";
import { splitGatewayPath } from "./paths.js";

/** The gateway's own answers, in flowplane's one error shape `{"error": {"code", "message"}}`. */
export type GatewayErrorCode = "unauthenticated" | "forbidden" | "not_found" | "bad_request" | "payload_too_large" | "unavailable" | "deployment_disabled" | "rate_limited" | "bad_gateway" | "gateway_timeout" | "internal_error";

/** Seconds a client should wait before retrying while no replica is ready (replicas start in about a second). */
export const RETRY_AFTER_SECONDS = 1;
/** Seconds a client should wait before retrying a disabled deployment: a person must turn it back on. */
export const DISABLED_RETRY_AFTER_SECONDS = 300;

/** The gateway's words when a replica fails a call: the pipeline's answers, and HAProxy's own on its fast path (haproxy/config.ts). */
export const REPLICA_FAILURE = {
  refused: "no ready replica accepted the connection; retry shortly",
  failed: "the replica failed while handling the request",
  timeout: (seconds: number | string) => `the replica did not answer within ${seconds} s`,
} as const;

/**
 * Writes one of the gateway's own answers. A request whose body was not (fully) read is answered
 * with `Connection: close` and a bounded lingering close (http/early-refusal.ts): the body is
 * never drained, and the client still reads the answer rather than a reset.
 */
export function sendError(ex: Exchange, status: number, code: GatewayErrorCode, message: string, bodyLimit: number, extra?: Record<string, string>): void {
  const { req, res } = ex;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Below a route's Langflow API (`/api/v1/...`) the answer also carries Langflow's `detail`, so a
  // Langflow client reads the reason where it looks for it; the product's shape stays beside it.
  const langflow = splitGatewayPath(req.url ?? "").rest.startsWith("/api/v1/");
  const body = JSON.stringify({ error: { code, message }, ...(langflow ? { detail: message } : {}) });
  const headers: Record<string, string | number> = {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    // The run history records the gateway's own error code (runs/call.ts reads it back at finish).
    [RUN_ERROR_HEADER]: code,
    ...extra,
  };
  if (status === 401) headers["www-authenticate"] = 'Bearer realm="flowplane"';
  if (status === 503) headers["retry-after"] = String(code === "deployment_disabled" ? DISABLED_RETRY_AFTER_SECONDS : RETRY_AFTER_SECONDS);
  // (A request without a body counts as complete: its end is parsed just after the headers.)
  if (!req.complete && hasBody(req)) {
    headers.connection = "close";
    lingerBeforeClose(req.socket, 2 * bodyLimit);
  }
  ex.status = status;
  ex.errorCode = code;
  writeHead(res, status, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}

function writeHead(res: ServerResponse, status: number, headers: Record<string, string | number>): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.statusCode = status;
}
