import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { fakeDigest, startFakeOpenAI } from "./fake-openai.js";
import { fixturePath, loadFixture } from "./fixtures.js";

const post = (url: string, body: unknown, key = "sk-test") =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(body) });

test("fake OpenAI echoes the last user message and records the request", async () => {
  const fake = await startFakeOpenAI();
  try {
    const res = await post(`${fake.baseUrl}/chat/completions`, { model: "m", messages: [{ role: "system", content: "s" }, { role: "user", content: "hi there" }] });
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0]?.message.content, "Echo: hi there");
    assert.equal(fake.requests[0]?.headers.authorization, "Bearer sk-test");
  } finally {
    await fake.close();
  }
});

test("fake OpenAI streams word chunks and ends with [DONE]", async () => {
  const fake = await startFakeOpenAI();
  try {
    const res = await post(`${fake.baseUrl}/chat/completions`, { model: "m", stream: true, messages: [{ role: "user", content: "a b" }] });
    const text = await res.text();
    const events = text.split("\n\n").filter(Boolean);
    assert.equal(events.at(-1), "data: [DONE]");
    const pieces = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] }).map((c) => c.choices[0]?.delta.content ?? "");
    assert.equal(pieces.join(""), "Echo: a b");
    assert.ok(pieces.filter(Boolean).length >= 3);
  } finally {
    await fake.close();
  }
});

test("fake OpenAI answers a tool call only for an offered tool, then uses the tool output", async () => {
  const fake = await startFakeOpenAI();
  try {
    const tools = [{ type: "function", function: { name: "add", parameters: {} } }];
    const ask = [{ role: "user", content: 'please [[tool:add {"a":1}]]' }];
    const first = (await (await post(`${fake.baseUrl}/chat/completions`, { model: "m", messages: ask, tools })).json()) as { choices: { message: { tool_calls?: { function: { name: string; arguments: string } }[] } }[] };
    assert.equal(first.choices[0]?.message.tool_calls?.[0]?.function.name, "add");
    assert.equal(first.choices[0]?.message.tool_calls?.[0]?.function.arguments, '{"a":1}');
    const noTools = (await (await post(`${fake.baseUrl}/chat/completions`, { model: "m", messages: ask })).json()) as { choices: { message: { content: string } }[] };
    assert.match(noTools.choices[0]?.message.content ?? "", /^Echo: /);
    const after = [...ask, { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "add", arguments: "{}" } }] }, { role: "tool", tool_call_id: "call_1", content: "2" }];
    const second = (await (await post(`${fake.baseUrl}/chat/completions`, { model: "m", messages: after, tools })).json()) as { choices: { message: { content: string } }[] };
    assert.equal(second.choices[0]?.message.content, "Tool add says: 2");
  } finally {
    await fake.close();
  }
});

test("fixtures resolve to the shared Langflow exports", () => {
  assert.ok(existsSync(fixturePath("simple-chat-no-llm")));
  const flow = loadFixture("simple-api-test.json");
  assert.equal(flow.name, "Simple API Test");
});

test("fake OpenAI with digest: the answer changes with the model, the system prompt, the history and the tools", async () => {
  const fake = await startFakeOpenAI({ digest: true });
  try {
    const base = { model: "m", messages: [{ role: "system", content: "s" }, { role: "user", content: "hi" }], tools: [{ type: "function", function: { name: "calc" } }] };
    const answer = async (body: Record<string, unknown>) => ((await (await post(`${fake.baseUrl}/chat/completions`, body)).json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content;
    const first = await answer(base);
    assert.equal(first, `Echo: hi [digest:${fakeDigest(base)}]`);
    const variants = [
      { ...base, model: "m2" },
      { ...base, messages: [{ role: "system", content: "t" }, base.messages[1]] },
      { ...base, messages: [base.messages[0], { role: "user", content: "earlier" }, { role: "assistant", content: "yes" }, base.messages[1]] },
      { ...base, tools: [] },
    ];
    const answers = new Set<string | undefined>([first]);
    for (const v of variants) answers.add(await answer(v));
    assert.equal(answers.size, 5, "each change gives another answer");
  } finally {
    await fake.close();
  }
});
