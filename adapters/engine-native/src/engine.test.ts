import { test } from "node:test";
import assert from "node:assert/strict";
import { FlowRunError, NATIVE_COMPONENTS, UnprocessableFlowError, ValidationError, parseFlow, type EngineRunRequest, type StreamEvent } from "@flowplane/core";
import { loadFixture } from "@flowplane/testkit";
import { NativeEngine } from "./engine.js";
import { MessageStore } from "./memory-store.js";
import { registry } from "./registry.js";
import { formatFString } from "./template.js";
import { evaluateArithmetic } from "./components/calculator.js";

const chat = (input: string | null, extra: Partial<EngineRunRequest> = {}): EngineRunRequest => ({ inputValue: input, inputType: "chat", outputType: "chat", ...extra });

async function engineFor(...names: string[]) {
  const engine = new NativeEngine();
  const flows = names.map((n) => parseFlow(loadFixture(n)));
  await engine.load(flows, {});
  return { engine, flows };
}

test("the engine registry and core's NATIVE_COMPONENTS list the same components", () => {
  assert.deepEqual(Object.keys(registry).sort(), [...NATIVE_COMPONENTS].sort());
});

test("simple-chat-no-llm echoes the input as the AI, announcing both messages", async () => {
  const { engine, flows } = await engineFor("simple-chat-no-llm");
  const events: StreamEvent[] = [];
  const result = await engine.stream(flows[0]!.id, chat("hello there"), (e) => events.push(e));
  assert.equal(result.chat?.text, "hello there");
  assert.equal(result.chat?.componentDisplayName, "Chat Output");
  assert.equal(result.sessionId, flows[0]!.id, "session defaults to the flow id");
  assert.deepEqual(events.map((e) => [e.event, e.data.sender, e.data.text]), [["add_message", "User", "hello there"], ["add_message", "Machine", "hello there"]]);
  const out = result.outputs[0]!;
  assert.equal(out.component_id, "ChatOutput-9hGOk");
  assert.equal((out.results.message as { text: string }).text, "hello there");
  assert.deepEqual(out.outputs.message, { message: "hello there", type: "text" });
  assert.equal(out.messages[0]?.sender_name, "AI");
});

test("simple-api-test takes the sender name from the Text Input, tweaked by display name", async () => {
  const { engine, flows } = await engineFor("simple-api-test");
  const result = await engine.run(flows[0]!.id, chat("hi", { tweaks: { "Text Input": { input_value: "Bot" } }, sessionId: "s1" }));
  assert.equal(result.chat?.text, "hi");
  assert.equal(result.outputs[0]?.messages[0]?.sender_name, "Bot");
  assert.equal(result.sessionId, "s1");
});

test("output_type any/debug widen what is reported; input_type text leaves the chat input alone", async () => {
  const { engine, flows } = await engineFor("simple-api-test");
  const debug = await engine.run(flows[0]!.id, chat("x", { outputType: "debug" }));
  assert.equal(debug.outputs.length, 3);
  const text = await engine.run(flows[0]!.id, { inputValue: "Zed", inputType: "text", outputType: "chat" });
  assert.equal(text.chat?.text, "", "the chat input kept its empty value");
  assert.equal(text.outputs[0]?.messages[0]?.sender_name, "Zed");
});

test("memory-chatbot-no-llm recalls the session's earlier messages, per session", async () => {
  const { engine, flows } = await engineFor("memory-chatbot-no-llm");
  const id = flows[0]!.id;
  const first = await engine.run(id, chat("My name is Ada", { sessionId: "a" }));
  assert.equal(first.chat?.text, "\n\nUser: My name is Ada\nAI: ");
  const second = await engine.run(id, chat("Who am I?", { sessionId: "a" }));
  assert.equal(second.chat?.text, `User: My name is Ada\nAI: ${first.chat?.text}\n\nUser: Who am I?\nAI: `);
  const other = await engine.run(id, chat("Who am I?", { sessionId: "b" }));
  assert.equal(other.chat?.text, "\n\nUser: Who am I?\nAI: ");
});

test("memory-chatbot-no-llm: a session whose every answer quotes its history stays bounded however many turns", async () => {
  // Its answer holds the history it read, so each stored answer was as large as the whole
  // history: doubling every turn, about 30 turns took a replica out of memory.
  const memory = new MessageStore();
  const engine = new NativeEngine({ memory });
  const [flow] = [parseFlow(loadFixture("memory-chatbot-no-llm"))];
  await engine.load([flow!], {});
  let longest = 0;
  for (let i = 0; i < 40; i++) {
    const r = await engine.run(flow!.id, chat(`turn ${i}`, { sessionId: "grows" }));
    longest = Math.max(longest, r.chat?.text.length ?? 0);
    // The session's history is bounded at 1 Mi characters, and an answer quotes at most that.
    assert.ok(longest <= 2 * 1024 * 1024, `turn ${i}: an answer of ${longest} characters`);
  }
  assert.ok(memory.size <= 1024 * 1024, `the store holds ${memory.size} characters`);
  const last = await engine.run(flow!.id, chat("still here?", { sessionId: "grows" }));
  assert.match(last.chat?.text ?? "", /User: still here\?\nAI: $/, "the newest turns are still read");
});

