import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FlowRunError, UnprocessableFlowError, ValidationError, parseFlow, type ComponentSpan, type EngineRunRequest, type StreamEvent } from "@flowplane/core";
import { loadFixture, startFakeOpenAI, waitFor, type FakeOpenAI } from "@flowplane/testkit";
import { LfxEngine } from "./engine.js";
import { lfxSkipReason } from "./locate.js";

// The engine against the real `lfx serve` (one process for the whole file: Python start-up is
// seconds), LLM calls going to the fake OpenAI server through OPENAI_API_BASE.
const skip = lfxSkipReason(process.env);
const SIMPLE_API = "1e3eea9b-d466-4fba-b0d9-08901143df3e";
const MEMORY = "abdc8216-e400-48c4-8d11-0f21441b50ea";
const BASIC = "c04a179a-a582-402e-9628-4af37767208c";
const KEY = "sk-deployment-param-key";
const flows = ["simple-api-test", "memory-chatbot", "basic-prompting"].map((f) => parseFlow(loadFixture(f)));
const req = (over: Partial<EngineRunRequest> = {}): EngineRunRequest => ({ inputValue: "hello", inputType: "chat", outputType: "chat", ...over });

let fake: FakeOpenAI;
let engine: LfxEngine;
let workDir: string;
const lines: string[] = [];
const exits: string[] = [];

before(async () => {
  if (skip) return;
  fake = await startFakeOpenAI();
  workDir = mkdtempSync(join(tmpdir(), "fp-lfx-test-"));
  engine = new LfxEngine({ bin: process.env.FLOWPLANE_LFX_BIN ?? null, workDir, onLine: (l) => lines.push(l), onExit: (r) => exits.push(r) });
  await engine.load(flows, { PATH: process.env.PATH, OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: KEY });
});
after(async () => {
  if (skip) return;
  await engine.close();
  await fake.close();
});

test("the flows are in a private folder: 0700, files 0600, named by flow id", { skip }, () => {
  const [dir] = readdirSync(workDir);
  assert.ok(dir);
  assert.equal(statSync(join(workDir, dir)).mode & 0o777, 0o700);
  const files = readdirSync(join(workDir, dir, "flows")).sort();
  assert.deepEqual(files, [BASIC, MEMORY, SIMPLE_API].sort().map((id) => `${id}.json`));
  for (const f of files) assert.equal(statSync(join(workDir, dir, "flows", f)).mode & 0o777, 0o600);
});

test("a run answers Langflow's result data and the Chat Output's text", { skip }, async () => {
  const r = await engine.run(SIMPLE_API, req({ inputValue: "ping", sessionId: "s-1" }));
  assert.deepEqual(r.chat, { text: "ping", componentDisplayName: "Chat Output", componentId: "ChatOutput-J6aor" });
  assert.equal(r.sessionId, "s-1");
  assert.deepEqual(r.outputs.map((o) => o.component_id), ["ChatOutput-J6aor"]);
  for (const k of ["results", "artifacts", "outputs", "logs", "messages", "component_display_name"]) assert.ok(k in (r.outputs[0] ?? {}), k);
  const debug = await engine.run(SIMPLE_API, req({ outputType: "debug" }));
  assert.deepEqual(debug.outputs.map((o) => o.component_id), ["ChatInput-3OQi9", "TextInput-eFiZp", "ChatOutput-J6aor"]);
  assert.equal(debug.sessionId, SIMPLE_API, "the session defaults to the flow id");
});

