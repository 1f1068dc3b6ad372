import { UnprocessableFlowError } from "./errors.js";
import type { Flow, TemplateField } from "./flow.js";

/**
 * - `credential`: used by at least one secret field (SecretStrInput or `password: true`);
 *   never has a default; a value is required at deploy time.
 * - `plain`: any other global variable; may carry a publish-time default.
 */
export type ParameterKind = "credential" | "plain";

export interface ParameterUse {
  flowId: string;
  nodeId: string;
  field: string;
}

export interface Parameter {
  name: string;
  kind: ParameterKind;
  default?: string;
  usedBy: ParameterUse[];
}

export interface HardCodedSecret extends ParameterUse {
  flowName: string;
}

export function isSecretField(field: TemplateField): boolean {
  return field._input_type === "SecretStrInput" || field.password === true;
}

/** The global variable a field is bound to, or null (Langflow binds with `load_from_db: true`, `value` = the name). */
export function boundVariable(field: TemplateField): string | null {
  if (field.load_from_db !== true || typeof field.value !== "string") return null;
  const name = field.value.trim();
  return name.length > 0 ? name : null;
}

/**
 * Every global variable the flows reference, deduplicated by name, in order of first use.
 * A literal, non-empty value in a secret field is a hard-coded secret: the whole bundle is
 * refused (422), naming every such field, so nothing of it is stored.
 */
export function extractParameters(flows: readonly Flow[]): Parameter[] {
  const byName = new Map<string, Parameter>();
  const hardCoded: HardCodedSecret[] = [];
  for (const flow of flows) {
    for (const node of flow.nodes) {
      if (node.isNote) continue;
      for (const [fieldName, field] of Object.entries(node.template)) {
        const variable = boundVariable(field);
        const secret = isSecretField(field);
        if (variable === null) {
          if (secret && field.load_from_db !== true && typeof field.value === "string" && field.value.trim().length > 0) {
            hardCoded.push({ flowId: flow.id, flowName: flow.name, nodeId: node.id, field: fieldName });
          }
          continue;
        }
        let p = byName.get(variable);
        if (!p) {
          p = { name: variable, kind: "plain", usedBy: [] };
          byName.set(variable, p);
        }
        if (secret) p.kind = "credential";
        p.usedBy.push({ flowId: flow.id, nodeId: node.id, field: fieldName });
      }
    }
  }
  if (hardCoded.length > 0) {
    const list = hardCoded.map((h) => `flow "${h.flowName}" (${h.flowId}), node ${h.nodeId}, field ${h.field}`).join("; ");
    throw new UnprocessableFlowError(
      `hard-coded secret: ${list}. Bind the field to a global variable in Langflow so it becomes a credential set at deploy time.`,
      hardCoded.map(({ flowId, nodeId, field }) => ({ flowId, nodeId, field })),
    );
  }
  return [...byName.values()];
}

/**
 * Applies publish-time defaults: credentials never keep one (a default sent for a credential
 * is dropped), plain parameters take theirs. Names that are not parameters of the bundle are
 * returned as `unknown` so the caller can refuse them.
 */
export function applyDefaults(params: Parameter[], defaults: Record<string, string>): { parameters: Parameter[]; unknown: string[] } {
  const known = new Set(params.map((p) => p.name));
  const unknown = Object.keys(defaults).filter((k) => !known.has(k));
  const parameters = params.map((p) => {
    const { default: _old, ...rest } = p;
    const value = defaults[p.name];
    return p.kind === "plain" && value !== undefined ? { ...rest, default: value } : rest;
  });
  return { parameters, unknown };
}
