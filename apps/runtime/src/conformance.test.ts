import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UnprocessableFlowError, compatibilityReport, parseFlow, type Flow } from "@flowplane/core";
import { LFX_VERSION, lfxSkipReason } from "@flowplane/engine-lfx";
import { fixturePath, fixturesDir, loadFixture, repoRoot, startFakeOpenAI, startHttpServer, type FakeOpenAI } from "@flowplane/testkit";
import { casesFor } from "./conformance/cases.js";
import type { KnownDifference } from "./conformance/compare.js";
import { annotate, statusOf, summary, unusedKnown, type ComponentReport, type FlowReport } from "./conformance/report.js";
import { runCase } from "./conformance/run-case.js";
import { readConfig } from "./config.js";
import { startHost, type RuntimeHost } from "./host.js";
import { memoryLogger } from "@flowplane/logging";

// Conformance: every fixture flow both engines can run gets the same inputs through a native
// runtime and an lfx runtime (LLM calls to the fake OpenAI server); answers must match in text
// and shape unless conformance/known-differences.json explains the difference. The report goes
// to test-results/conformance.json and a summary to stdout.
const skip = lfxSkipReason(process.env);
const KEY = "sk-conformance-key";
const known = (JSON.parse(readFileSync(join(repoRoot, "conformance", "known-differences.json"), "utf8")) as { differences: KnownDifference[] }).differences;
let fake: FakeOpenAI;
let page: { url: string; close(): Promise<void> };
const hosts: RuntimeHost[] = [];

before(async () => {
  if (skip) return;
  fake = await startFakeOpenAI();
  page = await startHttpServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html><body><h1>Flows</h1><p>A flow is a graph of components.</p></body></html>"));
});
after(async () => {
  for (const h of hosts) await h.shutdown();
  if (skip) return;
  await fake.close();
  await page.close();
});

/**
 * Blog Writer's OpenAI node calls api.openai.com under lfx whatever OPENAI_API_BASE says: its
 * export carries the fake's URL, as a publisher's would. A caller's tweak may not set it (a node
 * holding a key would send it where the caller says: http/tweak-guard.ts).
 */
function withModelBase(fixture: string): string {
  const raw = loadFixture(fixture) as { data: { nodes: { data: { type?: string; node?: { template?: Record<string, { value?: unknown }> } } }[] } };
  for (const n of raw.data.nodes) {
    const base = n.data.type === "OpenAIModel" ? n.data.node?.template?.openai_api_base : undefined;
    if (base && !base.value) base.value = fake.baseUrl;
  }
  return JSON.stringify(raw);
}

/** A runtime on one engine over the given fixtures; rejects with the engine's load error. */
async function runtime(engine: "native" | "lfx", fixtures: string[]): Promise<RuntimeHost> {
  const dir = mkdtempSync(join(tmpdir(), `fp-conf-${engine}-`));
  for (const f of fixtures) {
    if (f === "blog-writer") writeFileSync(join(dir, `${f}.json`), withModelBase(f));
    else copyFileSync(fixturePath(f), join(dir, `${f}.json`));
  }
  const env: Record<string, string> = { FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_ENGINE: engine, PATH: process.env.PATH ?? "", OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: KEY, FLOWPLANE_PARAMETER_NAMES: '["OPENAI_API_BASE","OPENAI_API_KEY"]',
    // The page the URL component reads is on loopback: allowed as an operator would (both engines
    // refuse loopback otherwise; lfx gets the list as LANGFLOW_SSRF_ALLOWED_HOSTS).
    FLOWPLANE_MODEL_HOSTS: "127.0.0.1" };
  if (process.env.FLOWPLANE_LFX_BIN) env.FLOWPLANE_LFX_BIN = process.env.FLOWPLANE_LFX_BIN;
  const host = await startHost({ config: readConfig(env), log: memoryLogger("error").log });
  hosts.push(host);
  await host.loaded;
  return host;
}

