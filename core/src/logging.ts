import { GATEWAY_SECRET_HEADER } from "./replica-access.js";

/**
 * The one logging interface of flowplane: the server, the runtime, the reconciler and the
 * drivers all write through it (pino behind it, `@flowplane/logging`). Core only declares it:
 * writing is I/O.
 *
 * A line is a message plus fields. The fields that name what a line is about have one name
 * everywhere, so that one query finds a deployment's lines from every process:
 * see `LogFields`. Pass names, ids, counts and durations; never a parameter value, a key or a
 * request body (the redaction list below is the safety net, not the rule).
 */
export interface Logger {
  debug(msg: string): void;
  debug(fields: LogFields, msg: string): void;
  info(msg: string): void;
  info(fields: LogFields, msg: string): void;
  warn(msg: string): void;
  warn(fields: LogFields, msg: string): void;
  error(msg: string): void;
  error(fields: LogFields, msg: string): void;
  /** A logger whose every line also carries `bindings` (say, `{ deploymentId }`). */
  child(bindings: LogFields): Logger;
}

/** The fields a line may carry; the named ones mean the same thing in every process. */
export interface LogFields {
  /** The deployment the line is about (its id, `dep_...`). */
  deploymentId?: string;
  /** The replica the line is about: its id within the deployment (driver-assigned). */
  replica?: string;
  /** The HTTP request the line is about: the `x-request-id` the caller (or the gateway) sent, else one generated. */
  requestId?: string;
  [field: string]: unknown;
}

/**
 * Field and header names whose value is a secret, censored wherever they appear in a line (at
 * the top level, or one or two objects down: `req.headers.authorization`). The one list: the
 * logging adapter turns it into pino's redaction paths, and its test checks every entry.
 */
export const REDACTED_KEYS: readonly string[] = [
  // HTTP headers that carry keys or sessions
  "authorization",
  "x-access-key",
  "x-api-key",
  "cookie",
  "set-cookie",
  GATEWAY_SECRET_HEADER,
  // domain secrets, should one ever be passed as a field
  "accessKey",
  "apiKey",
  "credentials",
  "credentialValues",
  "gatewaySecret",
  "identityToken",
  "secretKey",
  "password",
  "token",
  // A database error's statement parameters (PGlite puts `query` and `params` on its errors, and
  // an unexpected error is logged whole): the values a statement carried, whatever they were.
  "params",
];

/** What a censored value is replaced with. */
export const REDACTED = "[redacted]";
