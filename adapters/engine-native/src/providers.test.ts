import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { compatibilityReport, FlowRunError, parseFlow, UnprocessableFlowError, type EngineRunRequest, type StreamEvent } from "@flowplane/core";
import { fakeDigest, fromAnthropic, fromOllama, loadFixture, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { NativeEngine } from "./engine.js";
import { providerError } from "./providers/common.js";

// The native engine on each model provider it speaks, through each provider's official SDK,
// against testkit's fake server in that provider's wire format (loopback only). The flows are
// the fixtures with their model picked the Langflow 1.13 way: the unified `model` field
// (ModelInput), `api_key` left empty so the provider's key variable is read.
let fake: FakeOpenAI;
before(async () => {
  fake = await startFakeOpenAI({ digest: true });
});
after(async () => {
  await fake.close();
});

type Raw = { id: string; data: { nodes: { id: string; data: { type: string; node: { template: Record<string, Record<string, unknown>> } } }[] } };

/** A fixture whose model node (`type`) selects `provider`/`model` in a ModelInput field, its api_key empty. */
function withModel(fixture: string, type: string, provider: string, model: string, id = `${fixture}-${provider}`): Raw {
  const raw = structuredClone(loadFixture(fixture)) as Raw;
  raw.id = id;
  for (const n of raw.data.nodes.filter((x) => x.data.type === type)) {
    const t = n.data.node.template;
    delete t.provider;
    delete t.agent_llm;
    delete t.model_name;
    t.model = { _input_type: "ModelInput", type: "model", value: [{ name: model, provider }] };
    t.api_key = { _input_type: "SecretStrInput", password: true, load_from_db: false, value: "" };
  }
  return raw;
}

const chat = (input: string, extra: Partial<EngineRunRequest> = {}): EngineRunRequest => ({ inputValue: input, inputType: "chat", outputType: "chat", ...extra });

async function load(raw: Raw, env: Record<string, string>) {
  const engine = new NativeEngine();
  const flow = parseFlow(raw);
  await engine.load([flow], env);
  return { engine, id: flow.id };
}

const since = (n: number, path: string) => fake.requests.slice(n).filter((r) => r.path === path);

test("OpenAI-compatible server: the model field's model, at the deployment's base URL, with OPENAI_API_KEY", async () => {
  const { engine, id } = await load(withModel("basic-prompting", "LanguageModelComponent", "OpenAI", "local-llama"), { OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: "sk-compat" });
  const n = fake.requests.length;
  const result = await engine.run(id, chat("hello"));
  const [call] = since(n, "/v1/chat/completions");
  assert.ok(call, "the OpenAI chat completions route was called");
  assert.equal(call.body.model, "local-llama");
  assert.equal(call.headers.authorization, "Bearer sk-compat");
  assert.equal(result.chat?.text, `Echo: hello [digest:${fakeDigest(call.body)}]`);
});

test("Anthropic: the Messages API with the system prompt apart, the key sent, the answer's text back", async () => {
  const { engine, id } = await load(withModel("basic-prompting", "LanguageModelComponent", "Anthropic", "claude-3-5-haiku-latest"), { ANTHROPIC_BASE_URL: fake.origin, ANTHROPIC_API_KEY: "sk-ant-test" });
  const n = fake.requests.length;
  const result = await engine.run(id, chat("hello"));
  const [call] = since(n, "/v1/messages");
  assert.ok(call, "the Anthropic messages route was called");
  // The SDK sends the key as x-api-key (earlier releases) or as a bearer token (1.x).
  assert.equal(call.headers["x-api-key"] ?? String(call.headers.authorization).replace(/^Bearer /, ""), "sk-ant-test");
  assert.ok(call.headers["anthropic-version"], "the SDK's API version header");
  assert.equal(call.body.model, "claude-3-5-haiku-latest");
  assert.equal(call.body.max_tokens, 4096, "Langflow's default max_tokens (the API requires one)");
  assert.match(String(call.body.system), /GenAI expert/);
  assert.deepEqual(call.body.messages, [{ role: "user", content: "hello" }]);
  assert.equal(result.chat?.text, `Echo: hello [digest:${fakeDigest(fromAnthropic(call.body))}]`);
  const source = (result.outputs[0]?.results.message as { properties: { source: { source: string } } }).properties.source;
  assert.equal(source.source, "claude-3-5-haiku-latest");
});

test("Anthropic: streamed into the Chat Output token by token", async () => {
  const { engine, id } = await load(withModel("basic-prompting", "LanguageModelComponent", "Anthropic", "claude-x"), { ANTHROPIC_BASE_URL: fake.origin, ANTHROPIC_API_KEY: "sk-ant" });
  const events: StreamEvent[] = [];
  const result = await engine.stream(id, chat("one two three", { tweaks: { "Language Model": { stream: true } } }), (e) => events.push(e));
  assert.equal(fake.requests.at(-1)?.body.stream, true);
  const tokens = events.filter((e) => e.event === "token").map((e) => String(e.data.chunk));
  assert.ok(tokens.length >= 4, tokens.join("|"));
  assert.match(tokens.join(""), /^Echo: one two three \[digest:[0-9a-f]{12}\]$/);
  assert.equal(result.chat?.text, tokens.join(""));
});

test("Groq: its chat API (OpenAI's shape) through groq-sdk at GROQ_BASE_URL, with GROQ_API_KEY", async () => {
  const { engine, id } = await load(withModel("basic-prompting", "LanguageModelComponent", "Groq", "llama-3.1-8b-instant"), { GROQ_BASE_URL: fake.origin, GROQ_API_KEY: "gsk-test" });
  const n = fake.requests.length;
  const result = await engine.run(id, chat("hello"));
  const [call] = since(n, "/openai/v1/chat/completions");
  assert.ok(call, "Groq's chat completions route was called");
  assert.equal(call.headers.authorization, "Bearer gsk-test");
  assert.match(String(call.headers["user-agent"]), /Groq/, "sent by Groq's SDK");
  assert.equal(call.body.model, "llama-3.1-8b-instant");
  assert.equal(result.chat?.text, `Echo: hello [digest:${fakeDigest(call.body)}]`);
});

test("Ollama: the chat API at OLLAMA_BASE_URL, no key needed", async () => {
  const { engine, id } = await load(withModel("basic-prompting", "LanguageModelComponent", "Ollama", "llama3.2"), { OLLAMA_BASE_URL: fake.origin });
  const n = fake.requests.length;
  const result = await engine.run(id, chat("hello"));
  const [call] = since(n, "/api/chat");
  assert.ok(call, "the Ollama chat route was called");
  assert.equal(call.body.model, "llama3.2");
  assert.equal(call.body.stream, false);
  assert.equal(call.headers.authorization, undefined, "no key is sent");
  const messages = call.body.messages as { role: string; content: string }[];
  assert.deepEqual(messages.map((m) => m.role), ["system", "user"]);
  assert.equal(messages[1]?.content, "hello");
  assert.equal((call.body.options as { temperature?: number }).temperature, 0.1);
  assert.equal(result.chat?.text, `Echo: hello [digest:${fakeDigest(fromOllama(call.body))}]`);
});

test("Ollama: streamed token by token", async () => {
  const { engine, id } = await load(withModel("basic-prompting", "LanguageModelComponent", "Ollama", "llama3.2"), { OLLAMA_BASE_URL: fake.origin });
  const events: StreamEvent[] = [];
  const result = await engine.stream(id, chat("one two three", { tweaks: { "Language Model": { stream: true } } }), (e) => events.push(e));
  assert.notEqual(fake.requests.at(-1)?.body.stream, false);
  const tokens = events.filter((e) => e.event === "token").map((e) => String(e.data.chunk));
  assert.ok(tokens.length >= 4, tokens.join("|"));
  assert.equal(result.chat?.text, tokens.join(""));
  assert.match(result.chat?.text ?? "", /^Echo: one two three \[digest:/);
});

for (const [provider, env, path] of [
  ["Anthropic", () => ({ ANTHROPIC_BASE_URL: fake.origin, ANTHROPIC_API_KEY: "sk-ant" }), "/v1/messages"],
  ["Ollama", () => ({ OLLAMA_BASE_URL: fake.origin }), "/api/chat"],
] as const) {
  test(`${provider}: an Agent calls the tool the model asks for and answers with its result`, async () => {
    const { engine, id } = await load(withModel("simple-agent", "Agent", provider, "m-1"), env());
    const n = fake.requests.length;
    const result = await engine.run(id, chat('compute [[tool:evaluate_expression {"expression":"2+3*4"}]]'));
    assert.match(result.chat?.text ?? "", /^Tool evaluate_expression says: \{"result":"14"\}/);
    const calls = since(n, path);
    assert.equal(calls.length, 2, "one call asking for the tool, one with its result");
    const offered = provider === "Anthropic"
      ? (calls[0]!.body.tools as { name: string; input_schema: unknown }[]).map((t) => t.name)
      : (calls[0]!.body.tools as { function: { name: string } }[]).map((t) => t.function.name);
    assert.ok(offered.includes("evaluate_expression") && offered.includes("get_current_date"), offered.join(","));
  });
}

test("a provider's failure is a run error naming the provider and status, never the key", async () => {
  const { engine, id } = await load(withModel("basic-prompting", "LanguageModelComponent", "Anthropic", "claude-x"), { ANTHROPIC_BASE_URL: fake.origin, ANTHROPIC_API_KEY: "sk-ant-secret" });
  await assert.rejects(engine.run(id, chat("please [[fail]]")), (e: unknown) => {
    assert.ok(e instanceof FlowRunError);
    assert.match(e.message, /the model API \(Anthropic\) answered 500/);
    assert.ok(!e.message.includes("sk-ant-secret"));
    return true;
  });
});

test("a provider that needs a key and has none: the run says which", async () => {
  const { engine, id } = await load(withModel("basic-prompting", "LanguageModelComponent", "Anthropic", "claude-x", "no-key"), { ANTHROPIC_BASE_URL: fake.origin });
  const n = fake.requests.length;
  await assert.rejects(engine.run(id, chat("hello")), /an API key for Anthropic is required/);
  assert.equal(fake.requests.length, n, "nothing was sent");
});

test("the report and the load agree: Anthropic, Ollama and Groq run natively, a provider native has no client for is refused", async () => {
  for (const provider of ["Anthropic", "Ollama", "OpenAI", "Groq"]) {
    assert.equal(compatibilityReport([parseFlow(withModel("basic-prompting", "LanguageModelComponent", provider, "m"))]).native.supported, true, provider);
  }
  const google = parseFlow(withModel("basic-prompting", "LanguageModelComponent", "Google Generative AI", "gemini-2.5-flash"));
  const report = compatibilityReport([google]);
  assert.equal(report.native.supported, false);
  assert.deepEqual(report.native.missing.map((m) => m.reason), ["unsupported_provider"]);
  await assert.rejects(new NativeEngine().load([google], {}), (e: unknown) => {
    assert.ok(e instanceof UnprocessableFlowError, String(e));
    assert.deepEqual((e.details as { reason: string }[]).map((d) => d.reason), ["unsupported_provider"], "refused at load for the report's reason");
    return true;
  });
});

test("a provider error says its status once, and never the key or a password in the base URL", () => {
  const model = { provider: "Ollama" as const, baseUrl: "http://ana:pw-in-url@127.0.0.1:9/", apiKey: "sk-hidden", model: "m", timeoutMs: 1000 };
  const unreachable = providerError(model, new Error("connect ECONNREFUSED with sk-hidden"));
  assert.match(unreachable.message, /the model API \(Ollama\) at http:\/\/127\.0\.0\.1:9\/ could not be reached/);
  assert.doesNotMatch(unreachable.message, /pw-in-url|ana|sk-hidden/);
  // A base URL from a parameter may carry a credential in its query (Azure-style `?api-key=`).
  const queried = providerError({ ...model, baseUrl: "https://ana:pw@models.example/v1?api-key=sk-in-query#frag" }, new Error("fetch failed"));
  assert.equal(queried.message, "the model API (Ollama) at https://models.example/v1 could not be reached: fetch failed");
  const answered = providerError(model, Object.assign(new Error("500 boom"), { status: 500 }));
  assert.equal(answered.message, "the model API (Ollama) answered 500: boom");
});
