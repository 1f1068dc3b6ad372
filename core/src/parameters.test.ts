import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { UnprocessableFlowError } from "./errors.js";
import { parseFlow } from "./flow.js";
import { applyDefaults, applyRequiredSecrets, extractParameters, publishWarnings, requiredSecretName } from "./parameters.js";
import { loadStarters, startersSkipReason } from "@flowplane/testkit";

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
  // A required SecretStr field exported empty and unbound (Langflow's export without API keys):
  // the credential its label names ("Secret Key"), which the runtime binds the field to.
  "env-variable-test": { SECRET_KEY: { kind: "credential", usedBy: ["Secret-zIbKs.secret_key_input"] } },
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

describe("required secret fields exported empty (Langflow's export without API keys)", () => {
  const secret = (display_name: string, extra: Record<string, unknown> = {}) => ({ _input_type: "SecretStrInput", password: true, value: "", load_from_db: false, required: true, show: true, display_name, ...extra });
  const node = (id: string, type: string, template: Record<string, unknown>) => ({ id, data: { id, type, node: { template } } });
  const flowOf = (...nodes: unknown[]) => parseFlow({ id: "f1", name: "F", data: { nodes, edges: [] } });

  it("name the credential after the field's label, prefixed by the component's type when the label names no service", () => {
    const name = (type: string, label: string, field = "api_key") => requiredSecretName(flowOf(node("N-1", type, {})).nodes[0]!, field, { display_name: label });
    assert.equal(name("AssemblyAITranscriber", "AssemblyAI API Key"), "ASSEMBLYAI_API_KEY");
    assert.equal(name("AstraDB", "Astra DB Application Token", "token"), "ASTRA_DB_APPLICATION_TOKEN", "the name Langflow's own variable has");
    assert.equal(name("AstraDB", "API Key"), "ASTRA_DB_API_KEY");
    assert.equal(name("Secret", "Secret Key"), "SECRET_KEY", "not SECRET_SECRET_KEY");
    assert.equal(name("MyTool", "密钥", "secret"), "MY_TOOL_SECRET", "a label with no Latin letter: the field's name");
    assert.equal(name("MyTool", "Path"), "SECRET_PATH", "a name reserved for the replica's process is never chosen");
  });

  it("are credentials, shared by one service's nodes; optional or hidden ones only warn or are left alone", () => {
    const flow = flowOf(
      node("A-1", "AssemblyAITranscriber", { api_key: secret("AssemblyAI API Key") }),
      node("A-2", "AssemblyAIPoller", { api_key: secret("AssemblyAI API Key") }),
      node("O-1", "Optional", { api_key: secret("Optional Service Key", { required: false }) }),
      node("H-1", "Hidden", { key: secret("Hidden Service Key", { show: false }) }),
    );
    assert.deepEqual(extractParameters([flow]), [{ name: "ASSEMBLYAI_API_KEY", kind: "credential", usedBy: [{ flowId: "f1", nodeId: "A-1", field: "api_key" }, { flowId: "f1", nodeId: "A-2", field: "api_key" }] }]);
    assert.deepEqual(publishWarnings([flow]).map((w) => `${w.code}:${w.nodeId}.${w.field}`), ["secret_unbound:O-1.api_key"]);
  });

  it("are bound to their credential for the engines, the export itself unchanged; extraction then finds the same parameters", () => {
    const raw = { id: "f1", name: "F", data: { nodes: [node("A-1", "AssemblyAITranscriber", { api_key: secret("AssemblyAI API Key"), other: { value: "x" } })], edges: [] } };
    const before = JSON.stringify(raw);
    const flow = parseFlow(raw);
    const bound = applyRequiredSecrets(flow);
    assert.deepEqual(bound.nodes[0]!.template.api_key, { ...secret("AssemblyAI API Key"), value: "ASSEMBLYAI_API_KEY", load_from_db: true });
    const rawTemplate = (bound.raw as typeof raw).data.nodes[0]!.data.node.template as Record<string, unknown>;
    assert.deepEqual(rawTemplate.api_key, { ...secret("AssemblyAI API Key"), value: "ASSEMBLYAI_API_KEY", load_from_db: true }, "in the export lfx runs too");
    assert.deepEqual(rawTemplate.other, { value: "x" });
    assert.equal(JSON.stringify(raw), before, "the published export is not changed");
    assert.equal(bound.id, flow.id);
    assert.deepEqual(extractParameters([bound]), extractParameters([flow]));
    const plain = flowOf(node("P-1", "ChatInput", { input_value: { value: "hi" } }));
    assert.equal(applyRequiredSecrets(plain), plain, "nothing to bind: the same flow");
  });
});

describe("required secret fields of Langflow 1.13's starter projects", { skip: startersSkipReason() }, () => {
  it("Meeting Summary asks for AssemblyAI's key and Hybrid Search RAG for Astra DB's token, as credentials, not warnings", () => {
    const starters = new Map(loadStarters().map((s) => [s.name, parseFlow(s.raw)]));
    const credentials = (name: string) => extractParameters([starters.get(name)!]).filter((p) => p.kind === "credential").map((p) => `${p.name}:${p.usedBy.map((u) => u.field).join(",")}`);
    assert.ok(credentials("Meeting Summary").includes("ASSEMBLYAI_API_KEY:api_key"), credentials("Meeting Summary").join(" "));
    assert.ok(credentials("Hybrid Search RAG").includes("ASTRA_DB_APPLICATION_TOKEN:token,token"), credentials("Hybrid Search RAG").join(" "));
    for (const flow of starters.values()) {
      for (const w of publishWarnings([flow]).filter((x) => x.code === "secret_unbound")) {
        const field = flow.nodes.find((n) => n.id === w.nodeId)?.template[w.field];
        assert.notEqual(field?.required, true, `${flow.name}: ${w.nodeId}.${w.field} is required, so it is a credential, not a warning`);
      }
    }
  });
});
