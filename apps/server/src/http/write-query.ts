import { ValidationError } from "@flowplane/core";
import type { Operation } from "@flowplane/core/api";

/**
 * A write's query parameters that its operation does not describe, refused (400 naming each)
 * instead of ignored: `PATCH .../deployments/{id}?dryRun=true` applied the change, since only a
 * deploy takes `dryRun`, and a caller who asked for a dry run got a new revision. Reads stay
 * lenient (a cache-buster such as `?_=1700000000` on a GET changes nothing), and the web UI and
 * the CLI send only what the contract describes (their client is derived from it).
 */
export function checkWriteQuery(op: Pick<Operation, "method" | "path" | "query">, query: Record<string, unknown> | undefined): void {
  if (op.method === "GET" || query === undefined) return;
  const known = op.query ? Object.keys(op.query.shape) : [];
  const unknown = Object.keys(query).filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  const takes = known.length === 0 ? "takes no query parameters" : `takes only ${known.join(", ")}`;
  throw new ValidationError(unknown.slice(0, 20).map((name) => ({ field: name, message: `is not a query parameter of ${op.method} ${op.path}, which ${takes}` })));
}
