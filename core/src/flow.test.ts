import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readdirSync } from "node:fs";
import { fixturesDir, loadFixture, loadStarters } from "@flowplane/testkit";
import { UnprocessableFlowError } from "./errors.js";
import { bundleDigest, canonicalJson, componentTypes, decodeHandle, edgesFrom, edgesInto, parseFlow } from "./flow.js";
import { prepareVersion } from "./bundle.js";

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
    assert.throws(() => parseFlow({ data: { nodes: [node("A")], edges: [{ source: "A", target: "B", data: { sourceHandle: {}, targetHandle: { fieldName: "x" } } }] } }),
      /refers to node "B"/);
    assert.throws(() => parseFlow({ data: { nodes: [node("A"), node("A")], edges: [] } }), /two nodes with id "A"/);
  });

  // Issue #12.3: accepted once although no engine could run them.
  it("refuses flows that cannot run, naming flow and node", () => {
    const refuse = (raw: unknown, pattern: RegExp) => assert.throws(() => parseFlow(raw, "flows[0]"), (e: unknown) => e instanceof UnprocessableFlowError && pattern.test(e.message));
    refuse({ name: "empty", data: { nodes: [], edges: [] } }, /flows\[0\] \("empty"\) has no component to run: its "nodes" is empty/);
    refuse({ data: { nodes: [{ id: "A" }], edges: [] } }, /flows\[0\]\.nodes\[0\] \(node "A"\) has no "data" object/);
    refuse({ data: { nodes: [{ id: "A", data: { type: "TextInput", node: { template: "x" } } }], edges: [] } }, /node "A", TextInput\) has no "data\.node\.template" object/);
    refuse({ name: "self", data: { nodes: [node("A")], edges: [edge("A", "A")] } }, /node "A" is connected to itself/);
    refuse({ name: "cyc", data: { nodes: [node("A"), node("B"), node("C")], edges: [edge("A", "B"), edge("B", "C"), edge("C", "A")] } }, /\("cyc"\) has a cycle: A -> B -> C -> A/);
    assert.equal(parseFlow({ data: { nodes: [node("A"), node("B"), node("C")], edges: [edge("A", "B"), edge("B", "C"), edge("A", "C")] } }).edges.length, 3, "a diamond is no cycle");
  });

  it("checks a long chain for cycles without overflowing the stack (a recursive walk answered a 9 MB publish with 500)", () => {
    const n = 100_000;
    const nodes = Array.from({ length: n }, (_, i) => node(`N${i}`));
    const chain = Array.from({ length: n - 1 }, (_, i) => edge(`N${i}`, `N${i + 1}`));
    assert.equal(parseFlow({ data: { nodes, edges: chain } }).edges.length, n - 1);
    assert.throws(() => parseFlow({ name: "ring", data: { nodes, edges: [...chain, edge(`N${n - 1}`, "N0")] } }), (e: unknown) => e instanceof UnprocessableFlowError && /\("ring"\) has a cycle: N0 -> N1 -> .* -> N99999 -> N0\./.test(e.message));
  });

  it("indexes edges by target and source in export order, and a publish of a 30,000-node chain is not quadratic (10-16 s of the control plane's event loop)", () => {
    const f = parseFlow({ data: { nodes: [node("A"), node("B"), node("C")], edges: [edge("A", "C"), edge("B", "C"), edge("A", "B")] } });
    assert.deepEqual(edgesInto(f, "C").map((e) => e.source), ["A", "B"]);
    assert.deepEqual(edgesFrom(f, "A").map((e) => e.target), ["C", "B"]);
    assert.deepEqual(edgesInto(f, "A"), []);
    const n = 30_000;
    const nodes = Array.from({ length: n }, (_, i) => node(`N${i}`));
    const edges = Array.from({ length: n - 1 }, (_, i) => edge(`N${i}`, `N${i + 1}`));
    const started = Date.now();
    prepareVersion({ name: "big", versionTag: "v1", accessLevel: "global", flows: [{ name: "big", data: { nodes, edges } }] }, "u");
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });

  it("accepts a Loop component's feedback edge (an edge into an output that allows a loop), and no other cycle through it", () => {
    const loop = { id: "Loop", data: { type: "LoopComponent", node: { template: {}, outputs: [{ name: "item", types: ["Data"], allows_loop: true }, { name: "done", types: ["Data"] }] } } };
    const feedback = { source: "Body", target: "Loop", data: { sourceHandle: { dataType: "X", id: "Body", name: "out", output_types: ["Message"] }, targetHandle: { dataType: "LoopComponent", id: "Loop", name: "item", output_types: ["Data"] } } };
    const f = parseFlow({ data: { nodes: [loop, node("Body")], edges: [edge("Loop", "Body"), feedback] } });
    assert.equal(f.edges[1]?.loopOutput, "item");
    assert.equal(f.edges[1]?.targetHandle.fieldName, "");
    const noLoop = structuredClone(loop);
    noLoop.data.node.outputs[0]!.allows_loop = false;
    assert.throws(() => parseFlow({ data: { nodes: [noLoop, node("Body")], edges: [edge("Loop", "Body"), feedback] } }), /no readable source\/target handle/);
  });
});

