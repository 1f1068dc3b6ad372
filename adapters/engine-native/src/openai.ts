import { FlowRunError, type EnvMap } from "@flowplane/core";

/**
 * A minimal OpenAI-compatible chat completions client (plain and SSE streaming), over the
 * injected fetch. Only what Langflow's OpenAI components send is sent; errors name the status
 * and the provider's message, never the key.
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
  baseUrl: string;
  apiKey: string;
  model: string;
  temperature?: number;
  maxTokens?: number;
  seed?: number;
  jsonMode?: boolean;
  extra?: Record<string, unknown>;
  timeoutMs: number;
}

export interface ChatOptions {
  tools?: { type: "function"; function: { name: string; description: string; parameters: Record<string, unknown> } }[];
  signal: AbortSignal;
}

/**
 * The base URL: the component's own field, else OPENAI_API_BASE / OPENAI_BASE_URL from the
 * deployment's variables (what LangChain and the OpenAI SDK read under lfx, so both engines
 * can be pointed at the same compatible server), else OpenAI.
 */
export function resolveBaseUrl(field: string, env: EnvMap): string {
  const url = field.trim() || env.OPENAI_API_BASE || env.OPENAI_BASE_URL || "https://api.openai.com/v1";
  return url.replace(/\/+$/, "");
}

function body(model: ChatModel, messages: ChatMessage[], options: ChatOptions, stream: boolean): string {
  return JSON.stringify({
    ...model.extra,
    model: model.model,
    messages,
    ...(model.temperature !== undefined ? { temperature: model.temperature } : {}),
    ...(model.maxTokens ? { max_tokens: model.maxTokens } : {}),
    ...(model.seed !== undefined ? { seed: model.seed } : {}),
    ...(model.jsonMode ? { response_format: { type: "json_object" } } : {}),
    ...(options.tools && options.tools.length > 0 ? { tools: options.tools } : {}),
    ...(stream ? { stream: true } : {}),
  });
}

async function post(fetchFn: typeof fetch, model: ChatModel, payload: string, signal: AbortSignal): Promise<Response> {
  if (!model.apiKey) throw new FlowRunError("an OpenAI API key is required: bind the component's API key field to a global variable set at deploy time");
  const timeout = AbortSignal.timeout(model.timeoutMs);
  let res: Response;
  try {
    res = await fetchFn(`${model.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${model.apiKey}` },
      body: payload,
      signal: AbortSignal.any([signal, timeout]),
    });
  } catch (err) {
    throw new FlowRunError(`the model API at ${model.baseUrl} could not be reached: ${(err as Error).message}`);
  }
  if (!res.ok) {
    const text = await res.text().catch(() => "");
    let detail = text.slice(0, 300);
    try {
      const parsed = JSON.parse(text) as { error?: { message?: string } };
      detail = parsed.error?.message ?? detail;
    } catch {
      // not JSON: keep the start of the body
    }
    throw new FlowRunError(`the model API answered ${res.status}: ${detail}`);
  }
  return res;
}

/** Token counts as Langflow 1.13 reports them (`Usage`), from the API's `usage`. */
export interface TokenUsage {
  input_tokens: number | null;
  output_tokens: number | null;
  total_tokens: number | null;
}

export async function chatCompletion(fetchFn: typeof fetch, model: ChatModel, messages: ChatMessage[], options: ChatOptions): Promise<ChatMessage> {
  return (await chatCompletionWithUsage(fetchFn, model, messages, options)).message;
}

/** The answer and, when the API reports it, its token usage. */
export async function chatCompletionWithUsage(fetchFn: typeof fetch, model: ChatModel, messages: ChatMessage[], options: ChatOptions): Promise<{ message: ChatMessage; usage: TokenUsage | null }> {
  const res = await post(fetchFn, model, body(model, messages, options, false), options.signal);
  const json = (await res.json()) as { choices?: { message?: ChatMessage }[]; usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } };
  const message = json.choices?.[0]?.message;
  if (!message) throw new FlowRunError("the model API answered without a message");
  const u = json.usage;
  const usage = u ? { input_tokens: u.prompt_tokens ?? null, output_tokens: u.completion_tokens ?? null, total_tokens: u.total_tokens ?? null } : null;
  return { message: { role: "assistant", content: message.content ?? null, ...(message.tool_calls?.length ? { tool_calls: message.tool_calls } : {}) }, usage };
}

/** The answer's text chunks as they arrive (SSE `data:` lines up to `[DONE]`). */
export async function* chatCompletionStream(fetchFn: typeof fetch, model: ChatModel, messages: ChatMessage[], options: ChatOptions): AsyncGenerator<string> {
  const res = await post(fetchFn, model, body(model, messages, options, true), options.signal);
  if (!res.body) throw new FlowRunError("the model API answered without a body");
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(part, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, cut).trim();
      buffer = buffer.slice(cut + 1);
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data) as { choices?: { delta?: { content?: string | null } }[] };
      const content = chunk.choices?.[0]?.delta?.content;
      if (content) yield content;
    }
  }
}
