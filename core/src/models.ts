import { parseFlow, type Flow, type FlowNode, type TemplateField } from "./flow.js";

/**
 * Langflow's model providers, as data. Langflow 1.13 components pick a model with the unified
 * `model` field (`_input_type: "ModelInput"`, a list like `[{name, provider, ...}]`) and leave
 * `api_key` empty: the key then comes from the provider's global variable (the user's model
 * provider settings), falling back to the environment variable of the same name.
 *
 * Mirrors `MODEL_PROVIDER_METADATA` in lfx 1.13.0, `lfx/base/models/model_metadata.py`
 * (`variables[].variable_key`, `is_secret`, `component_metadata.mapping_field`), the table lfx's
 * `get_api_key_for_provider` (`lfx/base/models/unified_models/credentials.py`) reads. Keep the
 * two in step when the pinned lfx changes.
 */
export interface ModelProvider {
  /** The provider's name as Langflow writes it in a model selection. */
  name: string;
  /** Other spellings lfx accepts for it. */
  aliases?: readonly string[];
  /** The global variable holding the key (`is_secret`), or null when the provider needs none. */
  keyVariable: string | null;
  /** Non-secret settings: a global variable and, when the component has one, the field it fills. */
  settings: readonly { variable: string; field?: string }[];
}

export const MODEL_PROVIDERS: readonly ModelProvider[] = [
  { name: "OpenAI", keyVariable: "OPENAI_API_KEY", settings: [{ variable: "OPENAI_BASE_URL" }] },
  { name: "Anthropic", keyVariable: "ANTHROPIC_API_KEY", settings: [] },
  { name: "Google Generative AI", keyVariable: "GOOGLE_API_KEY", settings: [] },
  { name: "Ollama", keyVariable: null, settings: [{ variable: "OLLAMA_BASE_URL", field: "ollama_base_url" }] },
  { name: "Groq", keyVariable: "GROQ_API_KEY", settings: [] },
  { name: "Azure OpenAI", keyVariable: "AZURE_OPENAI_API_KEY", settings: [] },
  { name: "Azure AI Foundry", keyVariable: "AZURE_AI_FOUNDRY_API_KEY", settings: [{ variable: "AZURE_AI_FOUNDRY_ENDPOINT" }] },
  {
    name: "IBM WatsonX",
    aliases: ["IBM watsonx.ai"],
    keyVariable: "WATSONX_APIKEY",
    settings: [{ variable: "WATSONX_PROJECT_ID", field: "project_id" }, { variable: "WATSONX_URL", field: "base_url_ibm_watsonx" }],
  },
  { name: "OpenRouter", keyVariable: "OPENROUTER_API_KEY", settings: [] },
];

/** The provider by name or alias, or null for a provider Langflow does not list. */
export function findProvider(name: string): ModelProvider | null {
  return MODEL_PROVIDERS.find((p) => p.name === name || p.aliases?.includes(name)) ?? null;
}

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

/**
 * The model selections of a node: one per ModelInput field, else one for a provider dropdown.
 * A model field fed by an edge (a connected model component) is not a selection: the caller
 * passes the names of the node's fields that edges fill.
 */
export function modelSelections(node: FlowNode, connected: ReadonlySet<string> = new Set()): ModelSelection[] {
  const out: ModelSelection[] = [];
  for (const [field, f] of Object.entries(node.template)) {
    if (!isModelInput(f) || connected.has(field)) continue;
    const { name, provider } = selectionOf(f.value);
    out.push({ source: "model-input", field, provider, model: name });
  }
  if (out.length > 0) return out;
  for (const field of ["provider", "agent_llm"]) {
    const f = node.template[field];
    if (!f || connected.has(field)) continue;
    const provider = text(f.value);
    // The Agent's "Custom" choice means a model component is connected instead.
    if (provider === "Custom" || provider === "Connect other models") continue;
    out.push({ source: "provider-field", field, provider, model: text(node.template.model_name?.value) });
    break;
  }
  return out;
}

/**
 * The value of a deploy-time model choice, `<provider>/<model name>` (the provider names are
 * Langflow's, e.g. `OpenAI/gpt-4o-mini`, `Google Generative AI/gemini-2.5-flash`). Returns the
 * parts, or an error phrased for the deployer.
 */
export function parseModelChoice(value: string): { provider: ModelProvider; model: string } | { error: string } {
  const slash = value.indexOf("/");
  const providerName = slash > 0 ? value.slice(0, slash).trim() : "";
  const model = slash > 0 ? value.slice(slash + 1).trim() : "";
  if (!providerName || !model) return { error: `"${value}" is not a model choice: write <provider>/<model>, e.g. OpenAI/gpt-4o-mini` };
  const provider = findProvider(providerName);
  if (!provider) return { error: `"${providerName}" is not a Langflow model provider (one of: ${MODEL_PROVIDERS.map((p) => p.name).join(", ")})` };
  return { provider, model };
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
  const raw = structuredClone(flow.raw);
  const graph = (typeof raw.data === "object" && raw.data !== null ? raw.data : raw) as { nodes?: { id?: unknown; data?: { node?: { template?: Record<string, Record<string, unknown>> } } }[] };
  let changed = false;
  for (const node of flow.nodes) {
    if (node.isNote) continue;
    const connected = new Set(flow.edges.filter((e) => e.target === node.id).map((e) => e.targetHandle.fieldName));
    for (const sel of modelSelections(node, connected)) {
      if (sel.provider !== null) continue;
      const value = env[modelChoiceName(node.id)];
      const choice = value === undefined ? null : parseModelChoice(value);
      if (!choice || "error" in choice) continue;
      const template = graph.nodes?.find((n) => n.id === node.id)?.data?.node?.template;
      if (!template) continue;
      if (sel.source === "model-input") {
        template[sel.field] = { ...template[sel.field], value: [{ name: choice.model, provider: choice.provider.name }] };
      } else {
        template[sel.field] = { ...template[sel.field], value: choice.provider.name };
        if (template.model_name) template.model_name = { ...template.model_name, value: choice.model };
      }
      changed = true;
    }
  }
  return changed ? { ...parseFlow(raw, flow.name), id: flow.id } : flow;
}

/**
 * The provider a node's model runs on, for engines: its first model selection's provider, or
 * null when none is selected (or a connected model component supplies it).
 */
export function nodeProvider(node: FlowNode): string | null {
  return modelSelections(node)[0]?.provider ?? null;
}

/**
 * Why flowplane's native engine cannot run this node's model, or null. Native speaks the OpenAI
 * chat API only (OpenAI and OpenAI-compatible servers). The compatibility report and the native
 * engine's load-time check both call this, so publish and load give one verdict.
 */
export function nativeModelProblem(node: FlowNode): string | null {
  const provider = nodeProvider(node);
  return provider === null || provider === "OpenAI" ? null : `${node.displayName} (${node.id}) uses model provider "${provider}"; the native engine supports OpenAI (and OpenAI-compatible servers) only`;
}
