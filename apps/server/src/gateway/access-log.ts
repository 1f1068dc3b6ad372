import { hostname } from "node:os";

/**
 * The access log's line, one per request: ids, method, status and timing. Never the URL (its
 * query string and path may carry data), never headers, never bodies.
 */
export interface AccessLine {
  /** The gateway's own id of the request (the run's `requestId`). */
  requestId: string;
  /** The client's X-Request-Id, when it sent a short plain one: to find its calls, never a key. */
  correlationId?: string | undefined;
  routeId: string | undefined;
  deploymentId: string | undefined;
  userId: string | undefined;
  method: string | undefined;
  status: number;
  durationMs: number;
  upstream: string | undefined;
  attempts: number;
  completed: boolean;
}

export const ACCESS_MESSAGE = "gateway request";

/**
 * An access-log writer for the hot path, for the data-plane workers: the line pino would write
 * (same fields, same `level`/`time`/`pid`/`hostname`/`msg` shape, so log tooling sees no
 * difference), formatted with one JSON.stringify. The logger's redaction (wildcard paths over
 * every key of every line) cost about 20 times the formatting, per request; it is not needed
 * here because the line's fields are fixed above and none of them is a secret.
 */
export function jsonAccessLog(write: (line: string) => void, bindings: Record<string, unknown> = {}): (line: AccessLine) => void {
  const head = JSON.stringify({ pid: process.pid, hostname: hostname(), ...bindings }).slice(1, -1);
  return (line) => {
    const fields = JSON.stringify(line).slice(1, -1);
    write(`{"level":"info","time":"${new Date().toISOString()}",${head},${fields},"msg":"${ACCESS_MESSAGE}"}\n`);
  };
}
