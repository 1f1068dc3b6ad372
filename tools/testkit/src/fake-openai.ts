import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";

/**
 * A deterministic OpenAI-compatible server for tests. Answers are derived from the request so
 * tests can predict them exactly:
 *
 * - chat completion: `Echo: <last user message>`.
 * - tool call: when tools are offered and the last user message contains
 *   `[[tool:<name> <json arguments>]]` naming an offered tool, the answer is a `tool_calls`
 *   message for that tool (once: after a `tool` message arrives the model answers
 *   `Tool <name> says: <tool output>`), so an agent's tool loop is exercised end to end.
 * - `stream: true`: the same answer as SSE `data: {chunk}` lines, one word per chunk, then
 *   `data: [DONE]`.
 * - failure: a last user message containing `[[fail]]` gets a 500 error, for run-error paths;
 *   one containing `[[unauthorized]]` gets a 401 whose message quotes the Authorization header
 *   it came with, as some providers do, for the paths that must keep the key out of errors.
 * - embeddings: 8 numbers per input derived from its sha256.
 * - `digest: true` (an option): every text answer ends with ` [digest:<12 hex>]`, a digest of the
 *   model name, the system prompt, the whole history and the offered tools' names (`fakeDigest`),
 *   so a test can tell that the model, prompt, memory and tools it configured reached the model.
 *
 * Every request is recorded (path, headers, body) so tests can check what was sent, e.g. the
 * Authorization header carrying the API key given as a flow parameter.
 *
 * The same server speaks two more providers' wire formats, with the same answers (a request is
 * first read as the OpenAI chat request it stands for, so the echo, tool calls, failures and
 * digests are the same whatever the provider):
 * - Anthropic's Messages API, `POST /v1/messages` (base URL `origin`; the key as the SDK sends it):
 *   `system`, `tool_use` / `tool_result` blocks, `tools[].input_schema`; SSE events when streaming;
 * - Ollama's chat API, `POST /api/chat` (host `origin`): tool calls without ids, arguments as
 *   objects, tool results by `tool_name`; NDJSON lines when `stream` is not false (Ollama's default).
 */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

export interface FakeOpenAI {
  /** `http://127.0.0.1:<port>/v1`, what an OpenAI client takes as its base URL. */
  baseUrl: string;
  /** `http://127.0.0.1:<port>`: Anthropic's base URL and Ollama's host on this server. */
  origin: string;
  requests: RecordedRequest[];
  /** Delay before answering, for tests of slow upstreams (in-flight draining). */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

interface ChatMessage {
  role: string;
  content?: unknown;
  tool_call_id?: string;
  name?: string;
}

const TOOL_DIRECTIVE = /\[\[tool:([A-Za-z0-9_-]+)\s*(\{.*?\})?\]\]/s;

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((p) => (typeof p === "object" && p !== null && typeof (p as { text?: unknown }).text === "string" ? (p as { text: string }).text : "")).join("");
  }
  return "";
}

interface Answer {
  content: string | null;
  toolCall?: { id: string; name: string; arguments: string };
}

