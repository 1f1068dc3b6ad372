import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modelSelections, parseFlow, type Flow } from "@flowplane/core";
import { findLfxBin, LFX_VERSION, lfxSkipReason } from "@flowplane/engine-lfx";
import { outsideServices } from "./conformance/starters.js";
import { fakeDigest, lfxRunOnce, loadStarters, replicaPidsOf, repoRoot, startersSkipReason, startFakeOpenAI, startServer, type FakeOpenAI, type ServerProcess } from "@flowplane/testkit";

// Issue #14's yardstick: the 27 starter projects Langflow 1.13.0 ships, as a Langflow user
// exports them today, through the real flowplane server (publish, deploy, gateway).
// - F1: all publish unchanged; every LLM node's provider key is a credential (or its model a
//   deploy-time choice whose provider's key deploy then requires); every warning names node and field.
// - F3: the starters that need no outside service run on lfx through the gateway, with a model
//   chosen at deploy time and the key given, against the fake OpenAI server (digest answers).
// - the publish-time lfx verdict matches load time: one deployment of every starter the report
//   accepts must come up Ready (lfx loaded them all); the others are refused at deploy, and the
//   real lfx, given each of those exports, fails to run it.
// One lfx process for the whole suite (one deployment, one replica): lfx takes ~1 s per flow to load.
const skip = lfxSkipReason(process.env) || startersSkipReason();
const KEY = "sk-starters-key";
const MODEL = "OpenAI/gpt-4o-mini";

/**
 * "Research Translation Loop" with its arXiv search replaced by the chat input (the Loop takes a
 * Message as its list), and its parser reading that message: the Loop component's feedback edge
 * (the model's answer back into the Loop's `item` output) run on lfx with nothing outside.
 */
function localLoop(raw: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(raw) as { id: string; name: string; data: { nodes: { id: string; data: { type?: string; node?: { template?: Record<string, { value?: unknown }> } } }[]; edges: { id?: string; source: string; target: string; data: Record<string, unknown> }[] } };
  const byType = (t: string) => copy.data.nodes.find((n) => n.data.type === t)?.id ?? "";
  const [arxiv, chat, loop] = [byType("ArXivComponent"), byType("ChatInput"), byType("LoopComponent")];
  copy.data.nodes = copy.data.nodes.filter((n) => n.id !== arxiv);
  copy.data.edges = copy.data.edges.flatMap((e) => {
    if (e.source !== arxiv && e.target !== arxiv) return [e];
    if (e.target !== loop) return [];
    const sourceHandle = { dataType: "ChatInput", id: chat, name: "message", output_types: ["Message"] };
    return [{ ...e, id: "edge-chat-to-loop", source: chat, sourceHandle: JSON.stringify(sourceHandle).replaceAll('"', "œ"), data: { ...e.data, sourceHandle } }];
  });
  const parser = copy.data.nodes.find((n) => n.data.type === "ParserComponent");
  if (parser?.data.node?.template?.pattern) parser.data.node.template.pattern.value = "Item: {text}";
  return { ...copy, id: "5d1c3c2e-6f0a-4b8e-9a57-3f1f2a0b7c11", name: "Research Translation Loop (chat input)" };
}

let fake: FakeOpenAI;
let server: ServerProcess;
let dir: string | undefined;
let admin: string;
let project: string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers are checked field by field below
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const r = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { "x-access-key": admin, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined, text };
}

