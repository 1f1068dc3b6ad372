import OpenAI from "openai";
import { FlowRunError } from "@flowplane/core";
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

// Retries are the caller's business (a run is answered or fails once); the timeout is boundFetch's.
const client = (fetchFn: typeof fetch, model: ChatModel, signal: AbortSignal) =>
  new OpenAI({ apiKey: model.apiKey, baseURL: model.baseUrl, fetch: boundFetch(fetchFn, model, signal), maxRetries: 0, timeout: model.timeoutMs });

export const openaiChat: ProviderChat = {
  async complete(fetchFn, model, messages, options) {
    let r: OpenAI.Chat.ChatCompletion;
    try {
      r = await client(fetchFn, model, options.signal).chat.completions.create(openaiParams(model, messages, options) as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, { signal: options.signal });
    } catch (err) {
      throw providerError(model, err);
    }
    const message = r.choices?.[0]?.message;
    if (!message) throw new FlowRunError("the model API answered without a message");
    const calls = (message.tool_calls ?? []).flatMap((c) => (c.type === "function" ? [{ id: c.id, type: "function" as const, function: { name: c.function.name, arguments: c.function.arguments } }] : []));
    const u = r.usage;
    const usage = u ? { input_tokens: u.prompt_tokens ?? null, output_tokens: u.completion_tokens ?? null, total_tokens: u.total_tokens ?? null } : null;
    return { message: { role: "assistant", content: message.content ?? null, ...(calls.length ? { tool_calls: calls } : {}) }, usage };
  },
  async *stream(fetchFn, model, messages, options) {
    try {
      const body = { ...openaiParams(model, messages, options), stream: true } as unknown as OpenAI.Chat.ChatCompletionCreateParamsStreaming;
      const chunks = await client(fetchFn, model, options.signal).chat.completions.create(body, { signal: options.signal });
      for await (const chunk of chunks) {
        const content = chunk.choices?.[0]?.delta?.content;
        if (content) yield content;
      }
    } catch (err) {
      throw providerError(model, err);
    }
  },
};
