import { test } from "node:test";
import assert from "node:assert/strict";
import { UnprocessableFlowError, parseFlow } from "@flowplane/core";
import { loadStarters, startersSkipReason } from "@flowplane/testkit";
import { buildGraph } from "./graph.js";
import { loopItems, passResult } from "./components/loop.js";
import { Data, DataFrame, Message } from "./values.js";

// The Loop's graph as lfx 1.13 reads it (loop_utils.get_loop_body_vertices), on Langflow's own
// Research Translation Loop starter. Its run against lfx is in the equivalence suite (the starter
// with arXiv replaced by Split Text, compared byte for byte).
const skip = startersSkipReason();

type Raw = { data: { nodes: { id: string; data: { type: string } }[]; edges: Record<string, unknown>[] } };
const starter = (): Raw => structuredClone(loadStarters().find((s) => s.name === "Research Translation Loop")?.raw) as unknown as Raw;

test("Loop: its body is the item output's targets up to the feedback node, run inside the loop, not in the outer run", { skip }, () => {
  const graph = buildGraph(parseFlow(starter() as unknown as Record<string, unknown>));
  const loopId = [...graph.nodes.values()].find((n) => n.type === "LoopComponent")?.id ?? "";
  const body = graph.loops.get(loopId);
  assert.ok(body);
  const typeOf = (id: string) => graph.nodes.get(id)?.type;
  assert.deepEqual([...body.nodes].map(typeOf).sort(), ["LanguageModelComponent", "ParserComponent"]);
  assert.equal(typeOf(body.feedback.source), "LanguageModelComponent");
  assert.deepEqual(body.itemEdges.map((e) => [typeOf(e.target), e.targetHandle.fieldName]), [["ParserComponent", "input_data"]]);
  assert.deepEqual([...graph.insideLoops].map(typeOf).sort(), ["LanguageModelComponent", "ParserComponent"]);
  assert.ok(!(graph.incoming.get(loopId) ?? []).some((e) => e.loopOutput), "the feedback edge is no input of the loop");
});

test("Loop: a node outside the body reading one inside is refused at load, naming both", { skip }, () => {
  const raw = starter();
  const model = raw.data.nodes.find((n) => n.data.type === "LanguageModelComponent")?.id ?? "";
  const out = raw.data.nodes.find((n) => n.data.type === "ChatOutput")?.id ?? "";
  raw.data.edges = raw.data.edges.filter((e) => e.target !== out);
  raw.data.edges.push({ source: model, target: out, data: { sourceHandle: { dataType: "LanguageModelComponent", id: model, name: "text_output", output_types: ["Message"] }, targetHandle: { fieldName: "input_value", id: out, inputTypes: ["Message"], type: "str" } } });
  assert.throws(() => buildGraph(parseFlow(raw as unknown as Record<string, unknown>)), (err: unknown) => err instanceof UnprocessableFlowError && err.message.includes(out) && err.message.includes(model) && /inside a loop's body/.test(err.message));
});

test("Loop items and pass results convert as lfx's do", () => {
  assert.deepEqual(loopItems(new DataFrame([{ a: 1 }, { a: 2 }])).map((d) => d.data), [{ a: 1 }, { a: 2 }]);
  assert.deepEqual(loopItems(new Message({ text: "hi" })).map((d) => d.data), [{ text: "hi" }], "a Message becomes {text} only");
  assert.deepEqual(loopItems([new Data({ x: 1 }), new DataFrame([{ y: 2 }])]).map((d) => d.data), [{ x: 1 }, { y: 2 }]);
  assert.throws(() => loopItems("text"), /Data input must be a DataFrame/);
  assert.deepEqual(passResult(new Message({ text: "answer" })).data, { text: "answer" });
  assert.deepEqual(passResult(undefined).data, { text: "" });
  assert.deepEqual(passResult("plain").data, { text: "plain" });
});

test("Chat Output shows a DataFrame as lfx's safe_convert does (the text lfx 1.13.0 printed for these rows)", () => {
  const df = new DataFrame([{ a: 1, b: "x|y\n\nz", c: null, d: 1.5 }, { a: 22, b: "  ", c: null, d: 2 }]);
  assert.equal(df.toChatMarkdown(true), "|   a | b          | c   |   d |\n|----:|:-----------|:----|----:|\n|   1 | x\\|y<br/>z |     | 1.5 |\n|  22 |            |     | 2   |");
  assert.equal(df.toChatMarkdown(false), "|   a | b               | c   |   d |\n|----:|:----------------|:----|----:|\n|   1 | x\\|y<br/><br/>z |     | 1.5 |\n|  22 |                 |     | 2   |");
});
