import { Ollama, type Message as OllamaMessage } from "ollama";
import { boundFetch, providerError, type ChatMessage, type ChatModel, type ChatOptions, type ProviderChat, type ToolCall } from "./common.js";

/**
 * Ollama's chat API (`/api/chat`) through the official `ollama` library. Ollama's tool calls
 * carry no id and their arguments as an object: ids are given here (`call_<n>`, per answer) and
 * a tool result names its tool (`tool_name`) instead of a call id.
 */
function toOllama(messages: ChatMessage[]): OllamaMessage[] {
  const names = new Map<string, string>();
  return messages.map((m) => {
    for (const c of m.tool_calls ?? []) names.set(c.id, c.function.name);
    if (m.role === "tool") return { role: "tool", content: m.content ?? "", tool_name: names.get(m.tool_call_id ?? "") ?? "" };
    return {
      role: m.role,
      content: m.content ?? "",
      ...(m.tool_calls?.length ? { tool_calls: m.tool_calls.map((c) => ({ function: { name: c.function.name, arguments: JSON.parse(c.function.arguments || "{}") as Record<string, unknown> } })) } : {}),
    };
  });
}

function request(model: ChatModel, messages: ChatMessage[], options: ChatOptions) {
  const settings = {
    ...(model.temperature !== undefined ? { temperature: model.temperature } : {}),
    ...(model.seed !== undefined ? { seed: model.seed } : {}),
    ...(model.maxTokens ? { num_predict: model.maxTokens } : {}),
  };
  return {
    model: model.model,
    messages: toOllama(messages),
    ...(Object.keys(settings).length ? { options: settings } : {}),
    ...(model.jsonMode ? { format: "json" } : {}),
    ...(options.tools && options.tools.length > 0 ? { tools: options.tools } : {}),
  };
}

const client = (fetchFn: typeof fetch, model: ChatModel, signal: AbortSignal) => new Ollama({ host: model.baseUrl, fetch: boundFetch(fetchFn, model, signal) });

export const ollamaChat: ProviderChat = {
  async complete(fetchFn, model, messages, options) {
    try {
      const r = await client(fetchFn, model, options.signal).chat({ ...request(model, messages, options), stream: false });
      const calls: ToolCall[] = (r.message.tool_calls ?? []).map((c, i) => ({ id: `call_${i + 1}`, type: "function", function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments ?? {}) } }));
      const input = typeof r.prompt_eval_count === "number" ? r.prompt_eval_count : null;
      const output = typeof r.eval_count === "number" ? r.eval_count : null;
      const usage = input !== null || output !== null ? { input_tokens: input, output_tokens: output, total_tokens: (input ?? 0) + (output ?? 0) } : null;
      return { message: { role: "assistant", content: r.message.content || (calls.length ? null : ""), ...(calls.length ? { tool_calls: calls } : {}) }, usage };
    } catch (err) {
      throw providerError(model, err);
    }
  },
  async *stream(fetchFn, model, messages, options) {
    try {
      const parts = await client(fetchFn, model, options.signal).chat({ ...request(model, messages, options), stream: true });
      for await (const part of parts) if (part.message?.content) yield part.message.content;
    } catch (err) {
      throw providerError(model, err);
    }
  },
};
