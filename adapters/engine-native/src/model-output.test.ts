import { test, after } from "node:test";
import assert from "node:assert/strict";
import { parseFlow } from "@flowplane/core";
import { loadFixture, startFakeOpenAI } from "@flowplane/testkit";
import { NativeEngine } from "./engine.js";

/**
 * A Language Model feeding an Agent (its `model_output`, the model object) is a component output
 * like any other: a caller reads it with `output_type: "debug"` or by naming the component in
 * `output_component`, and a trace keeps it. The object carries the deployment's API key for the
 * Agent to call with; what is shown of it must not. The flow: OpenRAG's agent without its
 * OpenSearch, embedding and MCP tools (Chat Input -> Agent <- Language Model, -> Chat Output).
 */
const fake = await startFakeOpenAI();
after(() => fake.close());
const KEY = "sk-deployment-key-never-in-an-answer";

test("a model object's key is in no answer, while the Agent still calls with it", async () => {
  const raw = loadFixture("openrag-agent") as { data: { nodes: { id: string }[]; edges: { source: string; target: string }[] } };
  const drop = new Set(["OpenSearch-iYfjf", "EmbeddingModel-eZ6bT", "TextInput-aHsQb", "MCP-7EY21"]);
  raw.data.nodes = raw.data.nodes.filter((n) => !drop.has(n.id));
  raw.data.edges = raw.data.edges.filter((e) => !drop.has(e.source) && !drop.has(e.target));
  const flow = parseFlow(raw);
  const engine = new NativeEngine();
  await engine.load([flow], { OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: KEY });
  const answers = [
    await engine.run(flow.id, { inputValue: "hello", inputType: "chat", outputType: "debug" }),
    await engine.run(flow.id, { inputValue: "hello", inputType: "chat", outputType: "any", outputComponent: "LanguageModelComponent-0YME7" }),
  ];
  assert.equal(answers[0]?.chat?.text, "Echo: hello");
  assert.equal(fake.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`, "the Agent calls the model with the deployment's key");
  for (const a of answers) assert.doesNotMatch(JSON.stringify(a), new RegExp(KEY), "the answer shows the deployment's key");
  assert.match(JSON.stringify(answers[0]), /"kind":"chat-model"/, "the model object is still reported");
});
