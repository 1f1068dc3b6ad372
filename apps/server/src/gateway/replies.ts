import type { FastifyReply } from "fastify";
import { RUN_ERROR_HEADER } from "@flowplane/core";
import { splitGatewayPath } from "./paths.js";

/** The gateway's own answers, in flowplane's one error shape `{"error": {"code", "message"}}`. */
export type GatewayErrorCode = "unauthenticated" | "not_found" | "bad_request" | "unavailable" | "deployment_disabled" | "rate_limited" | "bad_gateway" | "gateway_timeout" | "internal_error";

/** Seconds a client should wait before retrying while no replica is ready (replicas start in about a second). */
export const RETRY_AFTER_SECONDS = 1;
/** Seconds a client should wait before retrying a disabled deployment: a person must turn it back on. */
export const DISABLED_RETRY_AFTER_SECONDS = 300;

export function sendError(reply: FastifyReply, status: number, code: GatewayErrorCode, message: string): FastifyReply {
  void reply.header(RUN_ERROR_HEADER, code);
  if (status === 401) void reply.header("www-authenticate", 'Bearer realm="flowplane"');
  if (status === 503) void reply.header("retry-after", String(code === "deployment_disabled" ? DISABLED_RETRY_AFTER_SECONDS : RETRY_AFTER_SECONDS));
  // Below a route's Langflow API (`/api/v1/...`) the answer also carries Langflow's `detail`, so a
  // Langflow client reads the reason where it looks for it; the product's shape stays beside it.
  const langflow = splitGatewayPath(reply.request.url).rest.startsWith("/api/v1/");
  return reply.code(status).type("application/json; charset=utf-8").send({ error: { code, message }, ...(langflow ? { detail: message } : {}) });
}
