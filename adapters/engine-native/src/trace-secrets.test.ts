import { test, after } from "node:test";
import assert from "node:assert/strict";
import { parseFlow, type ComponentSpan, type SpanIO } from "@flowplane/core";
import { loadFixture, startFakeOpenAI } from "@flowplane/testkit";
import { NativeEngine } from "./engine.js";

/**
 * A deployment that keeps inputs and outputs shows each component's fields in its runs' traces,
 * to every viewer of the project (and to the OTLP collector). The replica redacts the values it
 * knows (its credentials); a secret field holds a key it may not know: one a caller gave as a
 * tweak, as Langflow's starters expect (their model nodes export an empty key).
 */
const fake = await startFakeOpenAI();
after(() => fake.close());

test("a secret field's value never reaches a span, whatever set it", async () => {
  const engine = new NativeEngine();
  const flow = parseFlow(loadFixture("basic-prompting"));
  await engine.load([flow], { OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: "sk-deployment" });
  const spans: { span: ComponentSpan; io?: SpanIO }[] = [];
  const callersKey = "sk-the-callers-own-key-0123456789";
  const result = await engine.run(flow.id, {
    inputValue: "hello", inputType: "chat", outputType: "chat",
    tweaks: { "Language Model": { api_key: callersKey } },
    trace: { io: true, span: (span, io) => spans.push({ span, ...(io ? { io } : {}) }) },
  });
  assert.equal(result.chat?.text, "Echo: hello");
  assert.equal(fake.requests.at(-1)?.headers.authorization, `Bearer ${callersKey}`);
  const model = spans.find((s) => s.span.componentType === "LanguageModelComponent");
  assert.ok(model?.io, "the model's span has its inputs");
  assert.doesNotMatch(JSON.stringify(spans), new RegExp(callersKey), "the caller's key is in the trace");
  assert.equal(model.io.inputs.api_key, "[redacted]");
});