/** The deterministic answer to a chat request (exported so tests can compute expectations). */
export function fakeAnswer(body: Record<string, unknown>): Answer {
  const messages = Array.isArray(body.messages) ? (body.messages as ChatMessage[]) : [];
  const last = messages[messages.length - 1];
  if (last?.role === "tool") {
    const call = [...messages].reverse().find((m) => m.role === "assistant" && Array.isArray((m as { tool_calls?: unknown }).tool_calls));
    const calls = (call as { tool_calls?: { id: string; function: { name: string } }[] } | undefined)?.tool_calls ?? [];
    const name = calls.find((c) => c.id === last.tool_call_id)?.function.name ?? "unknown";
    return { content: `Tool ${name} says: ${textOf(last.content)}` };
  }
  const lastUser = [...messages].reverse().find((m) => m.role === "user");
  const text = textOf(lastUser?.content);
  const tools = Array.isArray(body.tools) ? (body.tools as { function?: { name?: string } }[]) : [];
  const directive = TOOL_DIRECTIVE.exec(text);
  if (directive && tools.some((t) => t.function?.name === directive[1])) {
    return { content: null, toolCall: { id: "call_1", name: directive[1] ?? "", arguments: directive[2] ?? "{}" } };
  }
  return { content: `Echo: ${text}` };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function completion(model: string, answer: Answer): Record<string, unknown> {
  const message: Record<string, unknown> = { role: "assistant", content: answer.content };
  if (answer.toolCall) {
    message.tool_calls = [{ id: answer.toolCall.id, type: "function", function: { name: answer.toolCall.name, arguments: answer.toolCall.arguments } }];
  }
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 1700000000,
    model,
    choices: [{ index: 0, message, finish_reason: answer.toolCall ? "tool_calls" : "stop" }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

function streamCompletion(res: ServerResponse, model: string, answer: Answer): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const chunk = (delta: Record<string, unknown>, finish: string | null): string =>
    `data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1700000000, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  res.write(chunk({ role: "assistant", content: "" }, null));
  if (answer.toolCall) {
    const { id, name, arguments: args } = answer.toolCall;
    res.write(chunk({ tool_calls: [{ index: 0, id, type: "function", function: { name, arguments: args } }] }, null));
    res.write(chunk({}, "tool_calls"));
  } else {
    // One word per chunk, the space kept in front as OpenAI's tokens do.
    for (const piece of (answer.content ?? "").match(/\s*\S+/g) ?? []) res.write(chunk({ content: piece }, null));
    res.write(chunk({}, "stop"));
  }
  res.end("data: [DONE]\n\n");
}

function embedding(input: string): number[] {
  const digest = createHash("sha256").update(input).digest();
  return [...digest.subarray(0, 8)].map((b) => b / 255);
}

/**
 * What the digest answer covers: the model, the system prompt(s), every other message (role and
 * text, in order) and the names of the tools offered. Exported so tests compute expectations.
 */
export function fakeDigest(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as ChatMessage[]) : [];
  const tools = Array.isArray(body.tools) ? (body.tools as { function?: { name?: string } }[]).map((t) => t.function?.name ?? "") : [];
  const parts = {
    model: typeof body.model === "string" ? body.model : "",
    system: messages.filter((m) => m.role === "system").map((m) => textOf(m.content)),
    history: messages.filter((m) => m.role !== "system").map((m) => `${m.role}:${textOf(m.content)}`),
    tools: tools.sort(),
  };
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 12);
}


/**
 * An Anthropic Messages request as the OpenAI chat request it stands for: `system` first, each
 * text block as message text, `tool_use` blocks as tool calls, `tool_result` blocks as tool messages.
 */
export function fromAnthropic(body: Record<string, unknown>): Record<string, unknown> {
  const messages: Record<string, unknown>[] = [];
  const system = typeof body.system === "string" ? body.system : textOf(body.system);
  if (system) messages.push({ role: "system", content: system });
  for (const m of Array.isArray(body.messages) ? (body.messages as { role: string; content: unknown }[]) : []) {
    if (typeof m.content === "string") {
      messages.push({ role: m.role, content: m.content });
      continue;
    }
    const blocks = Array.isArray(m.content) ? (m.content as Record<string, unknown>[]) : [];
    const text = blocks.filter((b) => b.type === "text").map((b) => String(b.text ?? "")).join("");
    const uses = blocks.filter((b) => b.type === "tool_use");
    if (m.role === "assistant") {
      messages.push({ role: "assistant", content: text || null, ...(uses.length ? { tool_calls: uses.map((b) => ({ id: b.id, type: "function", function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } })) } : {}) });
      continue;
    }
    for (const b of blocks.filter((x) => x.type === "tool_result")) messages.push({ role: "tool", tool_call_id: b.tool_use_id, content: typeof b.content === "string" ? b.content : textOf(b.content) });
    if (text) messages.push({ role: "user", content: text });
  }
  const tools = Array.isArray(body.tools) ? (body.tools as { name?: string }[]).map((t) => ({ type: "function", function: { name: t.name } })) : undefined;
  return { model: body.model, messages, ...(tools ? { tools } : {}), stream: body.stream === true };
}

/** An Ollama chat request as the OpenAI chat request it stands for (tool calls get ids `call_<n>` in order). */
export function fromOllama(body: Record<string, unknown>): Record<string, unknown> {
  let n = 0;
  const pending: { id: string; name: string }[] = [];
  const messages = (Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : []).map((m) => {
    if (m.role === "tool") {
      const i = pending.findIndex((c) => c.name === m.tool_name);
      const call = i >= 0 ? pending.splice(i, 1)[0] : undefined;
      return { role: "tool", tool_call_id: call?.id ?? "", content: textOf(m.content) };
    }
    const calls = Array.isArray(m.tool_calls) ? (m.tool_calls as { function: { name: string; arguments: unknown } }[]) : [];
    if (calls.length === 0) return { role: m.role, content: textOf(m.content) };
    const withIds = calls.map((c) => ({ id: `call_${++n}`, type: "function", function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments ?? {}) } }));
    pending.push(...withIds.map((c) => ({ id: c.id, name: c.function.name })));
    return { role: m.role, content: textOf(m.content) || null, tool_calls: withIds };
  });
  return { model: body.model, messages, ...(Array.isArray(body.tools) ? { tools: body.tools } : {}), stream: body.stream !== false };
}

function anthropicMessage(model: string, answer: Answer): Record<string, unknown> {
  const content = answer.toolCall
    ? [{ type: "tool_use", id: answer.toolCall.id, name: answer.toolCall.name, input: JSON.parse(answer.toolCall.arguments) as unknown }]
    : [{ type: "text", text: answer.content ?? "" }];
  return { id: "msg_fake", type: "message", role: "assistant", model, content, stop_reason: answer.toolCall ? "tool_use" : "end_turn", stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } };
}

function streamAnthropic(res: ServerResponse, model: string, answer: Answer): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const event = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  event("message_start", { message: { ...anthropicMessage(model, { content: "" }), content: [], stop_reason: null } });
  if (answer.toolCall) {
    event("content_block_start", { index: 0, content_block: { type: "tool_use", id: answer.toolCall.id, name: answer.toolCall.name, input: {} } });
    event("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: answer.toolCall.arguments } });
  } else {
    event("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
    for (const piece of (answer.content ?? "").match(/\s*\S+/g) ?? []) event("content_block_delta", { index: 0, delta: { type: "text_delta", text: piece } });
  }
  event("content_block_stop", { index: 0 });
  event("message_delta", { delta: { stop_reason: answer.toolCall ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: 1 } });
  event("message_stop", {});
  res.end();
}

function ollamaMessage(answer: Answer): Record<string, unknown> {
  return {
    role: "assistant",
    content: answer.content ?? "",
    ...(answer.toolCall ? { tool_calls: [{ function: { name: answer.toolCall.name, arguments: JSON.parse(answer.toolCall.arguments) as unknown } }] } : {}),
  };
}

function ollamaChat(res: ServerResponse, model: string, answer: Answer, stream: boolean): void {
  const done = { done: true, done_reason: "stop", total_duration: 1, prompt_eval_count: 1, eval_count: 1 };
  if (!stream) {
    send(res, 200, { model, created_at: "2026-01-01T00:00:00Z", message: ollamaMessage(answer), ...done });
    return;
  }
  res.writeHead(200, { "content-type": "application/x-ndjson" });
  const line = (o: Record<string, unknown>) => res.write(`${JSON.stringify({ model, created_at: "2026-01-01T00:00:00Z", ...o })}\n`);
  if (answer.toolCall) line({ message: ollamaMessage(answer), done: false });
  else for (const piece of (answer.content ?? "").match(/\s*\S+/g) ?? []) line({ message: { role: "assistant", content: piece }, done: false });
  line({ message: { role: "assistant", content: "" }, ...done });
  res.end();
}

export interface FakeOpenAIOptions {
  /** Append ` [digest:<fakeDigest>]` to every text answer. */
  digest?: boolean;
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  let delay = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: Record<string, unknown> = {};
      try {
        const raw = Buffer.concat(chunks).toString("utf8");
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        send(res, 400, { error: { message: "invalid JSON", type: "invalid_request_error" } });
        return;
      }
      const path = (req.url ?? "").split("?")[0] ?? "";
      requests.push({ method: req.method ?? "", path, headers: req.headers, body });
      setTimeout(() => {
        const answerTo = (chat: Record<string, unknown>): Answer => {
          const answer = fakeAnswer(chat);
          if (options.digest && answer.content !== null) answer.content = `${answer.content} [digest:${fakeDigest(chat)}]`;
          return answer;
        };
        const model = typeof body.model === "string" ? body.model : "fake";
        if (req.method === "POST" && path === "/v1/messages") {
          const chat = fromAnthropic(body);
          const answer = answerTo(chat);
          if (answer.content?.includes("[[fail]]")) send(res, 500, { type: "error", error: { type: "api_error", message: "fake failure" } });
          else if (chat.stream === true) streamAnthropic(res, model, answer);
          else send(res, 200, anthropicMessage(model, answer));
        } else if (req.method === "POST" && path === "/api/chat") {
          const chat = fromOllama(body);
          const answer = answerTo(chat);
          if (answer.content?.includes("[[fail]]")) send(res, 500, { error: "fake failure" });
          else ollamaChat(res, model, answer, chat.stream === true);
        } else if (req.method === "POST" && path.endsWith("/chat/completions")) {
          const answer = answerTo(body);
          if (answer.content?.includes("[[fail]]")) send(res, 500, { error: { message: "fake failure", type: "server_error" } });
          else if (answer.content?.includes("[[unauthorized]]")) send(res, 401, { error: { message: `Incorrect API key provided: ${String(req.headers.authorization ?? "")}`, type: "invalid_request_error", code: "invalid_api_key" } });
          else if (body.stream === true) streamCompletion(res, model, answer);
          else send(res, 200, completion(model, answer));
        } else if (req.method === "POST" && path.endsWith("/embeddings")) {
          const inputs = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? "")];
          send(res, 200, { object: "list", model: body.model, data: inputs.map((t, index) => ({ object: "embedding", index, embedding: embedding(t) })) });
        } else {
          send(res, 404, { error: { message: `no route ${req.method} ${path}`, type: "invalid_request_error" } });
        }
      }, delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    origin: `http://127.0.0.1:${port}`,
    requests,
    setDelay(ms) {
      delay = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
