import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { parseFlow, type EngineRunRequest } from "@flowplane/core";
import { loadFixture, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { NativeEngine } from "./engine.js";

// A tweak of a model field chooses the model a run calls, as on lfx 1.13 (checked there: the
// selection a tweak gives is the one lfx's get_llm builds, with that provider's key or its
// refusal). The fixtures are older exports with a provider dropdown; Langflow 1.13's Language
// Model and Agent have a `model` field (ModelInput) instead, put in here as a 1.13 export has it.
let fake: FakeOpenAI;
before(async () => {
  fake = await startFakeOpenAI();
});
after(async () => {
  await fake.close();
});

type Template = Record<string, Record<string, unknown>>;

/**
 * The fixture with the node's provider dropdown replaced by a 1.13 `model` field selecting
 * gpt-4o-mini on OpenAI, and its API key left empty, as 1.13's starters export it (the provider's
 * key is then the deployment's variable of that provider: OPENAI_API_KEY, ANTHROPIC_API_KEY...).
 */
function withModelInput(fixture: string, nodeId: string): Record<string, unknown> {
  const raw = structuredClone(loadFixture(fixture)) as { data: { nodes: { id: string; data: { node: { template: Template } } }[] } };
  const template = raw.data.nodes.find((n) => n.id === nodeId)!.data.node.template;
  // A 1.13 Language Model keeps `provider` and `model_name` as plain text overlays; an Agent has neither.
  if (template.provider) template.provider = { _input_type: "StrInput", value: "" };
  if (template.model_name) template.model_name = { _input_type: "StrInput", value: "" };
  delete template.agent_llm;
  template.api_key = { ...template.api_key, value: "", load_from_db: false };
  template.model = { _input_type: "ModelInput", type: "model", value: [{ name: "gpt-4o-mini", provider: "OpenAI" }] };
  return raw;
}

async function load(fixture: string, nodeId: string) {
  const engine = new NativeEngine();
  const flow = parseFlow(withModelInput(fixture, nodeId));
  await engine.load([flow], { OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: "sk-deployment" });
  return { engine, id: flow.id };
}

const chat = (tweaks: EngineRunRequest["tweaks"]): EngineRunRequest => ({ inputValue: "hi", inputType: "chat", outputType: "chat", ...(tweaks ? { tweaks } : {}) });
const sourceOf = (result: { outputs: { results: Record<string, unknown> }[] }) => (result.outputs[0]?.results.message as { properties: { source: { source: string } } }).properties.source.source;

for (const [fixture, node] of [["basic-prompting", "LanguageModelComponent-UcEoU"], ["simple-agent", "Agent-qYZ9W"]] as const) {
  test(`${fixture}: a tweak of the model field is the model the run calls, and the one its answer names`, async () => {
    const { engine, id } = await load(fixture, node);
    const exported = await engine.run(id, chat(undefined));
    assert.equal(fake.requests.at(-1)!.body.model, "gpt-4o-mini");
    assert.equal(sourceOf(exported), "gpt-4o-mini");
    const tweaked = await engine.run(id, chat({ [node]: { model: [{ name: "gpt-4o", provider: "OpenAI" }] } }));
    assert.equal(fake.requests.at(-1)!.body.model, "gpt-4o");
    assert.equal(fake.requests.at(-1)!.headers.authorization, "Bearer sk-deployment");
    assert.equal(sourceOf(tweaked), "gpt-4o", "Chat Output names the model that answered, as lfx does");
  });

  test(`${fixture}: a tweak choosing another provider goes through that provider's key, which the deployment lacks`, async () => {
    const { engine, id } = await load(fixture, node);
    const before = fake.requests.length;
    await assert.rejects(engine.run(id, chat({ [node]: { model: [{ name: "claude-3-5-haiku-latest", provider: "Anthropic" }] } })), /an API key for Anthropic is required/);
    // A provider Langflow lists but native has no client for fails as the load-time check would.
    await assert.rejects(engine.run(id, chat({ [node]: { model: [{ name: "gemini-1.5-pro", provider: "Google Generative AI" }] } })), /uses model provider "Google Generative AI"; the native engine supports/);
    // An emptied selection is no model (lfx: "A model selection is required").
    await assert.rejects(engine.run(id, chat({ [node]: { model: [] } })), /A model selection is required/);
    assert.equal(fake.requests.length, before, "nothing was sent, least of all the OpenAI key to another provider");
  });
}

test("a Language Model's model_name and provider fields overlay its selection, as lfx's apply_model_overrides does", async () => {
  const node = "LanguageModelComponent-UcEoU";
  const { engine, id } = await load("basic-prompting", node);
  await engine.run(id, chat({ [node]: { model_name: "gpt-4.1" } }));
  assert.equal(fake.requests.at(-1)!.body.model, "gpt-4.1");
  await assert.rejects(engine.run(id, chat({ [node]: { provider: "Anthropic" } })), /an API key for Anthropic is required/);
});
