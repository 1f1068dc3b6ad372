import OpenAI from "openai";
import { FlowRunError } from "@flowplane/core/replica";
import { boundFetch, providerError, type ChatMessage, type ChatModel, type ChatOptions, type ProviderChat } from "./common.js";

/**
 * OpenAI and every OpenAI-compatible server (a base URL), through the official `openai` SDK.
 * The request body (`openaiParams`, also Groq's, whose API has OpenAI's shape) is exactly what
 * Langflow's OpenAI components send: the model's extra keyword arguments, then model, messages
 * and the settings the component has.
 */
export function openaiParams(model: ChatModel, messages: ChatMessage[], options: ChatOptions): Record<string, unknown> {
  return {
    ...model.extra,
    model: model.model,
    messages,
    ...(model.temperature !== undefined ? { temperature: model.temperature } : {}),
    ...(model.maxTokens ? { max_tokens: model.maxTokens } : {}),
    ...(model.seed !== undefined ? { seed: model.seed } : {}),
    ...(model.jsonMode ? { response_format: { type: "json_object" } } : {}),
    ...(options.tools && options.tools.length > 0 ? { tools: options.tools } : {}),
  };
}

/**
 * The chat-completions client both official SDKs (`openai`, `groq-sdk`) make: the same request,
 * the same answer shape. Only what the provider below reads is declared.
 */
interface CompletionsClient {
  chat: { completions: { create(body: never, o: { signal: AbortSignal }): Promise<unknown> } };
}
interface Completion {
  choices?: { message?: { content?: string | null; tool_calls?: { id: string; type?: string; function: { name: string; arguments: string } }[] } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null;
}
interface CompletionChunk { choices?: { delta?: { content?: string | null } }[] }

/**
 * A provider over a chat-completions client, as `make` builds it for one call (retries are the
 * caller's business: a run is answered or fails once; the timeout is boundFetch's).
 */
export function chatCompletions(make: (fetchFn: typeof fetch, model: ChatModel, signal: AbortSignal) => CompletionsClient): ProviderChat {
  return {
    async complete(fetchFn, model, messages, options) {
      let r: Completion;
      try {
        r = (await make(fetchFn, model, options.signal).chat.completions.create(openaiParams(model, messages, options) as never, { signal: options.signal })) as Completion;
      } catch (err) {
        throw providerError(model, err);
      }
      const message = r.choices?.[0]?.message;
      if (!message) throw new FlowRunError("the model API answered without a message");
      const calls = (message.tool_calls ?? []).flatMap((c) => (c.type === undefined || c.type === "function" ? [{ id: c.id, type: "function" as const, function: { name: c.function.name, arguments: c.function.arguments } }] : []));
      const u = r.usage;
      const usage = u ? { input_tokens: u.prompt_tokens ?? null, output_tokens: u.completion_tokens ?? null, total_tokens: u.total_tokens ?? null } : null;
      return { message: { role: "assistant", content: message.content ?? null, ...(calls.length ? { tool_calls: calls } : {}) }, usage };
    },
    async *stream(fetchFn, model, messages, options) {
      try {
        const body = { ...openaiParams(model, messages, options), stream: true };
        const chunks = (await make(fetchFn, model, options.signal).chat.completions.create(body as never, { signal: options.signal })) as AsyncIterable<CompletionChunk>;
        for await (const chunk of chunks) {
          const content = chunk.choices?.[0]?.delta?.content;
          if (content) yield content;
        }
      } catch (err) {
        throw providerError(model, err);
      }
    },
  };
}

export const openaiChat = chatCompletions((fetchFn, model, signal) =>
  new OpenAI({ apiKey: model.apiKey, baseURL: model.baseUrl, fetch: boundFetch(fetchFn, model, signal), maxRetries: 0, timeout: model.timeoutMs }));
