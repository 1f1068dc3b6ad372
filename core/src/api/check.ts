import type { Operation } from "./operations.js";
import { answerSchema, errorStatuses } from "./operations.js";

/**
 * Checks one answer against the contract: the status must be one the operation declares and
 * the body must match that status's schema. Returns what is wrong, or null. The server's
 * tests run it on every answer, and the clients run it on what they read in their tests.
 */
export function contractProblem(o: Operation, status: number, body: unknown): string | null {
  const where = `${o.method} ${o.path} answered ${status}`;
  const declared = status >= 400 ? declaredError(o, status) : status in o.ok;
  if (!declared) return `${where}, a status the contract does not declare`;
  const schema = answerSchema(o, status);
  if (schema === null) return body === undefined || body === "" ? null : `${where} with a body, but the contract declares none`;
  if (schema === undefined) return `${where}, a status the contract does not declare`;
  const r = schema.safeParse(body);
  if (r.success) return null;
  const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`);
  return `${where} with a body that does not match its schema: ${issues.join("; ")}`;
}

function declaredError(o: Operation, status: number): boolean {
  return (errorStatuses(o) as number[]).includes(status);
}
