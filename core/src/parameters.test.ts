import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { UnprocessableFlowError } from "./errors.js";
import { parseFlow } from "./flow.js";
import { applyDefaults, extractParameters } from "./parameters.js";

/** Expected global-variable bindings of every fixture, as ../shared/fixtures/langflow/SOURCES.md lists them. */
const EXPECTED: Record<string, Record<string, { kind: "credential" | "plain"; usedBy: string[] }>> = {
  // api_key has load_from_db but an empty name: bound to no variable, so the OpenAI provider's
  // own key (Langflow's OPENAI_API_KEY global variable) is what the node uses.
  "basic-prompting": { OPENAI_API_KEY: { kind: "credential", usedBy: ["LanguageModelComponent-UcEoU.api_key"] } },
  "basic-prompt-chaining": { OPENAI_API_KEY: { kind: "credential", usedBy: ["LanguageModelComponent-AsaOP.api_key", "LanguageModelComponent-uV35f.api_key", "LanguageModelComponent-OVCTy.api_key"] } },
  "simple-chat-no-llm": {},
  "memory-chatbot-no-llm": {},
  "simple-api-test": {},
  "webhook-test": {},
  "env-variable-test": {}, // an unbound, empty SecretStr field: neither a parameter nor a hard-coded secret
  "memory-chatbot": { OPENAI_API_KEY: { kind: "credential", usedBy: ["LanguageModelComponent-n8KRg.api_key"] } },
  "blog-writer": { OPENAI_API_KEY: { kind: "credential", usedBy: ["OpenAIModel-Qq8W6.api_key"] } },
  "simple-agent": { OPENAI_API_KEY: { kind: "credential", usedBy: ["Agent-qYZ9W.api_key"] } },
  "document-qa": { OPENAI_API_KEY: { kind: "credential", usedBy: ["LanguageModelComponent-IEakg.api_key"] } },
  "vector-store-rag": {
    OPENAI_API_KEY: { kind: "credential", usedBy: ["OpenAIEmbeddings-jsaKm.openai_api_key", "OpenAIEmbeddings-U8tZg.openai_api_key", "LanguageModelComponent-Wqbva.api_key"] },
    ASTRA_DB_APPLICATION_TOKEN: { kind: "credential", usedBy: ["AstraDB-TCSqR.token", "AstraDB-BteL9.token"] },
  },
  "openrag-agent": {
    JWT: { kind: "credential", usedBy: ["OpenSearch-iYfjf.jwt_token"] },
    OPENAI_API_KEY: { kind: "credential", usedBy: ["EmbeddingModel-eZ6bT.api_key", "LanguageModelComponent-0YME7.api_key"] },
    "OPENRAG-QUERY-FILTER": { kind: "credential", usedBy: ["TextInput-aHsQb.input_value"] },
  },
  "openrag-url-mcp": {
    JWT: { kind: "credential", usedBy: ["OpenSearchHybrid-Ve6bS.jwt_token"] },
    OPENAI_API_KEY: { kind: "credential", usedBy: ["EmbeddingModel-eC65s.api_key"] },
  },
};

describe("parameter extraction on every Langflow fixture", () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(name, () => {
      const raw = loadFixture(name);
      const flow = parseFlow(raw);
      const params = extractParameters([flow]);
      const got = Object.fromEntries(params.map((p) => [p.name, { kind: p.kind, usedBy: p.usedBy.map((u) => `${u.nodeId}.${u.field}`).sort() }]));
      const want = Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, { kind: v.kind, usedBy: [...v.usedBy].sort() }]));
      assert.deepEqual(got, want);
      for (const p of params) for (const u of p.usedBy) assert.equal(u.flowId, flow.id);
    });
  }
});

describe("parameters across a bundle", () => {
  it("deduplicates by name across flows and records every use", () => {
    const flows = [parseFlow(loadFixture("memory-chatbot")), parseFlow(loadFixture("blog-writer"))];
    const params = extractParameters(flows);
    assert.equal(params.length, 1);
    assert.deepEqual(params[0]?.usedBy.map((u) => u.flowId), [flows[0]!.id, flows[1]!.id]);
  });

  it("refuses a hard-coded secret, naming flow, node and field", () => {
    const raw = loadFixture("env-variable-test");
    const node = (raw.data as { nodes: { id: string; data: { node: { template: Record<string, { value: unknown }> } } }[] }).nodes.find((n) => n.id === "Secret-zIbKs")!;
    node.data.node.template.secret_key_input!.value = "sk-live-123";
    assert.throws(() => extractParameters([parseFlow(raw)]), (e: unknown) => {
      assert.ok(e instanceof UnprocessableFlowError);
      assert.match(e.message, /env_variable_test/);
      assert.match(e.message, /Secret-zIbKs/);
      assert.match(e.message, /secret_key_input/);
      assert.doesNotMatch(e.message, /sk-live-123/);
      return true;
    });
  });

  it("makes a parameter used by any secret field a credential, and strips credential defaults", () => {
    const flow = parseFlow({ id: "f", name: "f", data: { nodes: [
      { id: "A", data: { type: "TextInput", node: { template: { a: { load_from_db: true, value: "TOKEN" }, b: { load_from_db: true, value: "MODE" } } } } },
      { id: "B", data: { type: "TextInput", node: { template: { c: { load_from_db: true, value: "TOKEN", _input_type: "SecretStrInput" } } } } },
    ], edges: [] } });
    const params = extractParameters([flow]);
    assert.deepEqual(params.map((p) => [p.name, p.kind]), [["TOKEN", "credential"], ["MODE", "plain"]]);
    const { parameters, unknown } = applyDefaults(params, { TOKEN: "leak", MODE: "fast", OTHER: "x" });
    assert.equal(parameters.find((p) => p.name === "TOKEN")?.default, undefined);
    assert.equal(parameters.find((p) => p.name === "MODE")?.default, "fast");
    assert.deepEqual(unknown, ["OTHER"]);
  });
});
