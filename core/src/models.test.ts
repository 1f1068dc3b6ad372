import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadStarters, startersSkipReason } from "@flowplane/testkit";
import { prepareVersion } from "./bundle.js";
import { checkValues, credentialNamesFor } from "./deployment.js";
import { parseFlow, type Flow } from "./flow.js";
import { applyModelChoices, findProvider, MODEL_PROVIDERS, modelChoiceName, modelSelections, parseModelChoice } from "./models.js";
import { extractParameters, publishWarnings } from "./parameters.js";

/** A Langflow 1.13 model node: the unified `model` field (ModelInput) and an empty api_key. */
function modelNode(id: string, model: unknown, apiKey: Record<string, unknown> = { value: "", load_from_db: true }) {
  return {
    id,
    data: {
      type: "Agent",
      node: {
        display_name: "Agent",
        template: {
          model: { _input_type: "ModelInput", type: "model", value: model },
          api_key: { _input_type: "SecretStrInput", password: true, ...apiKey },
          input_value: { value: "" },
        },
        outputs: [{ name: "response", types: ["Message"] }],
      },
    },
  };
}
const flowOf = (...nodes: unknown[]): Flow => parseFlow({ id: "f1", name: "Flow One", data: { nodes, edges: [] } });
const uses = (flow: Flow) => extractParameters([flow]).map((p) => `${p.name}:${p.kind}:${p.usedBy.map((u) => `${u.nodeId}.${u.field}`).join(",")}`);

