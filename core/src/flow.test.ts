import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { UnprocessableFlowError } from "./errors.js";
import { bundleDigest, canonicalJson, componentTypes, decodeHandle, parseFlow } from "./flow.js";

describe("parseFlow", () => {
  it("reads an editor export ({data: {nodes, edges}}) with edges from edge.data handles", () => {
    const f = parseFlow(loadFixture("simple-api-test"));
    assert.equal(f.id, "1e3eea9b-d466-4fba-b0d9-08901143df3e");
    assert.equal(f.name, "Simple API Test");
    assert.deepEqual(componentTypes(f), ["ChatInput", "ChatOutput", "TextInput"]);
    const e = f.edges.find((x) => x.source === "TextInput-eFiZp");
    assert.deepEqual(e?.targetHandle, { fieldName: "sender_name", id: "ChatOutput-J6aor", inputTypes: ["Message"], type: "str" });
    assert.deepEqual(e?.sourceHandle.output_types, ["Message"]);
  });

  it("reads a bare {nodes, edges} export the same way", () => {
    const raw = loadFixture("simple-api-test");
    const bare = { ...raw, ...(raw.data as object) };
    delete (bare as Record<string, unknown>).data;
    const a = parseFlow(raw);
    const b = parseFlow(bare);
    assert.deepEqual(b.edges, a.edges);
    assert.deepEqual(b.nodes.map((n) => n.id), a.nodes.map((n) => n.id));
  });

  it("decodes the œ handle strings only when edge.data lacks the handles", () => {
    const raw = loadFixture("simple-api-test");
    const edges = (raw.data as { edges: Record<string, unknown>[] }).edges;
    for (const e of edges) delete e.data;
    const f = parseFlow(raw);
    assert.deepEqual(f.edges, parseFlow(loadFixture("simple-api-test")).edges.map((e) => ({ ...e })));
    assert.equal(decodeHandle("{œfieldNameœ:œxœ}")?.fieldName, "x");
    assert.equal(decodeHandle("not a handle"), null);
  });

  it("skips notes, marks edited code, and derives a stable id for exports without one", () => {
    const f = parseFlow(loadFixture("basic-prompting"));
    assert.ok(f.nodes.some((n) => n.isNote));
    assert.ok(!componentTypes(f).includes("note") && !componentTypes(f).includes("noteNode"));
    const noId = loadFixture("simple-chat-no-llm");
    const a = parseFlow(noId);
    assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(parseFlow(loadFixture("simple-chat-no-llm")).id, a.id);
    assert.equal(a.endpointName, null, 'the string "None" is no endpoint name');
    assert.equal(parseFlow(loadFixture("webhook-test")).endpointName, "webhook-test");
  });

  it("refuses JSON that is not a flow export, saying what is missing", () => {
    assert.throws(() => parseFlow([1, 2]), UnprocessableFlowError);
    assert.throws(() => parseFlow({ hello: "world" }, "flows[1]"), /flows\[1\] is not a Langflow flow export: expected "data.nodes"/);
    assert.throws(() => parseFlow({ data: { nodes: [{ id: "A" }], edges: [{ source: "A", target: "B", data: { sourceHandle: {}, targetHandle: { fieldName: "x" } } }] } }),
      /refers to node "B"/);
    assert.throws(() => parseFlow({ data: { nodes: [{ id: "A" }, { id: "A" }], edges: [] } }), /two nodes with id "A"/);
  });
});

describe("bundle digest", () => {
  it("ignores key order and formatting, and changes with content", () => {
    const a = { b: 1, a: [1, { d: 2, c: "x" }] };
    const b = JSON.parse('{"a":[1,{"c":"x","d":2}],  "b":1}');
    assert.equal(canonicalJson(a), canonicalJson(b));
    assert.equal(bundleDigest([a]), bundleDigest([b]));
    assert.notEqual(bundleDigest([a]), bundleDigest([{ ...a, b: 2 }]));
    assert.notEqual(bundleDigest([a, b]), bundleDigest([a]));
    assert.match(bundleDigest([a]), /^sha256:[0-9a-f]{64}$/);
  });
});
