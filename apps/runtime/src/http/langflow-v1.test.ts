import assert from "node:assert/strict";
import { test } from "node:test";
import { parseFlow } from "@flowplane/core";
import { loadFixture } from "@flowplane/testkit";
import { legacyContentBlocks, parseBool, projectPayloadToV1, requestVariables, variableGuard } from "./langflow-v1.js";

// Langflow 1.13's /api/v1/run boundary: request variables, what a request may set, v1 content_blocks.

test("X-LANGFLOW-GLOBAL-VAR-* headers become upper-cased variables; other headers are ignored", () => {
  assert.deepEqual(requestVariables({ "x-langflow-global-var-bot_name": "B", "X-LANGFLOW-GLOBAL-VAR-Other": "o", "x-api-key": "k", "x-langflow-global-var-": "empty name" }), { BOT_NAME: "B", OTHER: "o" });
});

test("a request may set only plain parameters of components without secrets; credentials and undeclared names are refused", () => {
  const raw = loadFixture("memory-chatbot") as { data: { nodes: { id: string; data: { node: { template: Record<string, Record<string, unknown>> } } }[] } };
  const node = (id: string) => raw.data.nodes.find((n) => n.id === id)!.data.node.template;
  Object.assign(node("ChatOutput-2ljRT").sender_name!, { value: "Bot_Name", load_from_db: true });
  // A URL bound on the model component, beside its API key: overriding it would redirect the key.
  node("LanguageModelComponent-n8KRg").base_url = { type: "str", value: "MODEL_URL", load_from_db: true };
  const check = variableGuard([parseFlow(raw)]);
  assert.deepEqual(check("BOT_NAME"), { ok: true, name: "Bot_Name" }, "matched case-insensitively, set under its own name");
  assert.deepEqual(check("OPENAI_API_KEY"), { ok: false, reason: "credential" });
  assert.deepEqual(check("ANTHROPIC_API_KEY"), { ok: false, reason: "credential" });
  assert.deepEqual(check("MODEL_URL"), { ok: false, reason: "not_overridable" });
  assert.deepEqual(check("OPENAI_API_BASE"), { ok: false, reason: "not_overridable" });
});

test("the stream flag parses as pydantic parses a bool", () => {
  assert.deepEqual(["true", "1", "YES", "on", "false", "0", "off", undefined, "maybe", ""].map(parseBool), [true, true, true, true, false, false, false, false, null, null]);
});

test("content_blocks in the v1 shape: groups only, leaves without id/contents, an agent's answer folded back", () => {
  assert.deepEqual(legacyContentBlocks([{ type: "text", id: null, duration: null, header: {}, contents: [], text: "Echo: hi" }]), []);
  const agent = legacyContentBlocks([
    { type: "group", title: "Agent Steps", id: "g", contents: [{ type: "tool_use", id: "t", contents: [], name: "search", duration: 3 }], allow_markdown: true, media_url: null },
    { type: "text", id: "x", contents: [], text: "The answer" },
  ]);
  assert.deepEqual(agent, [{
    title: "Agent Steps", allow_markdown: true, media_url: null,
    contents: [{ type: "tool_use", name: "search", duration: 3 }, { type: "text", duration: null, header: { title: "Output", icon: "MessageSquare" }, text: "The answer" }],
  }]);
  assert.deepEqual(legacyContentBlocks([{ type: "tool_use", id: "t", name: "calc" }]), [{ title: "Agent Steps", contents: [{ type: "tool_use", name: "calc" }], allow_markdown: true, media_url: null }]);
  assert.deepEqual(projectPayloadToV1({ outputs: [{ message: { text: null, content_blocks: [{ type: "text", text: "x" }] } }] }), { outputs: [{ message: { text: "", content_blocks: [] } }] });
});
