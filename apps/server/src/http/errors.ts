import { DomainError, TooManyRequestsError, type ErrorCode } from "@flowplane/core";
import { PATH_PARAM_MAX } from "@flowplane/core/api";

/** The one place where domain errors become HTTP statuses. */
const STATUS: Record<ErrorCode, number> = {
  validation_failed: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unprocessable_flow: 422,
  too_many_requests: 429,
};

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** Errors raised by the HTTP framework itself, before a handler runs. */
const FRAMEWORK: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: "payload_too_large", message: "the request body is larger than allowed" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: "unsupported_media_type", message: "send JSON with Content-Type: application/json" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: "malformed_request", message: "the Content-Length does not match the body" },
  // The router's own refusals (Fastify's frameworkErrors), which answered in Fastify's shape, one of them as an undeclared 414.
  FST_ERR_BAD_URL: { status: 400, code: "malformed_request", message: "the path holds a malformed percent-escape" },
  FST_ERR_MAX_PARAM_LENGTH: { status: 400, code: "malformed_request", message: `a path parameter is longer than ${PATH_PARAM_MAX} characters, which no name, tag or id is` },
};

export function toHttpError(err: unknown): { status: number; body: ErrorBody; unexpected: boolean; headers?: Record<string, string> } {
  if (err instanceof DomainError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.details !== undefined) body.error.details = err.details;
    const retry = err instanceof TooManyRequestsError && err.retryAfterSeconds !== undefined ? { "retry-after": String(err.retryAfterSeconds) } : undefined;
    return { status: STATUS[err.code], body, unexpected: false, ...(retry ? { headers: retry } : {}) };
  }
  const e = err as { code?: string; statusCode?: number; message?: string; name?: string };
  const known = e.code ? FRAMEWORK[e.code] : undefined;
  if (known) return { status: known.status, body: { error: { code: known.code, message: known.message } }, unexpected: false };
  if (e.statusCode === 400 && (e.name === "SyntaxError" || /JSON/i.test(e.message ?? ""))) {
    return { status: 400, body: { error: { code: "malformed_json", message: `the request body is not valid JSON: ${e.message ?? ""}`.trim() } }, unexpected: false };
  }
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { error: { code: "bad_request", message: e.message ?? "bad request" } }, unexpected: false };
  }
  return { status: 500, body: { error: { code: "internal_error", message: "an unexpected error occurred; it has been logged" } }, unexpected: true };
}
