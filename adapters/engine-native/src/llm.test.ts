import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { parseFlow, type EngineRunRequest, type StreamEvent } from "@flowplane/core";
import { loadFixture, startFakeOpenAI, startHttpServer, type FakeOpenAI } from "@flowplane/testkit";
import { NativeEngine } from "./engine.js";

// LLM flows against the deterministic fake OpenAI server (tools/testkit): every answer is
// "Echo: <last user message>" unless a tool call is asked for.
let fake: FakeOpenAI;
let page: { url: string; close(): Promise<void> };
let pageHits = 0;
const PAGE = "<html lang='en'><head><title>Docs</title><style>p{}</style></head><body><p>Langflow &amp; flows</p></body></html>";

before(async () => {
  fake = await startFakeOpenAI();
  page = await startHttpServer((_req, res) => {
    pageHits++;
    res.writeHead(200, { "content-type": "text/html" });
    res.end(PAGE);
  });
});
after(async () => {
  await fake.close();
  await page.close();
});

const chat = (input: string, extra: Partial<EngineRunRequest> = {}): EngineRunRequest => ({ inputValue: input, inputType: "chat", outputType: "chat", ...extra });

// The page is on loopback, so the operator's allowed hosts name it (FLOWPLANE_MODEL_HOSTS).
async function load(name: string, env: Record<string, string> = {}, engine = new NativeEngine({ privateHosts: ["127.0.0.1"] })) {
  const flow = parseFlow(loadFixture(name));
  await engine.load([flow], { OPENAI_API_BASE: fake.baseUrl, ...env });
  return { engine, id: flow.id };
}

const lastRequest = () => fake.requests.at(-1)!;
const messagesOf = (i = -1) => fake.requests.at(i)!.body.messages as { role: string; content: string }[];

test("basic-prompting sends the prompt as system message and the input as user message", async () => {
  const { engine, id } = await load("basic-prompting", { OPENAI_API_KEY: "sk-basic" });
  const result = await engine.run(id, chat("hello"));
  assert.equal(result.chat?.text, "Echo: hello");
  const messages = messagesOf();
  assert.equal(messages[0]?.role, "system");
  assert.match(messages[0]?.content ?? "", /GenAI expert/);
  assert.deepEqual(messages[1], { role: "user", content: "hello" });
  assert.equal(lastRequest().body.model, "gpt-4o-mini");
  const source = (result.outputs[0]?.results.message as { properties: { source: { id: string; source: string } } }).properties.source;
  assert.deepEqual([source.id, source.source], ["LanguageModelComponent-UcEoU", "gpt-4o-mini"]);
});

test("the API key comes from the global variable the field is bound to", async () => {
  const { engine, id } = await load("memory-chatbot", { OPENAI_API_KEY: "sk-from-parameter" });
  await engine.run(id, chat("hi", { sessionId: "key" }));
  assert.equal(lastRequest().headers.authorization, "Bearer sk-from-parameter");
  await engine.run(id, chat("hi", { sessionId: "key2", globalVars: { OPENAI_API_KEY: "sk-per-request" } }));
  assert.equal(lastRequest().headers.authorization, "Bearer sk-per-request");
});

test("memory-chatbot gives the model the session's history", async () => {
  const { engine, id } = await load("memory-chatbot", { OPENAI_API_KEY: "sk" });
  await engine.run(id, chat("My name is Ada", { sessionId: "m" }));
  const second = await engine.run(id, chat("What is my name?", { sessionId: "m" }));
  assert.equal(second.chat?.text, "Echo: What is my name?");
  const system = messagesOf()[0]?.content ?? "";
  assert.match(system, /User: My name is Ada\nAI: Echo: My name is Ada/);
});

test("blog-writer fetches the page, parses it and prompts the OpenAI model", async () => {
  const { engine, id } = await load("blog-writer", { OPENAI_API_KEY: "sk" });
  const result = await engine.run(id, chat("", { tweaks: { "URLComponent-KZ1r5": { urls: [page.url] } } }));
  const user = messagesOf().at(-1)?.content ?? "";
  assert.match(user, /^Reference 1:\n\nText: DocsLangflow & flows\n\n---\n\nUse the references above/);
  assert.equal(result.chat?.text, `Echo: ${user}`);
  assert.equal(lastRequest().body.model, "gpt-4.1-mini");
});

test("basic-prompt-chaining runs three models in sequence", async () => {
  const { engine, id } = await load("basic-prompt-chaining");
  const before = fake.requests.length;
  const result = await engine.run(id, chat("an idea", { globalVars: {}, tweaks: Object.fromEntries(["LanguageModelComponent-AsaOP", "LanguageModelComponent-uV35f", "LanguageModelComponent-OVCTy"].map((n) => [n, { api_key: "sk-tweak" }])) }));
  assert.equal(fake.requests.length - before, 3);
  assert.equal(result.chat?.text, "Echo: Echo: Echo: an idea");
  assert.equal(lastRequest().headers.authorization, "Bearer sk-tweak");
});