describe("Langflow 1.13 model nodes", () => {
  it("makes the selected provider's key a credential, named as Langflow names it, when api_key is empty and unbound", () => {
    assert.deepEqual(uses(flowOf(modelNode("Agent-a", [{ name: "gpt-4o-mini", provider: "OpenAI" }]))), ["OPENAI_API_KEY:credential:Agent-a.api_key"]);
    assert.deepEqual(uses(flowOf(modelNode("Agent-b", [{ name: "claude", provider: "Anthropic" }]))), ["ANTHROPIC_API_KEY:credential:Agent-b.api_key"]);
    assert.deepEqual(uses(flowOf(modelNode("Agent-w", [{ name: "granite", provider: "IBM watsonx.ai" }]))), ["WATSONX_APIKEY:credential:Agent-w.api_key"], "an alias lfx accepts");
  });

  it("lets an explicitly bound global variable win over the provider's key", () => {
    const flow = flowOf(modelNode("Agent-a", [{ name: "gpt-4o-mini", provider: "OpenAI" }], { value: "MY_KEY", load_from_db: true }));
    assert.deepEqual(uses(flow), ["MY_KEY:credential:Agent-a.api_key"]);
  });

  it("turns a provider's base-URL field into a plain parameter where the component has one (Ollama)", () => {
    const raw = modelNode("LM-o", [{ name: "llama3", provider: "Ollama" }]);
    (raw.data.node.template as Record<string, unknown>).ollama_base_url = { value: "" };
    assert.deepEqual(uses(flowOf(raw)), ["OLLAMA_BASE_URL:plain:LM-o.ollama_base_url"], "Ollama needs no key");
  });

  it("reads the older provider/model_name fields too", () => {
    const raw = { id: "LM-1", data: { type: "LanguageModelComponent", node: { template: { provider: { value: "Groq" }, model_name: { value: "llama" }, api_key: { _input_type: "SecretStrInput", value: "" } } } } };
    assert.deepEqual(uses(flowOf(raw)), ["GROQ_API_KEY:credential:LM-1.api_key"]);
    assert.deepEqual(modelSelections(flowOf(raw).nodes[0]!), [{ source: "provider-field", field: "provider", provider: "Groq", model: "llama" }]);
  });

  it("declares a model choice and warns, naming node and field, when no model is selected; a connected model is no warning", () => {
    const flow = flowOf(modelNode("Agent-x", ""));
    assert.deepEqual(uses(flow), ["MODEL_AGENT_X:model:Agent-x.model"]);
    const [w] = publishWarnings([flow]);
    assert.equal(w?.code, "no_model_selected");
    assert.equal(w?.nodeId, "Agent-x");
    assert.equal(w?.field, "model");
    assert.match(w?.message ?? "", /flow "Flow One", node Agent-x \(Agent\), field model: no model selected/);
    const connected = parseFlow({ id: "f2", name: "f2", data: { nodes: [modelNode("Agent-x", ""), { id: "M", data: { type: "OpenAIModel", node: { template: {} } } }], edges: [
      { source: "M", target: "Agent-x", data: { sourceHandle: { dataType: "OpenAIModel", id: "M", name: "model_output", output_types: ["LanguageModel"] }, targetHandle: { fieldName: "model", id: "Agent-x", inputTypes: ["LanguageModel"], type: "other" } } },
    ] } });
    assert.deepEqual(publishWarnings([connected]).filter((x) => x.nodeId === "Agent-x"), []);
  });

  it("warns about a secret field left empty and unbound that no provider key covers", () => {
    const raw = { id: "T-1", data: { type: "AssemblyAITranscriber", node: { template: { api_key: { _input_type: "SecretStrInput", password: true, value: "" } } } } };
    const [w] = publishWarnings([flowOf(raw)]);
    assert.deepEqual([w?.code, w?.nodeId, w?.field], ["secret_unbound", "T-1", "api_key"]);
  });

  it("validates a deploy-time model choice against the provider list and then requires that provider's key", () => {
    assert.deepEqual(parseModelChoice("gpt-4o"), { error: '"gpt-4o" is not a model choice: write <provider>/<model>, e.g. OpenAI/gpt-4o-mini' });
    assert.match((parseModelChoice("Nope/x") as { error: string }).error, /"Nope" is not a Langflow model provider/);
    assert.equal(findProvider("OpenAI")?.keyVariable, "OPENAI_API_KEY");
    const version = { ...prepareVersion({ name: "b", versionTag: "v1", accessLevel: "global", flows: [{ id: "f1", name: "Flow One", data: { nodes: [modelNode("Agent-x", "")], edges: [] } }] }, "u"), createdAt: "" };
    const fields = (creds: Record<string, string>, params: Record<string, string>) => checkValues(version, creds, params, true).map((e) => e.field);
    assert.deepEqual(fields({}, {}), ["parameters.MODEL_AGENT_X"], "no model: refused");
    assert.deepEqual(fields({}, { MODEL_AGENT_X: "Nope/x" }), ["parameters.MODEL_AGENT_X"]);
    assert.deepEqual(fields({}, { MODEL_AGENT_X: "OpenAI/gpt-4o-mini" }), ["credentials.OPENAI_API_KEY"]);
    assert.deepEqual(fields({ OPENAI_API_KEY: "sk-x" }, { MODEL_AGENT_X: "OpenAI/gpt-4o-mini" }), []);
    assert.deepEqual(fields({ ANTHROPIC_API_KEY: "k" }, { MODEL_AGENT_X: "OpenAI/gpt-4o-mini" }), ["credentials.OPENAI_API_KEY", "credentials.ANTHROPIC_API_KEY"]);
    assert.deepEqual(version.warnings.map((w) => w.code), ["no_model_selected"]);
  });

  it("writes a deploy-time model choice into the flow in Langflow's shape", () => {
    const flow = flowOf(modelNode("Agent-x", ""));
    const chosen = applyModelChoices(flow, { [modelChoiceName("Agent-x")]: "OpenAI/gpt-4o-mini" });
    assert.equal(chosen.id, flow.id);
    assert.deepEqual(chosen.nodes[0]?.template.model?.value, [{ name: "gpt-4o-mini", provider: "OpenAI" }]);
    assert.deepEqual(extractParameters([chosen]).map((p) => p.name), ["OPENAI_API_KEY"]);
    assert.equal(applyModelChoices(flow, {}), flow, "no choice: unchanged");
  });

  it("leaves the export it was given as it was, and writes an older provider field with its model_name", () => {
    const node = modelNode("Agent-y", "");
    const older = { id: "Agent-z", data: { type: "Agent", node: { display_name: "Agent", template: { agent_llm: { value: "" }, model_name: { value: "", show: true }, other: { value: 1 } } } } };
    const flow = flowOf(node, older);
    const before = JSON.stringify(flow.raw);
    const chosen = applyModelChoices(flow, { [modelChoiceName("Agent-y")]: "OpenAI/gpt-4o", [modelChoiceName("Agent-z")]: "OpenAI/gpt-4o-mini" });
    assert.equal(JSON.stringify(flow.raw), before, "the original export is not changed");
    assert.equal(flow.nodes[0]?.template.model?.value, "");
    assert.deepEqual(chosen.nodes[0]?.template.model?.value, [{ name: "gpt-4o", provider: "OpenAI" }]);
    assert.deepEqual(chosen.nodes[1]?.template, { agent_llm: { value: "OpenAI" }, model_name: { value: "gpt-4o-mini", show: true }, other: { value: 1 } });
  });

  it("mirrors lfx 1.13's provider table (every provider has a name; keys are upper-case variable names)", () => {
    for (const p of MODEL_PROVIDERS) assert.ok(p.keyVariable === null || /^[A-Z][A-Z0-9_]+$/.test(p.keyVariable), p.name);
  });
});

