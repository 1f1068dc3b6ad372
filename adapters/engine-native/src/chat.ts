import { FlowRunError, type EnvMap, type NativeModelProvider } from "@flowplane/core/replica";
import type { ChatMessage, ChatModel, ChatOptions, ProviderChat, TokenUsage } from "./providers/common.js";

/**
 * Chat with a model, whatever its provider. Components speak one message shape (OpenAI's chat
 * messages, with tool calls); each provider's client (`providers/*`, each over the provider's
 * official TypeScript SDK) translates to its own wire format and back. Errors name the provider,
 * the status and the provider's message, never the key.
 */
export type { ChatMessage, ChatModel, ChatOptions, TokenUsage } from "./providers/common.js";

/**
 * Each provider's module, with its SDK, imported at its first call: the SDKs together cost a
 * replica about 0.9 s of its cold start and 20 MiB, and most flows call one provider or none.
 * (Node caches each module: the import is paid once per process.)
 */
const PROVIDERS: Record<NativeModelProvider, () => Promise<ProviderChat>> = {
  OpenAI: async () => (await import("./providers/openai.js")).openaiChat,
  Anthropic: async () => (await import("./providers/anthropic.js")).anthropicChat,
  Ollama: async () => (await import("./providers/ollama.js")).ollamaChat,
  Groq: async () => (await import("./providers/groq.js")).groqChat,
};

/**
 * The base URL of a model's API: the component's own field, else the deployment's variable that
 * the provider's SDK (and LangChain, under lfx) reads, else the provider's public endpoint.
 * - OpenAI: `openai_api_base`, OPENAI_API_BASE / OPENAI_BASE_URL (any OpenAI-compatible server);
 * - Anthropic: `base_url`, ANTHROPIC_BASE_URL;
 * - Ollama: `ollama_base_url` (Langflow's field), OLLAMA_BASE_URL (Langflow's setting), OLLAMA_HOST;
 * - Groq: `base_url`, GROQ_BASE_URL (what groq-sdk reads).
 */
export function resolveBaseUrl(provider: NativeModelProvider, field: string, env: EnvMap): string {
  const given = field.trim();
  const url = provider === "Anthropic" ? given || env.ANTHROPIC_BASE_URL || "https://api.anthropic.com"
    : provider === "Groq" ? given || env.GROQ_BASE_URL || "https://api.groq.com"
    : provider === "Ollama" ? given || env.OLLAMA_BASE_URL || env.OLLAMA_HOST || "http://localhost:11434"
      : given || env.OPENAI_API_BASE || env.OPENAI_BASE_URL || "https://api.openai.com/v1";
  return url.replace(/\/+$/, "");
}

function requireKey(model: ChatModel): void {
  if (!model.apiKey && model.provider !== "Ollama") {
    throw new FlowRunError(`an API key for ${model.provider} is required: give the provider's key as a credential, or bind the component's API key field to a global variable set at deploy time`);
  }
}

export async function chatCompletion(fetchFn: typeof fetch, model: ChatModel, messages: ChatMessage[], options: ChatOptions): Promise<ChatMessage> {
  return (await chatCompletionWithUsage(fetchFn, model, messages, options)).message;
}

/** The answer and, when the API reports it, its token usage. */
export async function chatCompletionWithUsage(fetchFn: typeof fetch, model: ChatModel, messages: ChatMessage[], options: ChatOptions): Promise<{ message: ChatMessage; usage: TokenUsage | null }> {
  requireKey(model);
  return (await PROVIDERS[model.provider]()).complete(fetchFn, model, messages, options);
}

/** The answer's text chunks as they arrive. */
export async function* chatCompletionStream(fetchFn: typeof fetch, model: ChatModel, messages: ChatMessage[], options: ChatOptions): AsyncGenerator<string> {
  requireKey(model);
  yield* (await PROVIDERS[model.provider]()).stream(fetchFn, model, messages, options);
}
