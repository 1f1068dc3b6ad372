import { FlowRunError, type NativeModelProvider } from "@flowplane/core/replica";
import { shownUrl } from "../outbound.js";

/**
 * What every provider client shares: one message shape (OpenAI's chat messages, with tool calls)
 * that components speak and each client translates, and the fetch and error handling around
 * the SDKs.
 */
export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string | null;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatModel {
  /** Which provider's API to call (the model field's provider; OpenAI for the older OpenAI components). */
  provider: NativeModelProvider;
  /** The provider's API root: OpenAI(-compatible) `.../v1`, Anthropic's host, Ollama's host. */
  baseUrl: string;
  /** Empty for a provider that needs none (Ollama). */
  apiKey: string;
  model: string;
  temperature?: number;
  maxTokens?: number;
  seed?: number;
  jsonMode?: boolean;
  extra?: Record<string, unknown>;
  timeoutMs: number;
}

export interface ToolSpec {
  type: "function";
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

export interface ChatOptions {
  tools?: ToolSpec[];
  signal: AbortSignal;
}

/** Token counts as Langflow 1.13 reports them (`Usage`). */
export interface TokenUsage {
  input_tokens: number | null;
  output_tokens: number | null;
  total_tokens: number | null;
}

/** One provider's client: a whole answer, or its text as it arrives. */
export interface ProviderChat {
  complete(fetchFn: typeof fetch, model: ChatModel, messages: ChatMessage[], options: ChatOptions): Promise<{ message: ChatMessage; usage: TokenUsage | null }>;
  stream(fetchFn: typeof fetch, model: ChatModel, messages: ChatMessage[], options: ChatOptions): AsyncGenerator<string>;
}

/**
 * A fetch bound to the run's signal and the model's timeout: the SDKs get it as their `fetch`,
 * so a cancelled run or a slow provider ends the call whatever the SDK's own options.
 */
export function boundFetch(fetchFn: typeof fetch, model: ChatModel, signal: AbortSignal): typeof fetch {
  const timeout = AbortSignal.timeout(model.timeoutMs);
  return (input, init) => fetchFn(input, { ...init, signal: AbortSignal.any([signal, timeout, ...(init?.signal ? [init.signal] : [])]) });
}

/**
 * A provider SDK's failure as a run error: the status and the provider's own message when it
 * answered, "could not be reached" when it did not (with the base URL as outbound.ts shownUrl
 * shows it: a base URL from a parameter may carry `?api-key=...`). The key is cut out of any
 * text, should a provider echo it.
 */
export function providerError(model: ChatModel, err: unknown): FlowRunError {
  if (err instanceof FlowRunError) return err;
  // The openai and Anthropic SDKs' APIError has `status`; ollama's ResponseError `status_code`.
  const e = err as { status?: unknown; status_code?: unknown; message?: unknown };
  const hide = (s: string) => (model.apiKey ? s.split(model.apiKey).join("***") : s);
  const raw = e.status ?? e.status_code;
  const status = typeof raw === "number" ? raw : null;
  // The SDKs start their message with the status ("500 fake failure"): said once is enough.
  const message = hide(String(e.message ?? err)).replace(/^\d{3}\s+/, "").slice(0, 300);
  if (status !== null) return new FlowRunError(`the model API (${model.provider}) answered ${status}: ${message}`);
  return new FlowRunError(`the model API (${model.provider}) at ${shownUrl(model.baseUrl)} could not be reached: ${message}`);
}