// The yardstick of issue #14: the starter projects Langflow 1.13.0 ships.
describe("Langflow 1.13 starter projects", { skip: startersSkipReason() }, () => {
  it("all 27 publish; every LLM node's provider key is a credential or its model a deploy-time choice; every warning names node and field", () => {
    const starters = loadStarters();
    assert.equal(starters.length, 27);
    for (const { name, raw } of starters) {
      const v = prepareVersion({ name: "s", versionTag: "v1", accessLevel: "global", flows: [raw] }, "u");
      const flow = parseFlow(raw);
      for (const node of flow.nodes.filter((n) => !n.isNote)) {
        const connected = new Set(flow.edges.filter((e) => e.target === node.id).map((e) => e.targetHandle.fieldName));
        for (const sel of modelSelections(node, connected)) {
          const covers = v.parameters.filter((p) => p.usedBy.some((u) => u.nodeId === node.id));
          const ok = sel.provider === null
            ? covers.some((p) => p.kind === "model" && p.name === modelChoiceName(node.id))
            : covers.some((p) => p.kind === "credential");
          assert.ok(ok, `${name}: ${node.id}.${sel.field} (${sel.provider ?? "no model"}) has no credential or model choice`);
        }
      }
      for (const w of v.warnings) {
        assert.ok(flow.nodes.some((n) => n.id === w.nodeId && w.field in n.template), `${name}: warning names a real node and field: ${w.message}`);
        assert.match(w.message, new RegExp(`node ${w.nodeId} .*field ${w.field}`));
      }
    }
  });
});

describe("credentials of a deployment", () => {
  it("are the declared ones plus the key of each provider a model choice picks", () => {
    const version = { ...prepareVersion({ name: "b", versionTag: "v1", accessLevel: "global", flows: [{ id: "f1", name: "F", data: { nodes: [modelNode("Agent-x", ""), modelNode("Agent-y", [{ name: "gpt", provider: "OpenAI" }])], edges: [] } }] }, "u"), createdAt: "" };
    assert.deepEqual(credentialNamesFor(version, {}), ["OPENAI_API_KEY"]);
    assert.deepEqual(credentialNamesFor(version, { MODEL_AGENT_X: "Anthropic/claude-x" }), ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]);
    assert.deepEqual(credentialNamesFor(version, { MODEL_AGENT_X: "Ollama/llama3" }), ["OPENAI_API_KEY"], "Ollama needs no key");
  });
});
