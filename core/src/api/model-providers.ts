import type { Parameter } from "./bundles.js";

/**
 * Langflow's model providers, as data, and the deploy-time model choice (`<provider>/<model>`).
 * Part of the API contract because every client asks for the same thing: a model choice names a
 * provider, and that provider's key is then a credential of the deployment. The server's
 * validation, the CLI's wizard and the web Deploy dialog all read it from here (one table, one
 * parser), so a client never asks for a key the server does not require, or misses one.
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

/** A provider key a deployment needs because a model choice picks that provider. */
export interface ModelChoiceKey {
  /** The credential's name: the provider's key variable (`ANTHROPIC_API_KEY`). */
  name: string;
  /** The provider, as Langflow names it. */
  provider: string;
  /** The model choices (parameter names, `MODEL_<node>`) that pick it. */
  choices: string[];
}

/**
 * The provider keys a deployment needs beyond the version's declared credentials: one per
 * provider that a model choice picks (`MODEL_<node>` = `Anthropic/...` needs ANTHROPIC_API_KEY),
 * unless the version already declares that name. `values` are the deployment's plain values;
 * a choice without a value falls back to its published default; an unreadable choice needs no
 * key (deploy refuses the choice itself).
 */
export function modelChoiceKeys(parameters: readonly Pick<Parameter, "name" | "kind" | "default">[], values: Readonly<Record<string, string | undefined>>): ModelChoiceKey[] {
  const declared = new Set(parameters.map((p) => p.name));
  const keys = new Map<string, ModelChoiceKey>();
  for (const p of parameters) {
    if (p.kind !== "model") continue;
    const choice = parseModelChoice(values[p.name] ?? p.default ?? "");
    const name = "error" in choice ? null : choice.provider.keyVariable;
    if (name === null || "error" in choice || declared.has(name)) continue;
    const key = keys.get(name) ?? { name, provider: choice.provider.name, choices: [] };
    key.choices.push(p.name);
    keys.set(name, key);
  }
  return [...keys.values()];
}
