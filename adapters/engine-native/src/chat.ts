import { FlowRunError, type EnvMap, type NativeModelProvider } from "@flowplane/core";
import { anthropicChat } from "./providers/anthropic.js";
import { groqChat } from "./providers/groq.js";
import type { ChatMessage, ChatModel, ChatOptions, ProviderChat, TokenUsage } from "./providers/common.js";
import { ollamaChat } from "./providers/ollama.js";
import { openaiChat } from "./providers/openai.js";

/**
 * Chat with a model, whatever its provider. Components speak one message shape (OpenAI's chat
 * messages, with tool calls); each provider's client (`providers/*`, each over the provider's
 * official TypeScript SDK) translates to its own wire format and back. Errors name the provider,
 * the status and the provider's message, never the key.
 */
export type { ChatMessage, ChatModel, ChatOptions, TokenUsage } from "./providers/common.js";

const PROVIDERS: Record<NativeModelProvider, ProviderChat> = { OpenAI: openaiChat, Anthropic: anthropicChat, Ollama: ollamaChat, Groq: groqChat };

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
  return PROVIDERS[model.provider].complete(fetchFn, model, messages, options);
}

/** The answer's text chunks as they arrive. */
export async function* chatCompletionStream(fetchFn: typeof fetch, model: ChatModel, messages: ChatMessage[], options: ChatOptions): AsyncGenerator<string> {
  requireKey(model);
  yield* PROVIDERS[model.provider].stream(fetchFn, model, messages, options);
}