function node(id: string) {
  return { id, data: { type: "TextInput", node: { template: {} } } };
}
function edge(source: string, target: string) {
  return { source, target, data: { sourceHandle: { dataType: "TextInput", id: source, name: "text", output_types: ["Message"] }, targetHandle: { fieldName: "input_value", id: target, inputTypes: ["Message"], type: "str" } } };
}

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

/** Canonical JSON's definition, member by member, as the digests of stored bundle versions were made. */
function byDefinition(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => byDefinition(v ?? null)).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${byDefinition(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

describe("canonicalJson (JSON.stringify with sorted members)", () => {
  it("writes the same bytes as the definition for every fixture and starter export, so stored digests still match", () => {
    const exports = [
      ...readdirSync(fixturesDir()).filter((f) => f.endsWith(".json")).map((f) => loadFixture(f.replace(/\.json$/, ""))),
      ...loadStarters().map((s) => s.raw),
    ];
    assert.ok(exports.length > 5);
    for (const e of exports) assert.equal(canonicalJson(e), byDefinition(e));
    assert.equal(canonicalJson(exports), byDefinition(exports));
  });

  it("keeps the definition where an object or JSON.stringify would not: index keys, __proto__, undefined, toJSON, boxed values, functions", () => {
    const cases: unknown[] = [
      { b: 1, 10: 2, 2: 3, a: 4 }, // objects enumerate index keys first, numerically: "10" < "2" by code units
      { 0: "x", 1: "y", z: 1 }, // index keys already in order: written as is
      JSON.parse('{"z": 1, "__proto__": {"b": 2, "a": 1}, "a": [3, {"y": 1, "x": 2}]}'),
      { b: undefined, a: [undefined, 1], c: null },
      [undefined],
      undefined,
      { when: new Date(0), b: 1, a: 2 },
      { s: new String("boxed"), n: new Number(1) },
      { f: () => 1, a: 1 },
      { "\u00e9": 1, Z: 2, z: 3, "": 4, "\ud83d\ude00": 5, "\uffff": 6 },
      [NaN, Infinity, -0, 1e21, "\u2028"],
      { nested: { deep: { c: 1, b: [{ y: 1, x: 0 }], a: "" } } },
    ];
    for (const c of cases) assert.equal(canonicalJson(c), byDefinition(c), JSON.stringify(c));
    assert.equal(canonicalJson({ b: 1, 10: 2, 2: 3, a: 4 }), '{"10":2,"2":3,"a":4,"b":1}');
    assert.equal(canonicalJson(JSON.parse('{"b":1,"__proto__":{"y":1,"x":2}}')), '{"__proto__":{"x":2,"y":1},"b":1}');
  });
});

/**
 * The run API names a flow by its id or its endpoint name (`/api/v1/run/{id or endpoint name}`),
 * the id first. Two flows of a bundle with one endpoint name, or one flow's endpoint name equal to
 * another flow's id, left one of them unreachable by that name (the other ran instead, without a
 * word); Langflow keeps endpoint names unique too.
 */
describe("endpoint names in a bundle", () => {
  const flow = (id: string, endpoint_name?: string) => ({ ...loadFixture("simple-chat-no-llm"), id, name: id, ...(endpoint_name !== undefined ? { endpoint_name } : {}) });
  const publish = (flows: unknown[]) => prepareVersion({ name: "b", versionTag: "1", accessLevel: "global", flows }, "u");

  it("refuses two flows with one endpoint name, naming both (422)", () => {
    assert.throws(() => publish([flow("f1", "support"), flow("f2", "support")]), (e: unknown) => {
      assert.ok(e instanceof UnprocessableFlowError);
      assert.match(e.message, /endpoint name "support"/);
      assert.match(e.message, /f1/);
      assert.match(e.message, /f2/);
      return true;
    });
  });

  it("refuses an endpoint name that is another flow's id", () => {
    assert.throws(() => publish([flow("f1"), flow("f2", "f1")]), UnprocessableFlowError);
  });

  it("refuses an id or endpoint name with a '.' or '..' path segment, which no URL can carry (422 naming the field)", () => {
    for (const [id, endpoint] of [["..", undefined], [".", undefined], ["a/..", undefined], ["..\\b", undefined], ["f1", ".."], ["f1", "x/./y"]] as const) {
      assert.throws(() => publish([flow(id, endpoint)]), (e: unknown) => {
        assert.ok(e instanceof UnprocessableFlowError, `${id} ${endpoint}`);
        assert.match(e.message, endpoint === undefined ? /has the id/ : /has the endpoint name/);
        return true;
      });
    }
    // Dots inside a segment are fine: only whole "." and ".." segments are dot segments.
    assert.equal(publish([flow("v1.2", "a..b"), flow("..x")]).flows.length, 2);
  });

  it("refuses an id or endpoint name holding a control character or a bidirectional override (422 naming the field), as shown names are", () => {
    for (const [id, endpoint] of [["\u202e", undefined], ["abc\u202edef", undefined], ["f1\n", undefined], ["f\u001b]0;x", undefined], ["f1", "run\u2066x"], ["f1", "a\tb"]] as const) {
      assert.throws(() => publish([flow(id, endpoint)]), (e: unknown) => {
        assert.ok(e instanceof UnprocessableFlowError, JSON.stringify([id, endpoint]));
        assert.match(e.message, endpoint === undefined ? /has an id holding/ : /has an endpoint name holding/);
        return true;
      });
    }
    // Other Unicode is fine: Langflow's ids are UUIDs, but names in other scripts are kept.
    assert.equal(publish([flow("é-ü-流")]).flows.length, 1);
  });

  it("refuses a flow name holding a control character or a bidirectional override, naming the flow by its id only", () => {
    for (const name of ["Support \u202egnitset", "two\nlines", "a\u2067b", "bell\u0007"]) {
      assert.throws(() => publish([{ ...flow("f-1"), name }]), (e: unknown) => {
        assert.ok(e instanceof UnprocessableFlowError, JSON.stringify(name));
        assert.match(e.message, /^the flow with id f-1 has a name holding a control character or a bidirectional override/);
        assert.ok(!/[\u0000-\u001f\u202a-\u202e\u2066-\u2069]/.test(e.message), "the message holds none of it");
        assert.deepEqual(e.details, [{ flowId: "f-1", field: "name" }]);
        return true;
      });
    }
    assert.equal(publish([{ ...flow("f-1"), name: "Résumé : outil 流 🚀" }]).flows.length, 1, "other names are fine");
  });

  it("accepts distinct endpoint names, none at all, and a flow's own id as its endpoint name", () => {
    assert.equal(publish([flow("f1", "a"), flow("f2", "b"), flow("f3"), flow("f4", "None"), flow("f5", "None"), flow("f6", "f6")]).flows.length, 6);
  });
});