before(async () => {
  if (skip) return;
  fake = await startFakeOpenAI({ digest: true });
  dir = mkdtempSync(join(tmpdir(), "fp-starters-"));
  server = await startServer(dir, {
    // Its replicas (and their lfx) go with it: nothing of this suite outlives it.
    FLOWPLANE_STOP_RUNTIMES_ON_EXIT: "true",
    // The model server is on loopback: the operator allows it (lfx would otherwise rewrite and block it).
    FLOWPLANE_MODEL_HOSTS: "127.0.0.1",
    // Langflow's OpenAI base-URL setting, for every replica (the starters' model nodes have no field for it).
    FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_BASE_URL",
    OPENAI_BASE_URL: fake.baseUrl,
    FLOWPLANE_RESYNC_SECONDS: "2",
    ...(process.env.FLOWPLANE_LFX_BIN ? { FLOWPLANE_LFX_BIN: process.env.FLOWPLANE_LFX_BIN } : {}),
  });
  admin = readFileSync(join(dir, "admin.key"), "utf8").trim();
  project = (await api("POST", "/projects", { name: "starters" })).json.id;
});
after(async () => {
  if (skip) return;
  await server?.stop().catch(() => undefined);
  // Should a replica have outlived its server all the same, it is ended by pid.
  for (const pid of dir ? await replicaPidsOf(dir) : []) process.kill(pid, "SIGKILL");
  await fake?.close();
});

interface StarterReport {
  name: string;
  published: boolean;
  llmNodes: number;
  llmNodesWithKey: number;
  warnings: number;
  warningsNamingNodeAndField: number;
  lfxVerdict: boolean | null;
  lfxReason?: string;
  loadTime?: boolean;
  /** For a starter the report refuses on lfx: what the real lfx said when it ran the export. */
  lfxItself?: string;
  outside: string[];
  ran?: "ok" | string;
}

