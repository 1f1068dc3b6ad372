import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compatibilityReport } from "./compatibility.js";
import { parseFlow } from "./flow.js";
import { LFX_MODULES } from "./lfx-modules.js";
import { lfxProblems, pythonImports } from "./lfx-support.js";

const node = (id: string, type: string, code: string) => ({ id, data: { type, node: { template: { code: { type: "code", value: code } } } } });

describe("lfx support", () => {
  it("reads the imports of a component's code, telling load-time ones from those inside functions, try blocks and TYPE_CHECKING", () => {
    const code = [
      '"""A docstring that says',
      "from here import nothing",
      '"""',
      "from __future__ import annotations",
      "import os, json as j",
      "from langchain_openai.chat_models import ChatOpenAI",
      "from .relative import x",
      "if TYPE_CHECKING:",
      "    from sqlmodel import Session",
      "try:",
      "    import optional_mod",
      "except ImportError:",
      "    optional_mod = None",
      "class C(Component):",
      "    import inside_class",
      "    def build(",
      "        self,",
      "    ) -> None:",
      "        import lazy_mod",
      "        return None",
      "    async def other(self):",
      "        from trustcall import create_extractor",
      "import after_def",
    ].join("\n");
    assert.deepEqual(pythonImports(code).map((i) => `${i.module}:${i.when}`), [
      "__future__:load", "os:load", "json:load", "langchain_openai:load", "sqlmodel:run", "optional_mod:run", "inside_class:load", "lazy_mod:run", "trustcall:run", "after_def:load",
    ]);
  });

  it("finds modules missing from the pinned install at load, and components that need Langflow's application", () => {
    assert.ok(LFX_MODULES.has("lfx") && LFX_MODULES.has("langgraph") && LFX_MODULES.has("os"), "namespace packages and the standard library count");
    const flow = parseFlow({ id: "f", name: "F", data: { nodes: [
      node("A", "AstraDB", "import astrapy\nfrom lfx.custom import Component\nfrom langflow.io import Output"),
      node("K", "Knowledge", "from lfx.custom import Component"),
      node("O", "ChatOutput", "from lfx.custom import Component\ndef f():\n    import not_installed_anywhere"),
    ], edges: [] } });
    assert.deepEqual(lfxProblems([flow]).map((p) => `${p.nodeId}:${p.reason}:${p.detail}`), [
      "A:missing_module:its code imports 'astrapy', not installed with lfx",
      "K:needs_langflow_app:knowledge bases live in Langflow's database and services, which lfx does not have",
    ], "langflow.* at load falls back to lfx.*; an import inside a function is not a load problem");
    const report = compatibilityReport([flow]);
    assert.equal(report.lfx.supported, false);
    assert.deepEqual(report.lfx.missing.map((m) => m.nodeId), ["A", "K"]);
  });
});