test("with stream on, tokens flow into the Chat Output under its message id", async () => {
  const { engine, id } = await load("basic-prompting", { OPENAI_API_KEY: "sk" });
  const events: StreamEvent[] = [];
  const result = await engine.stream(id, chat("one two three", { tweaks: { "Language Model": { stream: true } } }), (e) => events.push(e));
  assert.equal(lastRequest().body.stream, true);
  const tokens = events.filter((e) => e.event === "token");
  assert.ok(tokens.length >= 4);
  assert.equal(tokens.map((t) => t.data.chunk).join(""), "Echo: one two three");
  const aiMessage = events.find((e) => e.event === "add_message" && e.data.sender === "Machine");
  assert.equal(aiMessage?.data.text, "", "announced empty, as Langflow does");
  assert.ok(tokens.every((t) => t.data.id === aiMessage?.data.id));
  assert.equal(result.chat?.text, "Echo: one two three");
  // lfx 1.13's sequence: the model's message announced partial, its tokens, the model's message
  // complete, then Chat Output's (the same message, taken over), all under one id.
  const props = (e: StreamEvent) => (e.data.properties as { state: string }).state;
  const seen = events.map((e) => (e.event === "token" ? "token" : e.event === "add_message" ? `add_message ${String(e.data.sender)} ${props(e)} ${JSON.stringify(e.data.text)}` : e.event));
  assert.deepEqual(seen.filter((s, i) => !(s === "token" && seen[i - 1] === "token")), [
    'add_message User complete "one two three"',
    'add_message Machine partial ""',
    "token",
    'add_message Machine complete "Echo: one two three"',
    'add_message Machine complete "Echo: one two three"',
  ]);
  assert.ok(events.filter((e) => e.event === "add_message" && e.data.sender === "Machine").every((e) => e.data.id === aiMessage?.data.id));
});

test("the URL component may not reach loopback unless the operator allows it: the page is never asked, the refusal named", async () => {
  const { engine, id } = await load("blog-writer", { OPENAI_API_KEY: "sk" }, new NativeEngine());
  const before = pageHits;
  await assert.rejects(
    engine.run(id, chat("", { tweaks: { "URLComponent-KZ1r5": { urls: [`${page.url}/docs?api_key=sk-in-the-query`], continue_on_failure: false } } })),
    (err: Error) => {
      assert.match(err.message, /fetching http:\/\/127\.0\.0\.1:\d+\/docs failed: the address 127\.0\.0\.1 is on a loopback, private or reserved network, which flows may not reach unless the operator allows it/);
      // The error is the caller's to read: a credential in the URL's query stays out of it.
      assert.doesNotMatch(err.message, /sk-in-the-query/);
      return true;
    },
  );
  assert.equal(pageHits, before);
});

test("a URL the URL component refuses before fetching (not http(s), or not a URL) is not echoed: its credential stays out of the error", async () => {
  const { engine, id } = await load("blog-writer", { OPENAI_API_KEY: "sk" }, new NativeEngine());
  for (const [url, why] of [
    ["ftp://files.example/a?api_key=sk-in-the-query", /invalid URL \(http and https only\): a ftp URL/],
    ["https://user:sk-in-the-query@[not-a-host/?api_key=sk-in-the-query", /invalid URL: it does not parse as a URL/],
  ] as const) {
    await assert.rejects(engine.run(id, chat("", { tweaks: { "URLComponent-KZ1r5": { urls: [url], continue_on_failure: false } } })), (err: Error) => {
      assert.match(err.message, why, url);
      assert.doesNotMatch(err.message, /sk-in-the-query/, url);
      return true;
    });
  }
});

test("simple-agent calls the calculator and URL tools the model asks for", async () => {
  const { engine, id } = await load("simple-agent", { OPENAI_API_KEY: "sk" });
  const calc = await engine.run(id, chat('compute [[tool:evaluate_expression {"expression":"2+3*4"}]]'));
  assert.equal(calc.chat?.text, 'Tool evaluate_expression says: {"result":"14"}');
  const offered = (fake.requests.at(-2)!.body.tools as { function: { name: string } }[]).map((t) => t.function.name);
  assert.deepEqual(offered.sort(), ["as_dataframe", "evaluate_expression", "fetch_content", "fetch_content_text", "get_current_date"].sort());
  const url = await engine.run(id, chat(`read [[tool:fetch_content_text {"urls":["${page.url}"]}]]`));
  assert.equal(url.chat?.text, "Tool fetch_content_text says: DocsLangflow & flows");
  const steps = (url.outputs[0]?.results.message as { content_blocks: { contents: { name: string }[] }[] }).content_blocks;
  assert.equal(steps[0]?.contents[0]?.name, "fetch_content_text");
});

test("a tool call's arguments set only the tool's declared arguments: any other field the model names stays the component's (a prompt injection cannot retarget it)", async () => {
  const { engine, id } = await load("simple-agent", { OPENAI_API_KEY: "sk" });
  // fetch_content_text declares urls; the URL component's format (Text or HTML) is not an argument.
  const url = await engine.run(id, chat(`read [[tool:fetch_content_text {"urls":["${page.url}"],"format":"HTML","constructor":"x"}]]`));
  assert.equal(url.chat?.text, "Tool fetch_content_text says: DocsLangflow & flows", "the page as text, the component's format");
});
