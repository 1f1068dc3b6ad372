import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadFixture, loadStarters, startersSkipReason } from "@flowplane/testkit";
import { parseFlow } from "./flow.js";
import { flowGraph } from "./flow-graph.js";

describe("flowGraph", () => {
  it("gives Memory Chatbot's components where the editor placed them, and its edges by output and field", () => {
    const raw = loadFixture("memory-chatbot") as { data: { nodes: { id: string; type: string; position: { x: number; y: number } }[] } };
    const g = flowGraph(parseFlow(raw));
    const components = raw.data.nodes.filter((n) => n.type !== "noteNode");
    assert.equal(g.nodes.length, components.length, "every component, no note");
    for (const n of components) assert.deepEqual(g.nodes.find((x) => x.id === n.id)?.position, n.position);
    const chatOutput = g.nodes.find((n) => n.type === "ChatOutput")!;
    const into = g.edges.filter((e) => e.target === chatOutput.id);
    assert.equal(into.length, 1);
    assert.equal(into[0]!.targetInput, "input_value");
    for (const e of g.edges) assert.ok(g.nodes.some((n) => n.id === e.source) && g.nodes.some((n) => n.id === e.target));
  });

  it("carries no field value: a credential typed into a node stays out of the graph", () => {
    const raw = structuredClone(loadFixture("memory-chatbot")) as { data: { nodes: { data: { node: { template: Record<string, { value?: unknown; password?: boolean }> } } }[] } };
    for (const n of raw.data.nodes) for (const f of Object.values(n.data?.node?.template ?? {})) if (f && typeof f === "object" && f.password) f.value = "sk-typed-into-the-flow";
    assert.ok(!JSON.stringify(flowGraph(parseFlow(raw))).includes("sk-typed-into-the-flow"));
  });

  it("draws every Langflow 1.13 starter, a Loop's feedback edge included", { skip: startersSkipReason() }, () => {
    let loops = 0;
    for (const s of loadStarters()) {
      let flow;
      try {
        flow = parseFlow(s.raw);
      } catch {
        continue; // a starter flowplane refuses at publish has no page to draw it on
      }
      const g = flowGraph(flow);
      assert.ok(g.nodes.length > 0, s.name);
      assert.equal(new Set(g.nodes.map((n) => n.id)).size, g.nodes.length, `${s.name}: node ids unique`);
      if (s.name === "Research Translation Loop") {
        loops++;
        assert.ok(g.edges.some((e) => e.targetInput === "item"), "the loop edge returns to the Loop's item output");
      }
    }
    assert.equal(loops, 1, "the Loop starter is among those drawn");
  });
});
