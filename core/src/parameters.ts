import { UnprocessableFlowError } from "./errors.js";
import { edgesInto, type Flow, type FlowNode, type TemplateField } from "./flow.js";
import { API_KEY_FIELD, findProvider, modelChoiceName, modelSelections } from "./models.js";

/**
 * - `credential`: used by at least one secret field (SecretStrInput or `password: true`), or a
 *   model provider's key that a model node leaves to the provider settings (`OPENAI_API_KEY`...);
 *   never has a default; a value is required at deploy time.
 * - `plain`: any other global variable; may carry a publish-time default.
 * - `model`: a deploy-time model choice (`<provider>/<model>`) for a model field exported with
 *   no model selected; a value is required at deploy time, and the chosen provider's key then
 *   becomes a required credential.
 */
export type ParameterKind = "credential" | "plain" | "model";

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
 * Something a publish accepts but a deployer must know, always naming the flow, node and field:
 * - `no_model_selected`: a model field exported with no model; the deployer must choose one;
 * - `secret_unbound`: a secret field left empty and bound to no global variable: the component
 *   runs without it (or fails when it needs it);
 * - `unknown_provider`: a model provider Langflow's provider list does not name, so flowplane
 *   cannot tell which key it needs.
 */
export type PublishWarningCode = "no_model_selected" | "secret_unbound" | "unknown_provider";

export interface PublishWarning extends ParameterUse {
  code: PublishWarningCode;
  flowName: string;
  message: string;
}

const isEmpty = (f: TemplateField | undefined): boolean => f !== undefined && (f.value === undefined || f.value === null || (typeof f.value === "string" && f.value.trim() === ""));

/** The fields of a node that an edge fills: their exported value is not what runs. */
function connectedFields(flow: Flow, node: FlowNode): Set<string> {
  return new Set(edgesInto(flow, node.id).filter((e) => e.targetHandle.fieldName).map((e) => e.targetHandle.fieldName));
}

/**
 * What one node needs from a deployment beyond its bound global variables, and what to warn
 * about. The one reading of "which key does this model node use" that publish, deploy and the
 * runtime share.
 */
function nodeNeeds(flow: Flow, node: FlowNode): { uses: { name: string; kind: ParameterKind; field: string }[]; warnings: PublishWarning[] } {
  const uses: { name: string; kind: ParameterKind; field: string }[] = [];
  const warnings: PublishWarning[] = [];
  const connected = connectedFields(flow, node);
  const where = { flowId: flow.id, flowName: flow.name, nodeId: node.id };
  const label = `flow "${flow.name}", node ${node.id} (${node.displayName})`;
  const covered = new Set<string>();
  // A model component connected to the model field brings its own key.
  if (Object.entries(node.template).some(([name, f]) => f._input_type === "ModelInput" && connected.has(name))) covered.add(API_KEY_FIELD);
  const keyField = node.template[API_KEY_FIELD];
  const keyOpen = keyField !== undefined && boundVariable(keyField) === null && isEmpty(keyField) && !connected.has(API_KEY_FIELD);
  for (const sel of modelSelections(node, connected)) {
    if (sel.provider === null) {
      const name = modelChoiceName(node.id);
      uses.push({ name, kind: "model", field: sel.field });
      covered.add(API_KEY_FIELD);
      warnings.push({ ...where, field: sel.field, code: "no_model_selected", message: `${label}, field ${sel.field}: no model selected; choose one at deploy time as parameter ${name} (<provider>/<model>)` });
      continue;
    }
    const provider = findProvider(sel.provider);
    if (!provider) {
      warnings.push({ ...where, field: sel.field, code: "unknown_provider", message: `${label}, field ${sel.field}: provider "${sel.provider}" is not in Langflow's provider list; its key cannot be declared` });
      continue;
    }
    covered.add(API_KEY_FIELD);
    if (provider.keyVariable && keyOpen) uses.push({ name: provider.keyVariable, kind: "credential", field: API_KEY_FIELD });
    for (const s of provider.settings) {
      const f = s.field ? node.template[s.field] : undefined;
      if (s.field && f && boundVariable(f) === null && isEmpty(f) && !connected.has(s.field)) {
        uses.push({ name: s.variable, kind: "plain", field: s.field });
        covered.add(s.field);
      }
    }
  }
  for (const [fieldName, field] of Object.entries(node.template)) {
    if (!isSecretField(field) || covered.has(fieldName) || connected.has(fieldName)) continue;
    if (boundVariable(field) === null && isEmpty(field) && field.show !== false) {
      warnings.push({ ...where, field: fieldName, code: "secret_unbound", message: `${label}, field ${fieldName}: secret field left empty and not bound to a global variable` });
    }
  }
  return { uses, warnings };
}

/** Publish warnings for the flows, in flow and node order. */
export function publishWarnings(flows: readonly Flow[]): PublishWarning[] {
  return flows.flatMap((flow) => flow.nodes.filter((n) => !n.isNote).flatMap((node) => nodeNeeds(flow, node).warnings));
}

/**
 * Every global variable the flows reference, deduplicated by name, in order of first use, plus
 * each model node's provider key (named as Langflow names it) when its `api_key` is empty and
 * bound to nothing, and a model choice for each model field exported empty. An explicitly
 * bound global variable wins over the provider's key. A literal, non-empty value in a secret
 * field is a hard-coded secret: the whole bundle is refused (422), naming every such field, so
 * nothing of it is stored.
 */
export function extractParameters(flows: readonly Flow[]): Parameter[] {
  const byName = new Map<string, Parameter>();
  const hardCoded: HardCodedSecret[] = [];
  const use = (name: string, kind: ParameterKind, at: ParameterUse) => {
    let p = byName.get(name);
    if (!p) {
      p = { name, kind: kind === "credential" ? "plain" : kind, usedBy: [] };
      byName.set(name, p);
    }
    if (kind === "credential") p.kind = "credential";
    p.usedBy.push(at);
  };
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
        use(variable, secret ? "credential" : "plain", { flowId: flow.id, nodeId: node.id, field: fieldName });
      }
      for (const u of nodeNeeds(flow, node).uses) use(u.name, u.kind, { flowId: flow.id, nodeId: node.id, field: u.field });
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
    return p.kind !== "credential" && value !== undefined ? { ...rest, default: value } : rest;
  });
  return { parameters, unknown };
}
