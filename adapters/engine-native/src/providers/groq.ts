import Groq from "groq-sdk";
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionCreateParamsStreaming } from "groq-sdk/resources/chat/completions";
import { FlowRunError } from "@flowplane/core";
import { boundFetch, providerError, type ChatModel, type ProviderChat } from "./common.js";
import { openaiParams } from "./openai.js";

/** Groq, through its official `groq-sdk`. Its chat API has OpenAI's shape, so is the body. */
const client = (fetchFn: typeof fetch, model: ChatModel, signal: AbortSignal) =>
  new Groq({ apiKey: model.apiKey, baseURL: model.baseUrl, fetch: boundFetch(fetchFn, model, signal), maxRetries: 0, timeout: model.timeoutMs });

export const groqChat: ProviderChat = {
  async complete(fetchFn, model, messages, options) {
    let r: Groq.Chat.ChatCompletion;
    try {
      r = await client(fetchFn, model, options.signal).chat.completions.create(openaiParams(model, messages, options) as unknown as ChatCompletionCreateParamsNonStreaming, { signal: options.signal });
    } catch (err) {
      throw providerError(model, err);
    }
    const message = r.choices?.[0]?.message;
    if (!message) throw new FlowRunError("the model API answered without a message");
    const calls = (message.tool_calls ?? []).map((c) => ({ id: c.id, type: "function" as const, function: { name: c.function.name, arguments: c.function.arguments } }));
    const u = r.usage;
    const usage = u ? { input_tokens: u.prompt_tokens ?? null, output_tokens: u.completion_tokens ?? null, total_tokens: u.total_tokens ?? null } : null;
    return { message: { role: "assistant", content: message.content ?? null, ...(calls.length ? { tool_calls: calls } : {}) }, usage };
  },
  async *stream(fetchFn, model, messages, options) {
    try {
      const body = { ...openaiParams(model, messages, options), stream: true } as unknown as ChatCompletionCreateParamsStreaming;
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