test("a run whose session is never continued (forgetSession: an MCP tool call's) leaves nothing in the store: no other session's history is pushed out, even from a full store", async () => {
  const memory = new MessageStore({ maxSessions: 2 });
  const engine = new NativeEngine({ memory });
  const [flow] = [parseFlow(loadFixture("memory-chatbot-no-llm"))];
  await engine.load([flow!], {});
  await engine.run(flow!.id, chat("My name is Ada", { sessionId: "kept" }));
  await engine.run(flow!.id, chat("My name is Bob", { sessionId: "also kept" }));
  const sessions = () => memory.all().map((m) => m.sessionId).filter((s, i, a) => a.indexOf(s) === i);
  assert.deepEqual(sessions(), ["kept", "also kept"], "the store is full");
  for (let i = 0; i < 5; i++) {
    const r = await engine.run(flow!.id, chat(`call ${i}`, { sessionId: `mcp-${i}`, forgetSession: true }));
    assert.match(r.chat?.text ?? "", new RegExp(`User: call ${i}`), "the one-off run still has its own turn");
  }
  assert.deepEqual(sessions(), ["kept", "also kept"], "only the continued sessions are stored");
  const again = await engine.run(flow!.id, chat("Who am I?", { sessionId: "kept" }));
  assert.match(again.chat?.text ?? "", /My name is Ada/, "its history survived five one-off sessions in a full store of two");
});

test("loading a bundle with unsupported components names them", async () => {
  const engine = new NativeEngine();
  await assert.rejects(engine.load([parseFlow(loadFixture("webhook-test"))], {}), (err: unknown) => {
    assert.ok(err instanceof UnprocessableFlowError);
    assert.match(err.message, /CustomComponent/);
    assert.match(err.message, /lfx/);
    return true;
  });
});

test("an edge whose output type the input does not accept fails at load", async () => {
  const raw = loadFixture("simple-chat-no-llm") as { data: { edges: { data: { targetHandle: { inputTypes: string[] } } }[] } };
  raw.data.edges[0]!.data.targetHandle.inputTypes = ["DataFrame"];
  await assert.rejects(new NativeEngine().load([parseFlow(raw)], {}), /gives Message, but input "input_value" of Chat Output accepts DataFrame/);
});

test("a tweak naming what every object inherits (constructor, toString) is ignored as an unknown field", async () => {
  const { engine, flows } = await engineFor("simple-api-test");
  const result = await engine.run(flows[0]!.id, chat("hi", { tweaks: { "Chat Output": { constructor: { entries: 0 }, toString: 1, valueOf: null }, "Text Input": { toString: "x", input_value: "Bot" } } }));
  assert.equal(result.chat?.text, "hi");
  assert.equal(result.outputs[0]?.messages[0]?.sender_name, "Bot");
  assert.equal(typeof Object.entries, "function");
});

test("tweaks naming no component are refused", async () => {
  const { engine, flows } = await engineFor("simple-chat-no-llm");
  await assert.rejects(engine.run(flows[0]!.id, chat("x", { tweaks: { "Nope-1": { input_value: "y" } } })), (err: unknown) => err instanceof ValidationError && /Nope-1/.test(err.message));
});

test("a missing global variable is a run error naming it, never a value", async () => {
  const engine = new NativeEngine();
  const flow = parseFlow(loadFixture("memory-chatbot"));
  await engine.load([flow], { OTHER_SECRET: "s3cr3t-value" });
  await assert.rejects(engine.run(flow.id, chat("x")), (err: unknown) => {
    assert.ok(err instanceof FlowRunError);
    assert.match(err.message, /"OPENAI_API_KEY" is not set/);
    assert.doesNotMatch(err.message, /s3cr3t/);
    return true;
  });
});

test("prompt templates follow Python format rules", () => {
  assert.equal(formatFString("{{literal}} {name}!", { name: "Ada" }, "t"), "{literal} Ada!");
  assert.throws(() => formatFString("a } b", {}, "t"), /single '}'/);
  assert.throws(() => formatFString("{missing}", {}, "t"), /\{missing\}/);
});

test("the calculator evaluates arithmetic without evaluating code", () => {
  assert.equal(evaluateArithmetic("4*4*(33/22)+12-20"), 16);
  assert.equal(evaluateArithmetic("2**3**2"), 512);
  assert.equal(evaluateArithmetic("-3 + 10 % 4"), -1);
  assert.throws(() => evaluateArithmetic("process.exit()"), /unsupported/);
  assert.throws(() => evaluateArithmetic("1/0"), /division by zero/);
});
