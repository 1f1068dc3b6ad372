import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { prepareVersion } from "@flowplane/core";
import { fixturesDir, loadFixture } from "@flowplane/testkit";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

const FIXTURES = readdirSync(fixturesDir()).filter((f) => f.endsWith(".json")).map((f) => f.replace(/\.json$/, ""));

describe("Asset Library API", () => {
  let t: TestControlPlane;
  let p1: string;
  let p2: string;
  before(async () => {
    t = await startTestControlPlane();
    p1 = await t.project("team-a");
    p2 = await t.project("team-b");
  });
  after(() => t.close());

  const publish = (body: Record<string, unknown>, key?: string) =>
    t.call("POST", "/api/v1/bundles", { body: { accessLevel: "global", ...body }, ...(key ? { key } : {}) });

  it("publishes every Langflow fixture, with parameters, components and compatibility", async () => {
    assert.ok(FIXTURES.length >= 14);
    for (const name of FIXTURES) {
      const r = await publish({ name, versionTag: "1", flows: [loadFixture(name)] });
      assert.equal(r.status, 201, `${name}: ${r.text}`);
      assert.match(r.json.digest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(r.json.flows.length, 1);
      assert.ok(r.json.flows[0].components.length > 0);
      assert.equal(typeof r.json.compatibility.native.supported, "boolean");
    }
    const agent = await t.call("GET", "/api/v1/bundles/openrag-agent/versions/1");
    assert.deepEqual(agent.json.parameters.map((p: { name: string; kind: string }) => `${p.name}:${p.kind}`),
      ["JWT:credential", "OPENAI_API_KEY:credential", "OPENRAG-QUERY-FILTER:credential"]);
    assert.equal(agent.json.compatibility.native.supported, false);
    assert.ok(agent.json.compatibility.native.missing.some((m: { type: string }) => m.type === "MCP"));
  });

  it("publishes several flows as one bundle, deduplicating parameters", async () => {
    const r = await publish({ name: "chat-suite", versionTag: "2025-01", description: "two bots", flows: [loadFixture("memory-chatbot"), loadFixture("blog-writer")] });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.flows.length, 2);
    assert.equal(r.json.parameters.length, 1);
    assert.equal(r.json.parameters[0].usedBy.length, 2);
  });

  it("serves `latest` as the newest version and refuses it as a tag", async () => {
    const flows = [loadFixture("simple-api-test")];
    assert.equal((await publish({ name: "versioned", versionTag: "a", flows })).status, 201);
    assert.equal((await publish({ name: "versioned", versionTag: "b", flows })).status, 201);
    const latest = await t.call("GET", "/api/v1/bundles/versioned/versions/latest");
    assert.equal(latest.json.versionTag, "b");
    const refused = await publish({ name: "versioned", versionTag: "latest", flows });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error.code, "validation_failed");
    assert.match(refused.json.error.message, /reserved/);
    const dup = await publish({ name: "versioned", versionTag: "a", flows });
    assert.equal(dup.status, 409);
    const bundle = await t.call("GET", "/api/v1/bundles/versioned");
    assert.deepEqual(bundle.json.versions.map((v: { versionTag: string }) => v.versionTag), ["b", "a"]);
  });

  it("bounds names at 64 and tags at 128 characters", async () => {
    const flows = [loadFixture("simple-api-test")];
    assert.equal((await publish({ name: "n".repeat(64), versionTag: "t".repeat(128), flows })).status, 201);
    const longName = await publish({ name: "n".repeat(65), versionTag: "1", flows });
    assert.equal(longName.status, 400);
    assert.equal(longName.json.error.details[0].field, "name");
    const longTag = await publish({ name: "ok-name", versionTag: "t".repeat(129), flows });
    assert.equal(longTag.status, 400);
    assert.equal(longTag.json.error.details[0].field, "versionTag");
    assert.equal((await t.call("GET", "/api/v1/bundles/ok-name")).status, 404);
  });

  it("addresses every version tag and flow id it accepts: a 128-character tag and a 200-character flow id are read, drawn and deleted (Fastify's 100-character parameter bound answered them 400)", async () => {
    const tag = `t${"é".repeat(127)}`; // a parameter is measured decoded: 128 characters, 762 in the URL
    const flowId = "f".repeat(200);
    assert.equal((await publish({ name: "long-ids", versionTag: tag, flows: [{ ...loadFixture("simple-api-test"), id: flowId }] })).status, 201);
    const version = `/api/v1/bundles/long-ids/versions/${encodeURIComponent(tag)}`;
    const got = await t.call("GET", version);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.versionTag, tag);
    const graph = await t.call("GET", `${version}/flows/${flowId}/graph`);
    assert.equal(graph.status, 200, graph.text);
    assert.equal(graph.json.flowId, flowId);
    assert.equal((await t.call("DELETE", version)).status, 204);
    assert.equal((await t.call("GET", version)).status, 404);
  });

  it("refuses a flow id over 200 characters at publish, naming the flow and the field", async () => {
    const r = await publish({ name: "longer-id", versionTag: "1", flows: [{ ...loadFixture("simple-api-test"), id: "f".repeat(201) }] });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.error.code, "unprocessable_flow");
    assert.match(r.json.error.message, /id of 201 characters.*at most 200/);
    assert.deepEqual(r.json.error.details, [{ flowId: "f".repeat(201), field: "id" }]);
    assert.equal((await t.call("GET", "/api/v1/bundles/longer-id")).status, 404);
  });

  it("answers bad input with the right 4xx and a clear message, and stores nothing", async () => {
    const before = (await t.call("GET", "/api/v1/bundles?limit=200")).json.items.length;
    const malformed = await t.call("POST", "/api/v1/bundles", { payload: '{"name": "x",', headers: { "content-type": "application/json" } });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.error.code, "malformed_json");
    const wrongType = await publish({ name: 42, versionTag: "1", flows: [loadFixture("simple-api-test")] });
    assert.equal(wrongType.status, 400);
    assert.match(wrongType.json.error.message, /name/);
    const notFlow = await publish({ name: "not-a-flow", versionTag: "1", flows: [{ hello: "world" }] });
    assert.equal(notFlow.status, 422);
    assert.match(notFlow.json.error.message, /flows\[0\] is not a Langflow flow export/);
    const noFlows = await publish({ name: "empty", versionTag: "1", flows: [] });
    assert.equal(noFlows.status, 400);
    const projectNoList = await publish({ name: "p", versionTag: "1", accessLevel: "project", flows: [loadFixture("simple-api-test")] });
    assert.equal(projectNoList.status, 400);
    assert.equal(projectNoList.json.error.details[0].field, "allowedProjects");
    const unknownProject = await publish({ name: "p", versionTag: "1", accessLevel: "project", allowedProjects: ["nope"], flows: [loadFixture("simple-api-test")] });
    assert.equal(unknownProject.status, 400);
    // A list with global access was dropped without a word: shared with every project, where the publisher named one.
    const globalWithList = await publish({ name: "p", versionTag: "1", accessLevel: "global", allowedProjects: [p1], flows: [loadFixture("simple-api-test")] });
    assert.equal(globalWithList.status, 400, globalWithList.text);
    assert.equal(globalWithList.json.error.details[0].field, "allowedProjects");
    assert.match(globalWithList.json.error.details[0].message, /visible to every project.*"project" only/);
    const unknownDefault = await publish({ name: "p", versionTag: "1", flows: [loadFixture("simple-api-test")], defaults: { NOPE: "x" } });
    assert.equal(unknownDefault.status, 400);
    assert.equal(unknownDefault.json.error.details[0].field, "defaults.NOPE");
    const big = await t.call("POST", "/api/v1/bundles", { payload: JSON.stringify({ name: "big", versionTag: "1", flows: [{ pad: "x".repeat(11 * 1024 * 1024) }] }), headers: { "content-type": "application/json" } });
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, "payload_too_large");
    const after = (await t.call("GET", "/api/v1/bundles?limit=200")).json.items.length;
    assert.equal(after, before);
  });

  it("answers a publish over 1 MiB (prepared on a worker thread) as a small one", async () => {
    const rag = loadFixture("vector-store-rag");
    const copies = (n: number, id: (i: number) => string) => Array.from({ length: n }, (_, i) => ({ ...rag, id: id(i), name: `rag ${i}` }));
    const flows = copies(6, (i) => `large-${i}`);
    assert.ok(JSON.stringify(flows).length > 1024 * 1024);
    const r = await publish({ name: "large", versionTag: "1", flows });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.flows.length, 6);
    const graph = await t.call("GET", "/api/v1/bundles/large/versions/1/flows/large-5/graph");
    assert.equal(graph.status, 200, graph.text);
    const twice = await publish({ name: "large-dup", versionTag: "1", flows: copies(6, () => "same") });
    assert.equal(twice.status, 422);
    assert.equal(twice.json.error.code, "unprocessable_flow");
    assert.match(twice.json.error.message, /two flows of the bundle have the id "same"/);
    const unknownDefault = await publish({ name: "large-dup", versionTag: "1", flows, defaults: { NOPE: "x" } });
    assert.equal(unknownDefault.status, 400);
    assert.equal(unknownDefault.json.error.details[0].field, "defaults.NOPE");
    assert.equal((await t.call("GET", "/api/v1/bundles/large-dup")).status, 404);
  });

  it("draws one flow's graph by parsing that flow alone", async () => {
    // Written straight to the store: a version whose first flow today's parser refuses (as one
    // published under older rules may be). Its second flow's graph needs only the second flow.
    const version = prepareVersion({ name: "graph-one", versionTag: "1", accessLevel: "global", flows: [{ ...loadFixture("simple-api-test"), id: "first" }, { ...loadFixture("simple-chat-no-llm"), id: "second" }] }, "org-owner");
    await t.store.insertVersion({ ...version, rawFlows: [{ name: "no longer a flow" }, version.rawFlows[1]] });
    // Nor is every raw flow read from the store: the whole column (up to 10 MiB) was decoded on
    // the control plane's thread at each call, for the one flow drawn.
    const every = t.store.getRawFlows;
    t.store.getRawFlows = () => Promise.reject(new Error("the graph read the version's every raw flow"));
    try {
      const second = await t.call("GET", "/api/v1/bundles/graph-one/versions/1/flows/second/graph");
      assert.equal(second.status, 200, second.text);
      assert.ok(second.json.nodes.length > 0);
      assert.equal((await t.call("GET", "/api/v1/bundles/graph-one/versions/1/flows/third/graph")).status, 404);
    } finally {
      t.store.getRawFlows = every;
    }
  });

  it("refuses a hard-coded secret with 422 naming flow, node and field, storing nothing", async () => {
    const flow = loadFixture("env-variable-test");
    type RawNode = { id: string; data: { node: { template: Record<string, { value: unknown }> } } };
    const secretNode = (flow.data as { nodes: RawNode[] }).nodes.find((n) => n.id === "Secret-zIbKs")!;
    secretNode.data.node.template.secret_key_input!.value = "hunter2-literal";
    const r = await publish({ name: "leaky", versionTag: "1", flows: [flow] });
    assert.equal(r.status, 422);
    assert.equal(r.json.error.code, "unprocessable_flow");
    assert.match(r.json.error.message, /Secret-zIbKs.*secret_key_input/);
    assert.doesNotMatch(r.text, /hunter2-literal/);
    assert.deepEqual(r.json.error.details, [{ flowId: "a7003613-8243-4f71-800c-6be1c4065518", nodeId: "Secret-zIbKs", field: "secret_key_input" }]);
    assert.equal((await t.call("GET", "/api/v1/bundles/leaky")).status, 404);
  });

  // Issue #12.3: flows no engine could run are refused at publish, naming flow and node.
  it("refuses a cycle, a self-loop, an empty flow and a node without data with 422 naming flow and node", async () => {
    const node = (id: string) => ({ id, data: { type: "TextInput", node: { template: {} } } });
    const edge = (source: string, target: string) => ({ source, target, data: { sourceHandle: { dataType: "TextInput", id: source, name: "text", output_types: ["Message"] }, targetHandle: { fieldName: "input_value", id: target, inputTypes: ["Message"], type: "str" } } });
    const cases: [unknown, RegExp][] = [
      [{ name: "Cyc", data: { nodes: [node("A"), node("B")], edges: [edge("A", "B"), edge("B", "A")] } }, /flows\[0\] \("Cyc"\) has a cycle: A -> B -> A/],
      [{ name: "Self", data: { nodes: [node("A")], edges: [edge("A", "A")] } }, /node "A" is connected to itself/],
      [{ name: "Empty", data: { nodes: [], edges: [] } }, /\("Empty"\) has no component to run/],
      [{ name: "NoData", data: { nodes: [{ id: "A" }], edges: [] } }, /node "A"\) has no "data" object/],
      [{ name: "StrTemplate", data: { nodes: [{ id: "A", data: { type: "TextInput", node: { template: "x" } } }], edges: [] } }, /node "A", TextInput\) has no "data\.node\.template" object/],
    ];
    for (const [i, [flow, message]] of cases.entries()) {
      const r = await publish({ name: `cannot-run-${i}`, versionTag: "1", flows: [flow] });
      assert.equal(r.status, 422, r.text);
      assert.match(r.json.error.message, message);
      assert.equal((await t.call("GET", `/api/v1/bundles/cannot-run-${i}`)).status, 404);
    }
  });

  it("answers warnings naming node and field, and a provider's key as a credential, for a Langflow 1.13 model node", async () => {
    const agent = (id: string, model: unknown) => ({ id, data: { type: "Agent", node: { display_name: "Agent", template: { model: { _input_type: "ModelInput", value: model }, api_key: { _input_type: "SecretStrInput", password: true, load_from_db: true, value: "" } } } } });
    const r = await publish({ name: "lf113", versionTag: "1", flows: [{ id: "f-113", name: "F", data: { nodes: [agent("Agent-a", [{ name: "gpt-4o-mini", provider: "OpenAI" }]), agent("Agent-b", "")], edges: [] } }] });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json.parameters.map((p: { name: string; kind: string; usedBy: { nodeId: string; field: string }[] }) => `${p.name}:${p.kind}:${p.usedBy.map((u) => `${u.nodeId}.${u.field}`).join(",")}`),
      ["OPENAI_API_KEY:credential:Agent-a.api_key", "MODEL_AGENT_B:model:Agent-b.model"]);
    assert.deepEqual(r.json.warnings.map((w: { code: string; nodeId: string; field: string }) => `${w.code}:${w.nodeId}.${w.field}`), ["no_model_selected:Agent-b.model"]);
    const again = await t.call("GET", "/api/v1/bundles/lf113/versions/1");
    assert.deepEqual(again.json.warnings, r.json.warnings, "stored with the version");
  });

  it("strips a default sent for a credential and keeps plain defaults", async () => {
    const flow = { id: "pf", name: "pf", data: { nodes: [{ id: "T", data: { type: "TextInput", node: { template: {
      key: { load_from_db: true, value: "API_KEY", _input_type: "SecretStrInput" }, mode: { load_from_db: true, value: "MODE" } } } } }], edges: [] } };
    const r = await publish({ name: "defaults", versionTag: "1", flows: [flow], defaults: { API_KEY: "should-vanish", MODE: "fast" } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json.parameters.map((p: { name: string; default?: string }) => [p.name, p.default]), [["API_KEY", undefined], ["MODE", "fast"]]);
    assert.doesNotMatch(JSON.stringify((await t.call("GET", "/api/v1/bundles/defaults/versions/1")).json), /should-vanish/);
  });

  it("shows project bundles only to their projects, on the server", async () => {
    const a = await t.user("alice", { [p1]: "editor" });
    const b = await t.user("bob", { [p2]: "viewer" });
    const r = await publish({ name: "team-a-only", versionTag: "1", accessLevel: "project", allowedProjects: [p1], flows: [loadFixture("simple-api-test")] }, a.key);
    assert.equal(r.status, 201, r.text);
    const names = async (key: string) => {
      const out: string[] = [];
      let cursor = "";
      for (let i = 0; i < 50; i++) {
        const page = await t.call("GET", `/api/v1/bundles?limit=5${cursor ? `&cursor=${cursor}` : ""}`, { key });
        out.push(...page.json.items.map((x: { name: string }) => x.name));
        if (!page.json.nextCursor) break;
        cursor = page.json.nextCursor;
      }
      return out;
    };
    assert.ok((await names(a.key)).includes("team-a-only"));
    const bobSees = await names(b.key);
    assert.ok(!bobSees.includes("team-a-only"));
    assert.ok(bobSees.includes("versioned"), "global bundles are visible to everyone");
    assert.equal((await t.call("GET", "/api/v1/bundles/team-a-only", { key: b.key })).status, 404);
    assert.equal((await t.call("GET", "/api/v1/bundles/team-a-only/versions/latest", { key: b.key })).status, 404);
    // Its flow's graph too: the version's visibility rules it.
    const flowId = r.json.flows[0].id;
    assert.equal((await t.call("GET", `/api/v1/bundles/team-a-only/versions/1/flows/${flowId}/graph`, { key: a.key })).status, 200);
    assert.equal((await t.call("GET", `/api/v1/bundles/team-a-only/versions/1/flows/${flowId}/graph`, { key: b.key })).status, 404);
  });

  it("draws a version's flow as a graph: components, positions and edges; 404 for another flow id", async () => {
    const r = await t.call("GET", "/api/v1/bundles/chat-suite/versions/2025-01");
    const [chat, blog] = r.json.flows as { id: string; name: string; components: string[] }[];
    const g = await t.call("GET", `/api/v1/bundles/chat-suite/versions/latest/flows/${blog!.id}/graph`);
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.flowId, blog!.id);
    assert.equal(g.json.name, blog!.name);
    assert.deepEqual([...new Set(g.json.nodes.map((n: { type: string }) => n.type))].sort(), blog!.components, "the components the version lists");
    assert.ok(g.json.edges.length > 0 && g.json.edges.every((e: { source: string; target: string }) => g.json.nodes.some((n: { id: string }) => n.id === e.source) && g.json.nodes.some((n: { id: string }) => n.id === e.target)));
    assert.notEqual((await t.call("GET", `/api/v1/bundles/chat-suite/versions/2025-01/flows/${chat!.id}/graph`)).json.flowId, blog!.id);
    const missing = await t.call("GET", "/api/v1/bundles/chat-suite/versions/2025-01/flows/no-such-flow/graph");
    assert.equal(missing.status, 404);
    assert.match(missing.json.error.message, /no-such-flow is not in chat-suite@2025-01/);
  });

  it("edits only description, access and plain defaults; deletes a version", async () => {
    const ok = await t.call("PATCH", "/api/v1/bundles/defaults/versions/1", { body: { description: "now described", defaults: { MODE: "slow" } } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.description, "now described");
    assert.equal(ok.json.parameters.find((p: { name: string }) => p.name === "MODE").default, "slow");
    const flows = await t.call("PATCH", "/api/v1/bundles/defaults/versions/1", { body: { flows: [] } });
    assert.equal(flows.status, 400);
    const cred = await t.call("PATCH", "/api/v1/bundles/defaults/versions/1", { body: { defaults: { API_KEY: "x" } } });
    assert.equal(cred.status, 400);
    assert.match(cred.json.error.message, /credential/);
    // A global version given a list alone, or made global with one: refused, nothing changed.
    const before = (await t.call("GET", "/api/v1/bundles/defaults/versions/1")).json;
    assert.equal(before.accessLevel, "global");
    const listOnGlobal = await t.call("PATCH", "/api/v1/bundles/defaults/versions/1", { body: { allowedProjects: [p2] } });
    assert.equal(listOnGlobal.status, 400, listOnGlobal.text);
    assert.equal(listOnGlobal.json.error.details[0].field, "allowedProjects");
    const toProject = await t.call("PATCH", "/api/v1/bundles/defaults/versions/1", { body: { accessLevel: "project", allowedProjects: [p2] } });
    assert.equal(toProject.json.accessLevel, "project");
    assert.deepEqual(toProject.json.allowedProjects, [p2]);
    const globalWithList = await t.call("PATCH", "/api/v1/bundles/defaults/versions/1", { body: { accessLevel: "global", allowedProjects: [p2] } });
    assert.equal(globalWithList.status, 400, globalWithList.text);
    assert.deepEqual((await t.call("GET", "/api/v1/bundles/defaults/versions/1")).json.allowedProjects, [p2], "unchanged");
    const toGlobal = await t.call("PATCH", "/api/v1/bundles/defaults/versions/1", { body: { accessLevel: "global", allowedProjects: [] } });
    assert.equal(toGlobal.status, 200, toGlobal.text);
    assert.deepEqual(toGlobal.json.allowedProjects, []);
    assert.equal((await t.call("PATCH", "/api/v1/bundles/defaults/versions/1", { body: { accessLevel: "project", allowedProjects: [p2] } })).status, 200);
    assert.equal((await t.call("DELETE", "/api/v1/bundles/versioned/versions/a")).status, 204);
    assert.equal((await t.call("GET", "/api/v1/bundles/versioned/versions/a")).status, 404);
    assert.equal((await t.call("GET", "/api/v1/bundles/versioned/versions/latest")).json.versionTag, "b");
  });
});
