/**
 * Exit codes: scripts branch on them, so each one names a kind of outcome and never changes.
 * Documented in `flowplane --help` (EXIT_CODES_HELP) and in the README.
 */
export const Exit = {
  ok: 0,
  /** A bug, or an answer the CLI did not expect (5xx); also a prompt the user declined. */
  unexpected: 1,
  /** The command line itself is wrong: unknown option, missing argument, bad flag value. */
  usage: 2,
  /** The server refused the input (400, 413, 422): field messages are printed. */
  validation: 3,
  /** No valid access key (401), or no right to do this (403). */
  auth: 4,
  /** The project, bundle, deployment or endpoint does not exist (404). */
  notFound: 5,
  /** A conflict (409): the name is taken, the deployment changed meanwhile or is being undeployed. */
  conflict: 6,
  /** The deployment failed or is not serving (503), or --wait timed out. */
  deployment: 7,
  /** The server cannot be reached. */
  unreachable: 8,
} as const;
export type ExitCode = (typeof Exit)[keyof typeof Exit];

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  unexpected error (or declined at a prompt)
  2  usage error (bad command line)
  3  validation failed (the server's field messages are printed)
  4  not authenticated or not allowed (401/403)
  5  not found (404)
  6  conflict (409)
  7  deployment failed or not serving, or --wait timed out
  8  cannot reach the server`;

export interface FieldMessage {
  field: string;
  message: string;
}

/** An expected failure: printed as `error: <message>` (and its field messages), never as a stack trace. */
export class CliError extends Error {
  constructor(readonly exitCode: ExitCode, message: string, readonly details: FieldMessage[] = []) {
    super(message);
  }
}

export const usageError = (message: string): CliError => new CliError(Exit.usage, message);

/** The exit code for an HTTP error status. */
export function exitForStatus(status: number): ExitCode {
  if (status === 400 || status === 413 || status === 422) return Exit.validation;
  if (status === 401 || status === 403) return Exit.auth;
  if (status === 404) return Exit.notFound;
  if (status === 409) return Exit.conflict;
  if (status === 503) return Exit.deployment;
  return Exit.unexpected;
}

/** Renders field messages as the Deploy dialog would show them: one `field: message` per line. */
export function formatDetails(details: FieldMessage[]): string {
  return details.map((d) => `  ${d.field ? `${d.field}: ` : ""}${d.message}`).join("\n");
}
