import Anthropic from "@anthropic-ai/sdk";
import { boundFetch, providerError, type ChatMessage, type ChatModel, type ChatOptions, type ProviderChat, type ToolCall } from "./common.js";

/**
 * Anthropic's Messages API through the official `@anthropic-ai/sdk`. The components' messages
 * become Anthropic's shape: system prompts go to `system`; an assistant's tool calls become
 * `tool_use` blocks and tool results `tool_result` blocks of the next user turn (consecutive
 * turns of one role are merged, as the API requires them to alternate).
 */

/** Langflow's Anthropic component's default `max_tokens` (the API requires one). */
const DEFAULT_MAX_TOKENS = 4096;

type Block = Anthropic.ContentBlockParam;

function toAnthropic(messages: ChatMessage[]): { system: string; turns: Anthropic.MessageParam[] } {
  const system = messages.filter((m) => m.role === "system").map((m) => m.content ?? "").join("\n");
  const turns: { role: "user" | "assistant"; content: Block[] }[] = [];
  for (const m of messages) {
    if (m.role === "system") continue;
    let role: "user" | "assistant";
    let blocks: Block[];
    if (m.role === "tool") {
      role = "user";
      blocks = [{ type: "tool_result", tool_use_id: m.tool_call_id ?? "", content: m.content ?? "" }];
    } else if (m.role === "assistant") {
      role = "assistant";
      blocks = [
        ...(m.content ? [{ type: "text" as const, text: m.content }] : []),
        ...(m.tool_calls ?? []).map((c): Block => ({ type: "tool_use", id: c.id, name: c.function.name, input: JSON.parse(c.function.arguments || "{}") as Record<string, unknown> })),
      ];
    } else {
      role = "user";
      blocks = [{ type: "text", text: m.content ?? "" }];
    }
    const last = turns.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  }
  // A turn of one text block is sent as a plain string, as LangChain sends it.
  const simple = turns.map((t) => (t.content.length === 1 && t.content[0]?.type === "text" ? { role: t.role, content: t.content[0].text } : t));
  return { system, turns: simple };
}

function params(model: ChatModel, messages: ChatMessage[], options: ChatOptions): Anthropic.MessageCreateParamsNonStreaming {
  const { system, turns } = toAnthropic(messages);
  return {
    model: model.model,
    max_tokens: model.maxTokens || DEFAULT_MAX_TOKENS,
    messages: turns,
    ...(system ? { system } : {}),
    ...(model.temperature !== undefined ? { temperature: model.temperature } : {}),
    ...(options.tools && options.tools.length > 0
      ? { tools: options.tools.map((t) => ({ name: t.function.name, description: t.function.description, input_schema: t.function.parameters as Anthropic.Tool.InputSchema })) }
      : {}),
  };
}

const client = (fetchFn: typeof fetch, model: ChatModel, signal: AbortSignal) =>
  new Anthropic({ apiKey: model.apiKey, baseURL: model.baseUrl, fetch: boundFetch(fetchFn, model, signal), maxRetries: 0, timeout: model.timeoutMs });

export const anthropicChat: ProviderChat = {
  async complete(fetchFn, model, messages, options) {
    let r: Anthropic.Message;
    try {
      r = await client(fetchFn, model, options.signal).messages.create(params(model, messages, options), { signal: options.signal });
    } catch (err) {
      throw providerError(model, err);
    }
    const text = r.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
    const calls: ToolCall[] = r.content.flatMap((b) => (b.type === "tool_use" ? [{ id: b.id, type: "function" as const, function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } }] : []));
    const input = r.usage?.input_tokens ?? null;
    const output = r.usage?.output_tokens ?? null;
    const usage = { input_tokens: input, output_tokens: output, total_tokens: input !== null && output !== null ? input + output : null };
    return { message: { role: "assistant", content: text || (calls.length ? null : ""), ...(calls.length ? { tool_calls: calls } : {}) }, usage };
  },
  async *stream(fetchFn, model, messages, options) {
    try {
      const events = await client(fetchFn, model, options.signal).messages.create({ ...params(model, messages, options), stream: true }, { signal: options.signal });
      for await (const event of events) {
        if (event.type === "content_block_delta" && event.delta.type === "text_delta" && event.delta.text) yield event.delta.text;
      }
    } catch (err) {
      throw providerError(model, err);
    }
  },
};