/** Starts lfx over the fixtures; flows lfx cannot load are reported and left out (one retry). */
async function lfxRuntime(fixtures: Map<string, Flow>): Promise<{ host: RuntimeHost; failed: Map<string, string> }> {
  const failed = new Map<string, string>();
  for (let attempt = 0; ; attempt++) {
    try {
      return { host: await runtime("lfx", [...fixtures.keys()].filter((f) => !failed.has(f))), failed };
    } catch (err) {
      const details = err instanceof UnprocessableFlowError ? (err.details as { flowId: string; reason: string }[]) : [];
      if (attempt > 0 || details.length === 0) throw err;
      for (const d of details) for (const [f, flow] of fixtures) if (flow.id === d.flowId) failed.set(f, d.reason);
    }
  }
}

const componentsOf = (flow: Flow, status: ComponentReport["status"], reason?: string): ComponentReport[] =>
  flow.nodes.filter((n) => !n.isNote).map((n) => ({ id: n.id, type: n.type, status, ...(reason ? { reason } : {}) }));

test("native and lfx give the same text and response shapes on every flow both can run", { skip, timeout: 600_000 }, async () => {
  const fixtures = readdirSync(fixturesDir()).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort();
  const reports = new Map<string, FlowReport>();
  const runnable = new Map<string, Flow>();
  for (const fixture of fixtures) {
    const flow = parseFlow(loadFixture(fixture));
    const native = compatibilityReport([flow]).native;
    if (native.supported) runnable.set(fixture, flow);
    else {
      const missing = [...new Set(native.missing.map((m) => `${m.type}${m.reason === "custom_code" ? " (custom code)" : ""}`))].join(", ");
      const components = componentsOf(flow, "unsupported").map((c) => (native.missing.some((m) => m.nodeId === c.id) ? { ...c, reason: "native: not implemented" } : c));
      reports.set(fixture, { fixture, flowId: flow.id, name: flow.name, status: "unsupported", reason: `native cannot run ${missing}`, cases: [], differences: [], components });
    }
  }
  const { host: lfx, failed } = await lfxRuntime(runnable);
  for (const [fixture, reason] of failed) {
    const flow = runnable.get(fixture) as Flow;
    runnable.delete(fixture);
    reports.set(fixture, { fixture, flowId: flow.id, name: flow.name, status: "unsupported", reason: `lfx cannot load it: ${reason}`, cases: [], differences: [], components: componentsOf(flow, "unsupported", "lfx: flow not loadable") });
  }
  const native = await runtime("native", [...runnable.keys()]);

  for (const [fixture, flow] of runnable) {
    const cases = casesFor(fixture, { key: KEY, pageUrl: `${page.url}/guide` });
    const differences: ReturnType<typeof annotate> = [];
    for (const [i, c] of cases.entries()) differences.push(...annotate(known, fixture, c.name, await runCase(flow.id, c, native.url, lfx.url, `${fixture}-${i}`)));
    const components = componentsOf(flow, "match").map((comp) => ({ ...comp, status: statusOf(differences.filter((d) => d.where === comp.id)) }));
    reports.set(fixture, { fixture, flowId: flow.id, name: flow.name, status: statusOf(differences), cases: cases.map((c) => c.name), differences, components });
  }

  const flows = fixtures.map((f) => reports.get(f) as FlowReport);
  const stale = unusedKnown(known, flows);
  mkdirSync(join(repoRoot, "test-results"), { recursive: true });
  const out = join(repoRoot, "test-results", "conformance.json");
  writeFileSync(out, `${JSON.stringify({ lfxVersion: LFX_VERSION, generatedAt: new Date().toISOString(), flows, unusedKnownDifferences: stale }, null, 2)}\n`);
  console.log(`${summary(flows, LFX_VERSION)}\n  report: ${out}${stale.length ? `\n  known differences that explained nothing this run: ${stale.map((k) => k.reason.slice(0, 60)).join(" | ")}` : ""}`);

  assert.ok(runnable.size > 0, "at least one fixture runs on both engines");
  const mismatches = flows.flatMap((f) => f.differences.filter((d) => !d.known).map((d) => `${f.fixture} [${d.case}] ${d.where} ${d.path} (${d.kind})`));
  assert.deepEqual(mismatches, [], "differences not listed in conformance/known-differences.json");
});