test("LLM calls go to the configured base URL with the key from the parameters; per-request globals win", { skip }, async () => {
  const r = await engine.run(MEMORY, req());
  assert.equal(r.chat?.text, "Echo: hello");
  assert.equal(fake.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`);
  await engine.run(MEMORY, req({ globalVars: { OPENAI_API_KEY: "sk-per-request-key" } }));
  assert.equal(fake.requests.at(-1)?.headers.authorization, "Bearer sk-per-request-key");
});

test("tweaks reach the component (via a registered variant) and stream the model's tokens", { skip }, async () => {
  const events: StreamEvent[] = [];
  const tweaks = { "Language Model": { api_key: "sk-tweaked-key", stream: true } };
  const r = await engine.stream(BASIC, req({ inputValue: "stream me please", tweaks }), (e) => events.push(e));
  assert.equal(r.chat?.text, "Echo: stream me please");
  assert.equal(fake.requests.at(-1)?.headers.authorization, "Bearer sk-tweaked-key");
  assert.equal(events.filter((e) => e.event === "token").map((e) => e.data.chunk).join(""), "Echo: stream me please");
  assert.ok(events.some((e) => e.event === "add_message"));
  // The same tweaks again reuse the variant; the untweaked flow still has no key.
  assert.equal((await engine.run(BASIC, req({ inputValue: "again", tweaks }))).chat?.text, "Echo: again");
  await assert.rejects(engine.run(BASIC, req()), (err: unknown) => err instanceof FlowRunError && /API key is required/.test(err.message));
});

test("bad tweaks, unknown flows and failing runs are reported as the contract's errors", { skip }, async () => {
  await assert.rejects(engine.run(BASIC, req({ tweaks: { "Language Model": { code: "import os" } } })), ValidationError);
  await assert.rejects(engine.run("nope", req()), /not loaded/);
  await assert.rejects(engine.run(MEMORY, req({ inputValue: "[[fail]]" })), (err: unknown) => {
    assert.ok(err instanceof FlowRunError);
    assert.match(err.message, /Language Model.*fake failure/);
    assert.equal(err.componentId, "LanguageModelComponent-n8KRg");
    return true;
  });
});

test("a caller's key given as a tweak, quoted back by the provider, is in neither the run's error nor its trace", { skip }, async () => {
  // lfx redacts the deployment's values only; a key that arrives with the run is the caller's,
  // and the trace (every viewer of the project, the trace collector) must not show it.
  const callerKey = "sk-caller-own-key-1234";
  const spans: ComponentSpan[] = [];
  const tweaks = { "Language Model": { api_key: callerKey } };
  await assert.rejects(engine.run(BASIC, req({ inputValue: "[[unauthorized]]", tweaks, trace: { span: (s) => spans.push(s) } })), (err: unknown) => {
    assert.ok(err instanceof FlowRunError);
    assert.match(err.message, /401.*Incorrect API key provided: Bearer \*\*\*/);
    assert.ok(!err.message.includes(callerKey), err.message);
    return true;
  });
  assert.equal(fake.requests.at(-1)?.headers.authorization, `Bearer ${callerKey}`, "the key was sent, and refused");
  const failed = spans.find((s) => s.status === "error");
  assert.match(failed?.error ?? "", /Incorrect API key provided/);
  assert.ok(!JSON.stringify(spans).includes(callerKey), JSON.stringify(spans));
});

test("a non-chat input_type feeds the Text Input", { skip }, async () => {
  const r = await engine.run(SIMPLE_API, req({ inputType: "text", inputValue: "via text", outputType: "debug" }));
  const text = r.outputs.find((o) => o.component_id === "TextInput-eFiZp");
  assert.equal((text?.results as { text?: { text?: string } }).text?.text, "via text");
});

test("parameter values never appear in what lfx printed", { skip }, () => {
  assert.ok(lines.length > 0, "lfx printed its start-up banner");
  assert.ok(lines.every((l) => !l.includes(KEY)));
});

// Last: it kills the shared process.
test("when lfx dies, the engine reports it once and runs fail with the reason", { skip }, async () => {
  const pid = engine.pid as number;
  process.kill(pid, "SIGKILL");
  await waitFor(() => exits.length > 0, { timeoutMs: 10_000, intervalMs: 20, message: "the engine reporting the exit" });
  assert.equal(exits.length, 1);
  assert.match(exits[0] ?? "", /lfx serve was killed by SIGKILL/);
  await assert.rejects(engine.run(SIMPLE_API, req()), /the lfx engine has stopped/);
  await engine.close();
  assert.deepEqual(readdirSync(workDir), [], "close removes the private folder");
});

test("a flow lfx cannot load fails the load, naming it, and leaves nothing running", { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "fp-lfx-bad-"));
  const bad = new LfxEngine({ bin: process.env.FLOWPLANE_LFX_BIN ?? null, workDir: dir });
  const noLlm = parseFlow(loadFixture("memory-chatbot-no-llm"));
  await assert.rejects(bad.load([flows[0], noLlm].filter((f) => f !== undefined), { PATH: process.env.PATH }), (err: unknown) => {
    assert.ok(err instanceof UnprocessableFlowError);
    assert.match(err.message, /lfx cannot load a flow: "MemoryChatbotNoLLM" \(26c412c9-9e4a-406d-aadb-ef9a81badb3f\): .*LCBuiltinChatMemory/);
    return true;
  });
  assert.equal(bad.pid, undefined);
  assert.deepEqual(readdirSync(dir), []);
  await assert.rejects(new LfxEngine({ bin: join(dir, "no-such-lfx") }).load([], {}), /does not exist: run scripts\/setup-lfx.sh/);
  assert.ok(!existsSync(join(dir, "no-such-lfx")));
});
