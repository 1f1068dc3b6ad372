import { test } from "node:test";
import assert from "node:assert/strict";
import { FlowRunError, parseFlow, type EngineRunRequest, type StreamEvent } from "@flowplane/core";
import { loadFixture } from "@flowplane/testkit";
import { NativeEngine } from "./engine.js";

// run.ts: a run is synchronous while its components answer at once (a chain of promises per node
// cost a replica under load about a sixth of its CPU per echo run, issue #16). What that promises
// callers: such a run has ended, every message sent, when run() returns; a failure is still a
// rejected promise, never a throw; a component that fails at once stops its dependents.

const chat = (input: string, extra: Partial<EngineRunRequest> = {}): EngineRunRequest => ({ inputValue: input, inputType: "chat", outputType: "chat", ...extra });

for (const name of ["simple-chat-no-llm", "simple-api-test", "memory-chatbot-no-llm"]) {
  test(`${name} (components that wait for nothing) has run to its end when stream() returns`, async () => {
    const engine = new NativeEngine();
    const flow = parseFlow(loadFixture(name));
    await engine.load([flow], {});
    const events: StreamEvent[] = [];
    const pending = engine.stream(flow.id, chat("at once"), (e) => events.push(e));
    // Nothing awaited yet: no microtask has run.
    const seen = events.map((e) => [e.event, e.data.sender]);
    const result = await pending;
    assert.ok(result.chat, "the run answers");
    assert.deepEqual(seen, events.map((e) => [e.event, e.data.sender]), "every event was sent before stream() returned");
    assert.ok(seen.some(([event, sender]) => event === "add_message" && sender === "Machine"), `the Chat Output's message was sent at once: ${JSON.stringify(seen)}`);
  });
}

test("a component that fails at once fails the run as a rejected promise naming it, and what reads it never runs", async () => {
  const calls: string[] = [];
  const refuse = (async (url: string | URL | Request) => {
    calls.push(String(url));
    throw new Error("no model may be called in this test");
  }) as typeof fetch;
  const engine = new NativeEngine({ fetch: refuse });
  const flow = parseFlow(loadFixture("basic-prompting"));
  await engine.load([flow], { OPENAI_API_KEY: "sk-not-a-key" });
  const events: StreamEvent[] = [];
  let pending: Promise<unknown> | undefined;
  // A single "}" is a Python format error: the Prompt's build_prompt throws, synchronously.
  assert.doesNotThrow(() => {
    pending = engine.stream(flow.id, chat("hi", { tweaks: { "Prompt-Z1IXr": { template: "a } b" } } }), (e) => events.push(e));
  });
  await assert.rejects(pending as Promise<unknown>, (err: unknown) => {
    assert.ok(err instanceof FlowRunError);
    assert.equal(err.componentId, "Prompt-Z1IXr");
    assert.match(err.message, /^Error building Component Prompt: /);
    return true;
  });
  assert.deepEqual(calls, [], "the model was never called");
  assert.deepEqual(events.map((e) => e.data.sender), ["User"], "the Chat Input ran; the Chat Output did not");
});
