import { findProvider, parseModelChoice } from "./api/model-providers.js";
import { edgesInto, type Flow, type FlowNode, type TemplateField } from "./flow.js";
import { withFieldValues } from "./flow-edit.js";

// The provider table and the model-choice parser are part of the API contract (clients ask for
// the chosen provider's key): ./api/model-providers.ts.
export { MODEL_PROVIDERS, findProvider, parseModelChoice, modelChoiceKeys, type ModelProvider, type ModelChoiceKey } from "./api/model-providers.js";

/** The field a node's api key lives in (Langflow's `component_metadata.mapping_field`). */
export const API_KEY_FIELD = "api_key";

/**
 * Where a node says which model it uses:
 * - `model-input`: Langflow 1.13's unified `model` field (ModelInput);
 * - `provider-field`: the older `provider` (or the Agent's `agent_llm`) dropdown beside `model_name`.
 */
export type ModelSource = "model-input" | "provider-field";

export interface ModelSelection {
  source: ModelSource;
  /** The model field's name (`model`, `embedding_model`, `provider`, `agent_llm`). */
  field: string;
  /** The chosen provider and model, or null when the export has none selected. */
  provider: string | null;
  model: string | null;
}

const text = (v: unknown): string | null => (typeof v === "string" && v.trim().length > 0 ? v.trim() : null);

/** The first `{name, provider}` of a ModelInput value (Langflow stores a one-item list). */
function selectionOf(value: unknown): { name: string | null; provider: string | null } {
  const first: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof first !== "object" || first === null) return { name: null, provider: null };
  const o = first as Record<string, unknown>;
  return { name: text(o.name), provider: text(o.provider) };
}

const isModelInput = (f: TemplateField | undefined): boolean => f?._input_type === "ModelInput";

/** A node's field values: the export's by default; an engine passes one run's (tweaks applied). */
export type FieldReader = (field: string) => unknown;

/**
 * The model selections of a node: one per ModelInput field, else one for a provider dropdown.
 * A model field fed by an edge (a connected model component) is not a selection: the caller
 * passes the names of the node's fields that edges fill. `values` reads the fields' values: the
 * export's, unless an engine gives a run's, where a tweak may have chosen another model (which
 * fields are model fields stays the export's: a tweak sets values, never a field's kind).
 */
export function modelSelections(node: FlowNode, connected: ReadonlySet<string> = new Set(), values: FieldReader = (field) => node.template[field]?.value): ModelSelection[] {
  const out: ModelSelection[] = [];
  for (const [field, f] of Object.entries(node.template)) {
    if (!isModelInput(f) || connected.has(field)) continue;
    const { name, provider } = selectionOf(values(field));
    out.push({ source: "model-input", field, provider, model: name });
  }
  if (out.length > 0) return out;
  for (const field of ["provider", "agent_llm"]) {
    if (!node.template[field] || connected.has(field)) continue;
    const provider = text(values(field));
    // The Agent's "Custom" choice means a model component is connected instead.
    if (provider === "Custom" || provider === "Connect other models") continue;
    out.push({ source: "provider-field", field, provider, model: text(values("model_name")) });
    break;
  }
  return out;
}

/**
 * The name of the deploy-time model choice for a node whose model field was exported empty:
 * `MODEL_` and the node id, upper-cased, other characters as `_` (`Agent-qYZ9W` -> `MODEL_AGENT_QYZ9W`).
 * Publish declares it, deploy validates it, the runtime writes it into the flow: one function.
 */
export function modelChoiceName(nodeId: string): string {
  return `MODEL_${nodeId.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/**
 * The flow with the deployment's model choices written into the model fields exported empty
 * (the runtime calls it before an engine loads the flow, so both engines see a selected model,
 * in Langflow's own shape). A choice that is absent or unreadable leaves the field as it was:
 * deploy validation refuses those before a replica starts.
 */
export function applyModelChoices(flow: Flow, env: Readonly<Record<string, string | undefined>>): Flow {
  const edits = new Map<string, Record<string, Record<string, unknown>>>();
  for (const node of flow.nodes) {
    if (node.isNote) continue;
    const connected = new Set(edgesInto(flow, node.id).map((e) => e.targetHandle.fieldName));
    for (const sel of modelSelections(node, connected)) {
      if (sel.provider !== null) continue;
      const value = env[modelChoiceName(node.id)];
      const choice = value === undefined ? null : parseModelChoice(value);
      if (!choice || "error" in choice) continue;
      const fields = edits.get(node.id) ?? {};
      if (sel.source === "model-input") {
        fields[sel.field] = { value: [{ name: choice.model, provider: choice.provider.name }] };
      } else {
        fields[sel.field] = { value: choice.provider.name };
        if (node.template.model_name) fields.model_name = { value: choice.model };
      }
      edits.set(node.id, fields);
    }
  }
  return withFieldValues(flow, edits);
}

/**
 * The provider a node's model runs on, for engines: its first model selection's provider, or
 * null when none is selected (or a connected model component supplies it).
 */
export function nodeProvider(node: FlowNode): string | null {
  return modelSelections(node)[0]?.provider ?? null;
}

/**
 * The model providers flowplane's native engine calls, each through its official SDK:
 * - `OpenAI`: OpenAI and every OpenAI-compatible server (a base URL);
 * - `Anthropic`: Anthropic's Messages API;
 * - `Ollama`: an Ollama server's chat API;
 * - `Groq`: Groq's chat API (OpenAI's shape, through Groq's own SDK).
 */
export type NativeModelProvider = "OpenAI" | "Anthropic" | "Ollama" | "Groq";

export const NATIVE_MODEL_PROVIDERS: readonly NativeModelProvider[] = ["OpenAI", "Anthropic", "Ollama", "Groq"];

/** The native provider a Langflow provider name (or alias) stands for, or null when native has none. */
export function nativeProvider(name: string): NativeModelProvider | null {
  const canonical = findProvider(name)?.name ?? name;
  return NATIVE_MODEL_PROVIDERS.find((p) => p === canonical) ?? null;
}

/**
 * Why flowplane's native engine cannot run this node's model, or null. The compatibility report
 * and the native engine's load-time check both call this, so publish and load give one verdict.
 */
export function nativeModelProblem(node: FlowNode): string | null {
  const provider = nodeProvider(node);
  return provider === null ? null : nativeProviderProblem(node, provider);
}

/**
 * Why the native engine cannot call this provider for this node, or null: the load-time verdict
 * (nativeModelProblem) and, at run time, the verdict on a provider a tweak chose, in one wording.
 */
export function nativeProviderProblem(node: FlowNode, provider: string): string | null {
  if (nativeProvider(provider) !== null) return null;
  return `${node.displayName} (${node.id}) uses model provider "${provider}"; the native engine supports ${NATIVE_MODEL_PROVIDERS.join(", ")} (and OpenAI-compatible servers)`;
}
