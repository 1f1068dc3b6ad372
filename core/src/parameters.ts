import { UnprocessableFlowError } from "./errors.js";
import { edgesInto, type Flow, type FlowNode, type TemplateField } from "./flow.js";
import { withFieldValues } from "./flow-edit.js";
import { API_KEY_FIELD, findProvider, modelChoiceName, modelSelections } from "./models.js";
import { reservedNameReason } from "./reserved-names.js";

/**
 * - `credential`: used by at least one secret field (SecretStrInput or `password: true`), or a
 *   model provider's key that a model node leaves to the provider settings (`OPENAI_API_KEY`...),
 *   or a required secret field exported empty (requiredSecretName); never has a default; a value
 *   is required at deploy time.
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
 * - `secret_unbound`: a secret field left empty, bound to no global variable and not required
 *   by its component: it runs without it (a required one is a credential, requiredSecretName);
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
/** A parameter a node needs beyond its bound variables; `bind`: a field the runtime binds to it (applyRequiredSecrets). */
interface NodeUse {
  name: string;
  kind: ParameterKind;
  field: string;
  bind?: true;
}

function nodeNeeds(flow: Flow, node: FlowNode): { uses: NodeUse[]; warnings: PublishWarning[] } {
  const uses: NodeUse[] = [];
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
      // Required: the component cannot run without it (Meeting Summary's AssemblyAI key, Hybrid
      // Search RAG's Astra DB token). Langflow's export without API keys empties such a field,
      // so the deployment supplies it, under a name the field's label gives (requiredSecretName).
      if (field.required === true) uses.push({ name: requiredSecretName(node, fieldName, field), kind: "credential", field: fieldName, bind: true });
      else warnings.push({ ...where, field: fieldName, code: "secret_unbound", message: `${label}, field ${fieldName}: secret field left empty and not bound to a global variable` });
    }
  }
  return { uses, warnings };
}

/** Words that name no service: a label of these alone ("API Key", "Token") gets its component's type before it. */
const GENERIC_WORDS = new Set(["API", "KEY", "KEYS", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "ACCESS", "AUTH", "CREDENTIAL", "CREDENTIALS", "APP", "APPLICATION"]);
/** `Astra DB Application Token` -> `ASTRA_DB_APPLICATION_TOKEN`; `AstraDB` -> `ASTRA_DB` with `words`. */
const upperSnake = (s: string, words = false) =>
  (words ? s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2") : s).toUpperCase().replace(/[^A-Z0-9]+/g, "_").replace(/^_+|_+$/g, "");

/**
 * The credential a required secret field exported empty and unbound asks for: its label as an
 * environment variable name (`AssemblyAI API Key` -> `ASSEMBLYAI_API_KEY`, `Astra DB Application
 * Token` -> `ASTRA_DB_APPLICATION_TOKEN`, the name Langflow's own variables use), so the same
 * service's components share one value. A label that names no service (`API Key`) or gives no
 * name (empty, non-Latin, starting with a digit) is prefixed by the component's type
 * (`ASTRA_DB_API_KEY`); a name reserved for the replica's process is prefixed `SECRET_`.
 * Publish declares it, the runtime binds the field to it (applyRequiredSecrets): one function.
 */
export function requiredSecretName(node: FlowNode, fieldName: string, field: TemplateField): string {
  const label = upperSnake(typeof field.display_name === "string" && field.display_name.trim() !== "" ? field.display_name : fieldName);
  const generic = label === "" || /^[0-9]/.test(label) || label.split("_").every((w) => GENERIC_WORDS.has(w));
  const type = upperSnake(node.type, true) || "COMPONENT";
  const own = label || upperSnake(fieldName) || "SECRET";
  // `Secret Key` on a component of type `Secret`: SECRET_KEY, not SECRET_SECRET_KEY.
  const name = !generic || own === type || own.startsWith(`${type}_`) ? own : `${type}_${own}`;
  return reservedNameReason(name) === null ? name : `SECRET_${name}`;
}

/**
 * The flow with each required secret field it exported empty and unbound (see nodeNeeds) bound
 * to its credential, as Langflow binds a global variable (`load_from_db: true`, `value` = the
 * name): both engines then read the deployment's value as they read any bound variable. The
 * runtime calls it before an engine loads the flow, as it applies model choices.
 */
export function applyRequiredSecrets(flow: Flow): Flow {
  const edits = new Map<string, Record<string, Record<string, unknown>>>();
  for (const node of flow.nodes) {
    if (node.isNote) continue;
    for (const u of nodeNeeds(flow, node).uses) {
      if (!u.bind) continue;
      edits.set(node.id, { ...edits.get(node.id), [u.field]: { value: u.name, load_from_db: true } });
    }
  }
  return withFieldValues(flow, edits);
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
