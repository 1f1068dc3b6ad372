import { UnprocessableFlowError, type FieldError } from "./errors.js";
import type { Flow } from "./flow.js";
import type { Parameter } from "./parameters.js";
import { reservedNameReason } from "./reserved-names.js";

/**
 * Rules for the names and values a bundle's parameters may take, shared by publish, version
 * edits, deploy (and its dry run) and deployment edits, so every path refuses the same input.
 *
 * Values reach a replica as environment variables. Linux refuses to start a process with one
 * environment string over 128 KiB (MAX_ARG_STRLEN) and with all of them over a few MiB, and an
 * environment string cannot hold a NUL. The limits below keep well inside that, so a value the
 * API accepts always starts.
 */

/** Largest value of one credential or parameter, in UTF-8 bytes. */
export const MAX_VALUE_BYTES = 64 * 1024;
/** Largest sum of a deployment's credential and parameter values, in UTF-8 bytes. */
export const MAX_TOTAL_VALUE_BYTES = 512 * 1024;

/**
 * Refuses a bundle whose flows bind a reserved name (422), naming every flow, node and field
 * that uses it, like the hard-coded-secret check: nothing of the bundle is stored.
 */
export function checkReservedParameters(flows: readonly Flow[], parameters: readonly Parameter[]): void {
  const names = new Map(flows.map((f) => [f.id, f.name]));
  const uses: { flowId: string; nodeId: string; field: string; name: string; reason: string }[] = [];
  for (const p of parameters) {
    const reason = reservedNameReason(p.name);
    if (reason === null) continue;
    for (const u of p.usedBy) uses.push({ ...u, name: p.name, reason });
  }
  if (uses.length === 0) return;
  const list = uses.map((u) => `flow "${names.get(u.flowId) ?? u.flowId}" (${u.flowId}), node ${u.nodeId}, field ${u.field}: ${u.reason}`).join("; ");
  throw new UnprocessableFlowError(
    `reserved variable name: ${list}. Rename the global variable in Langflow.`,
    uses.map(({ flowId, nodeId, field, name }) => ({ flowId, nodeId, field, variable: name })),
  );
}

/** Reserved names among the keys of `values`, as field errors under `prefix` (`parameters.NODE_OPTIONS`). */
export function reservedKeyErrors(prefix: string, values: Record<string, string>): FieldError[] {
  const errors: FieldError[] = [];
  for (const name of Object.keys(values)) {
    const reason = reservedNameReason(name);
    if (reason !== null) errors.push({ field: `${prefix}.${safeName(name)}`, message: reason });
  }
  return errors;
}

/** Size and content of each value: at most MAX_VALUE_BYTES, no NUL. Messages never quote a value. */
export function valueErrors(groups: Record<string, Record<string, string>>): FieldError[] {
  const errors: FieldError[] = [];
  for (const [prefix, values] of Object.entries(groups)) {
    for (const [name, value] of Object.entries(values)) {
      const field = `${prefix}.${safeName(name)}`;
      const bytes = Buffer.byteLength(value, "utf8");
      if (value.includes("\u0000")) errors.push({ field, message: "a value may not contain a NUL character" });
      if (bytes > MAX_VALUE_BYTES) errors.push({ field, message: `the value is ${bytes} bytes; at most ${MAX_VALUE_BYTES} bytes (64 KiB) are allowed` });
    }
  }
  return errors;
}

/** All of a deployment's names and values together: at most MAX_TOTAL_VALUE_BYTES. */
export function totalValueErrors(groups: Record<string, Record<string, string>>): FieldError[] {
  let sum = 0;
  for (const values of Object.values(groups)) {
    for (const [name, value] of Object.entries(values)) sum += Buffer.byteLength(name, "utf8") + Buffer.byteLength(value, "utf8");
  }
  if (sum <= MAX_TOTAL_VALUE_BYTES) return [];
  return [{ field: Object.keys(groups)[0] ?? "", message: `the ${Object.keys(groups).join(" and ")} add up to ${sum} bytes; at most ${MAX_TOTAL_VALUE_BYTES} bytes (512 KiB) in all are allowed` }];
}

const safeName = (s: string): string => s.replace(/\u0000/g, "\\0");
