/**
 * The few domain errors flowplane raises. Each has a stable `code`; the HTTP layer maps codes
 * to statuses in one place (apps/server/src/http/errors.ts). Messages are shown to users as
 * they are, so they never contain a credential value.
 */
export type ErrorCode =
  /** The input breaks a rule; `details` lists `{field, message}`. */
  | "validation_failed"
  /** No, unknown, expired or revoked access key. */
  | "unauthenticated"
  /** The caller is known but lacks the role for this action. */
  | "forbidden"
  /** The resource does not exist or the caller may not see it. */
  | "not_found"
  /** The request conflicts with the current state (a version tag that exists, a key limit). */
  | "conflict"
  /** The request body is larger than allowed. */
  | "payload_too_large"
  /** The JSON is well formed but is not a flow flowplane can accept (e.g. a hard-coded secret). */
  | "unprocessable_flow"
  /** The caller holds too many of a bounded resource at once (e.g. open log streams); retry later. */
  | "too_many_requests";

export interface FieldError {
  field: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The most problems one validation error keeps and tells; past them, one more says how many
 * were left out. A request can name as many fields as its body holds: a bundle published with
 * 200,000 unknown default names was answered 32 MiB of errors, one per name.
 */
export const MAX_FIELD_ERRORS = 100;

export class ValidationError extends DomainError {
  readonly errors: FieldError[];
  constructor(errors: FieldError[], message?: string) {
    const kept = errors.length > MAX_FIELD_ERRORS
      ? [...errors.slice(0, MAX_FIELD_ERRORS), { field: "", message: `and ${errors.length - MAX_FIELD_ERRORS} more problems` }]
      : errors;
    super("validation_failed", message ?? kept.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join("; "), kept);
    this.errors = kept;
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = "a valid access key is required (x-access-key header or Authorization: Bearer)") {
    super("unauthenticated", message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message: string) {
    super("forbidden", message);
  }
}

export class NotFoundError extends DomainError {
  constructor(message: string) {
    super("not_found", message);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string) {
    super("conflict", message);
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(message: string) {
    super("payload_too_large", message);
  }
}

export class UnprocessableFlowError extends DomainError {
  constructor(message: string, details?: unknown) {
    super("unprocessable_flow", message, details);
  }
}

export class TooManyRequestsError extends DomainError {
  /** `retryAfterSeconds`: when it is known, the answer's Retry-After. */
  constructor(message: string, readonly retryAfterSeconds?: number) {
    super("too_many_requests", message);
  }
}