test("Langflow 1.13 starter projects: publish unchanged, deploy on lfx with a model chosen, run through the gateway", { skip, timeout: 900_000 }, async () => {
  const starters = loadStarters();
  const reports: StarterReport[] = [];
  const flows = new Map<string, Flow>();

  // F1: each starter published unchanged, on its own.
  for (const [i, { name, raw }] of starters.entries()) {
    const flow = parseFlow(raw);
    flows.set(name, flow);
    const r = await api("POST", "/bundles", { name: `starter-${i}`, versionTag: "v1", accessLevel: "global", flows: [raw] });
    const v = r.json;
    const report: StarterReport = { name, published: r.status === 201, llmNodes: 0, llmNodesWithKey: 0, warnings: 0, warningsNamingNodeAndField: 0, lfxVerdict: null, outside: outsideServices(flow) };
    reports.push(report);
    if (r.status !== 201) {
      report.lfxReason = r.text.slice(0, 200);
      continue;
    }
    for (const node of flow.nodes.filter((n) => !n.isNote)) {
      const connected = new Set(flow.edges.filter((e) => e.target === node.id).map((e) => e.targetHandle.fieldName));
      for (const sel of modelSelections(node, connected)) {
        report.llmNodes++;
        const uses = (v.parameters as { name: string; kind: string; usedBy: { nodeId: string }[] }[]).filter((p) => p.usedBy.some((u) => u.nodeId === node.id));
        if (uses.some((p) => p.kind === "credential" || (sel.provider === null && p.kind === "model"))) report.llmNodesWithKey++;
      }
    }
    report.warnings = v.warnings.length;
    report.warningsNamingNodeAndField = (v.warnings as { nodeId: string; field: string; message: string }[])
      .filter((w) => flow.nodes.some((n) => n.id === w.nodeId && w.field in n.template) && w.message.includes(w.nodeId) && w.message.includes(w.field)).length;
    report.lfxVerdict = v.compatibility.lfx.supported;
    if (!v.compatibility.lfx.supported) report.lfxReason = (v.compatibility.lfx.missing as { type: string; detail: string }[]).map((m) => `${m.type}: ${m.detail}`).join("; ");
  }

  // The starters the report refuses on lfx are refused at deploy, naming why; that refusal comes
  // from the report itself, so their load-time verdict is lfx's own: the pinned lfx runs each
  // export once and must fail (for the reason the report names: starters-refused.test.ts).
  const lfxBin = findLfxBin(process.env.FLOWPLANE_LFX_BIN);
  assert.ok(lfxBin, "lfx is installed");
  for (const [i, rep] of reports.entries()) {
    if (rep.lfxVerdict !== false) continue;
    const r = await api("POST", `/projects/${project}/deployments?dryRun=true&step=configure`, { displayName: `s${i}`, bundle: { name: `starter-${i}`, version: "v1" }, networkAccess: "public", runtime: { engine: "lfx" } });
    assert.ok(r.status === 200 && r.json.valid === false && JSON.stringify(r.json.errors).includes("lfx cannot run"), `${rep.name}: deploy on lfx is refused, naming why: ${r.text.slice(0, 300)}`);
    const run = await lfxRunOnce(lfxBin, starters[i]!.raw);
    rep.loadTime = run.success;
    rep.lfxItself = run.success ? "ran" : run.message.replace(/\s+/g, " ").slice(0, 160);
  }

  // One bundle of every starter the report accepts on lfx, published unchanged; one deployment.
  const accepted = reports.filter((r) => r.lfxVerdict === true);
  const loopStarter = starters.find((st) => st.name === "Research Translation Loop");
  assert.ok(loopStarter, "the Loop starter is among them");
  const loopFlow = localLoop(loopStarter.raw);
  const bundle = await api("POST", "/bundles", { name: "starters", versionTag: "v1", accessLevel: "global", flows: [...starters.filter((st) => accepted.some((r) => r.name === st.name)).map((st) => st.raw), loopFlow] });
  assert.equal(bundle.status, 201, bundle.text);
  const params = bundle.json.parameters as { name: string; kind: string }[];
  const parameters = Object.fromEntries(params.filter((p) => p.kind === "model").map((p) => [p.name, MODEL]));
  const credentials: Record<string, string> = { OPENAI_API_KEY: KEY };
  for (const p of params) if (p.kind === "credential") credentials[p.name] ??= `unused-${p.name.toLowerCase()}`;
  const dep = await api("POST", `/projects/${project}/deployments`, { displayName: "Starters", bundle: { name: "starters", version: "v1" }, networkAccess: "public", runtime: { engine: "lfx", requestTimeoutSeconds: 120 }, credentials, parameters });
  assert.equal(dep.status, 201, dep.text);
  const deadline = Date.now() + 600_000;
  let d = dep.json;
  while (d.status.phase !== "Ready" && d.status.phase !== "Failed" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    d = (await api("GET", `/projects/${project}/deployments/${dep.json.id}`)).json;
  }
  const loaded = d.status.phase === "Ready";
  for (const r of accepted) r.loadTime = loaded;
  if (!loaded) {
    const events = (await api("GET", `/projects/${project}/deployments/${dep.json.id}/events`)).json;
    assert.fail(`the deployment of every starter lfx is said to run did not come up: ${d.status.phase}; ${JSON.stringify(events).slice(-1500)}`);
  }

  // F3: every accepted starter that needs no outside service, through the gateway.
  for (const rep of accepted.filter((r) => r.outside.length === 0)) {
    const flow = flows.get(rep.name) as Flow;
    const before = fake.requests.length;
    const res = await fetch(`${d.endpoints.http}/api/v1/run/${flow.id}`, {
      method: "POST",
      headers: { "x-access-key": admin, "content-type": "application/json" },
      body: JSON.stringify({ input_value: "Hello from the starters suite", input_type: "chat", output_type: "chat", session_id: `starters-${flow.id}` }),
    });
    const text = await res.text();
    const calls = fake.requests.slice(before).filter((q) => q.path.endsWith("/chat/completions"));
    const digests = calls.map((q) => `[digest:${fakeDigest(q.body)}]`);
    const problems: string[] = [];
    if (res.status !== 200) problems.push(`HTTP ${res.status}: ${text.slice(0, 300)}`);
    if (calls.length === 0) problems.push("the model was never called");
    if (calls.some((q) => q.body.model !== "gpt-4o-mini")) problems.push(`model ${calls.map((q) => String(q.body.model)).join(",")}, not the one chosen at deploy`);
    if (calls.some((q) => q.headers.authorization !== `Bearer ${KEY}`)) problems.push("the deployment's OPENAI_API_KEY did not reach the model");
    if (res.status === 200 && !digests.some((dg) => text.includes(dg))) problems.push("the answer is not the model's answer to what the flow sent");
    rep.ran = problems.length === 0 ? "ok" : problems.join("; ");
  }

  // The Loop's feedback edge, run: the model answers the one item, the Loop's done output carries it.
  const loopRun = await fetch(`${d.endpoints.http}/api/v1/run/${String(loopFlow.id)}`, {
    method: "POST",
    headers: { "x-access-key": admin, "content-type": "application/json" },
    body: JSON.stringify({ input_value: "Loop item", input_type: "chat", output_type: "chat", session_id: "starters-loop" }),
  });
  const loopText = await loopRun.text();
  console.log(`  Loop feedback edge on lfx: HTTP ${loopRun.status}${loopRun.status === 200 && loopText.includes("Echo: Item: Loop item") ? ", the model's answer came back through the Loop" : `: ${loopText.slice(0, 300)}`}`);
  assert.equal(loopRun.status, 200, loopText.slice(0, 500));
  assert.match(loopText, /Echo: Item: Loop item \[digest:[0-9a-f]{12}\]/);

  // The report.
  const f1Published = reports.filter((r) => r.published).length;
  const llm = reports.reduce((a, r) => a + r.llmNodes, 0);
  const llmKeyed = reports.reduce((a, r) => a + r.llmNodesWithKey, 0);
  const warnings = reports.reduce((a, r) => a + r.warnings, 0);
  const named = reports.reduce((a, r) => a + r.warningsNamingNodeAndField, 0);
  const runnable = accepted.filter((r) => r.outside.length === 0);
  const ran = runnable.filter((r) => r.ran === "ok").length;
  const judged = reports.filter((r) => r.lfxVerdict !== null && r.loadTime !== undefined);
  const matches = judged.filter((r) => r.lfxVerdict === r.loadTime).length;
  const lines = [
    `starters, Langflow 1.13.0 on lfx ${LFX_VERSION}:`,
    `  F1: ${f1Published}/${reports.length} publish; ${llmKeyed}/${llm} LLM nodes with their provider key as a credential (or a deploy-time model choice); ${named}/${warnings} warnings name node and field`,
    `  F3: ${ran}/${runnable.length} starters needing no outside service run on lfx through the gateway`,
    `  lfx verdict at publish = at load: ${matches}/${judged.length} (${judged.length ? Math.round((100 * matches) / judged.length) : 0}%)`,
  ];
  const width = Math.max(...reports.map((r) => r.name.length));
  for (const r of reports) {
    const status = !r.published ? `NOT PUBLISHED ${r.lfxReason ?? ""}` : r.lfxVerdict === false ? `lfx: no (${r.lfxReason}); lfx itself: ${r.lfxItself ?? "not tried"}` : r.outside.length > 0 ? `loads; not run (needs ${r.outside.join(", ")})` : `ran: ${r.ran}`;
    lines.push(`  ${r.name.padEnd(width)}  ${r.warnings} warnings  ${status.slice(0, 360)}`);
  }
  console.log(lines.join("\n"));
  mkdirSync(join(repoRoot, "test-results"), { recursive: true });
  writeFileSync(join(repoRoot, "test-results", "starters.json"), `${JSON.stringify({ lfxVersion: LFX_VERSION, generatedAt: new Date().toISOString(), starters: reports }, null, 2)}\n`);

  assert.equal(f1Published, 27, "every starter publishes");
  assert.equal(llmKeyed, llm, "every LLM node has its key as a credential or a model choice");
  assert.equal(named, warnings, "every warning names a node and a field of that node");
  assert.equal(matches, judged.length, "the publish-time lfx verdict matches load time");
  assert.ok(runnable.length > 0);
  assert.deepEqual(runnable.filter((r) => r.ran !== "ok").map((r) => `${r.name}: ${r.ran}`), [], "every starter needing no outside service runs");
});
