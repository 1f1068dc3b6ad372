import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compatibilityReport, extractParameters, parseFlow, type Flow } from "@flowplane/core";
import { LFX_VERSION, lfxSkipReason } from "@flowplane/engine-lfx";
import { FILE_FLOW_ID, fileToChatOutput, loadStarters, loopOverSplitText, repoRoot, startersSkipReason, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { firstDifference, normalise } from "./conformance/normalise.js";
import { outsideServices } from "./conformance/starters.js";
import { REPLICA_ARGS, spawnRuntime, treeRssBytes, type RuntimeProcess } from "./test-process.js";

// Equivalence as a property (issue #17, F2): every Langflow 1.13 starter that needs no outside
// service and that the native engine claims to run (the compatibility report says native) gives
// the same `/api/v1/run` answer on native as on the real lfx, byte for byte once ids and timings
// are normalised (conformance/normalise.ts). The fake model answers with a digest of the whole
// request (model, system prompt, history, tools), so an equal answer means an equal request.
// One replica per engine over every such starter, each the `flowplane-runtime` command in its
// own process with a driver's Node options (no probe listener: no FLOWPLANE_PROBE_PORT, as in
// bench/engines.mjs); one lfx load for the whole suite.
// The same two replicas give the issue's other goals, printed and never asserted (speed claims
// are not timed tests): cold start (spawn to /ready 200, each engine alone on the machine's
// share this suite gets) and the RSS of each replica's process tree (lfx serve and its children
// included) after every comparison ran, as ratios of the two engines on the same flows.
// FLOWPLANE_EQUIV_FLOWS (comma list of starter names) narrows the run while working on a flow.
// Read File (File) gets a local text file: every File node's `path` is tweaked to one file in the
// replicas' shared private folder (both replicas run with the same TMPDIR, so the path, which
// lfx and native both put in the message, is the same). lfx serve refuses every local path by
// default (LANGFLOW_RESTRICT_LOCAL_FILE_ACCESS, no user or flow scope to confine it to), so its
// replica runs with that restriction off; native confines reads to the private folder itself.
const skip = lfxSkipReason(process.env) || startersSkipReason();
const KEY = "sk-equivalence-key";
const MODEL = "OpenAI/gpt-4o-mini";
const INPUT = "Hello from the equivalence suite";
/** The goals issue #17 names: native starts >= 20x faster than lfx and uses <= 1/4 of its memory. */
const GOALS = { cold: 20, rss: 4 };
let fake: FakeOpenAI;
const replicas: RuntimeProcess[] = [];
/** The replicas' shared TMPDIR, and the text file every Read File node is given. */
let shared = "";
let textFile = "";
/** A JSON file beside it, for the derived Read File flow (lfx re-prints JSON with orjson). */
let jsonFile = "";
/** What the suite gives locally to components the starters suite counts as outside (OUTSIDE). */
const PROVIDED = ["File"];

before(async () => {
  if (skip) return;
  fake = await startFakeOpenAI({ digest: true });
  shared = mkdtempSync(join(tmpdir(), "fp-equiv-tmp-"));
  mkdirSync(join(shared, "flowplane-files"), { mode: 0o700 });
  textFile = join(shared, "flowplane-files", "quarterly-report.txt");
  jsonFile = join(shared, "flowplane-files", "figures.json");
  writeFileSync(jsonFile, '{"quarter": "Q3", "10": 1.0, "2": [1e5, 2.5e-7, 9007199254740993], "region": "\\u00c5land \\ufb01"}\n');
  writeFileSync(textFile, "Quarterly report\r\nRevenue: $1.2M (up 12%)\nCosts: \u20ac300k\n\nNotes: caf\u00e9 expansion, \"flagship\" store.\n");
});
after(async () => {
  for (const r of replicas) await r.stop();
  await fake?.close();
});

interface Replica {
  url: string;
  proc: RuntimeProcess;
  /** Spawn to /ready 200, in ms. */
  coldMs: number;
}

/** A replica on one engine over the given flows, configured as a deployment of them would be, started by its command. */
async function replica(engine: "native" | "lfx", raws: Record<string, unknown>[], flows: Flow[]): Promise<Replica> {
  const dir = mkdtempSync(join(tmpdir(), `fp-equiv-${engine}-`));
  raws.forEach((raw, i) => writeFileSync(join(dir, `flow-${i}.json`), JSON.stringify(raw)));
  const params: Record<string, string> = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.baseUrl };
  for (const p of extractParameters(flows)) params[p.name] ??= p.kind === "model" ? MODEL : `unused-${p.name.toLowerCase()}`;
  const env: Record<string, string> = {
    ...params,
    FLOWPLANE_PARAMETER_NAMES: JSON.stringify(Object.keys(params)),
    FLOWPLANE_BUNDLE_PATH: dir,
    FLOWPLANE_ENGINE: engine,
    FLOWPLANE_MODEL_HOSTS: "127.0.0.1",
    FLOWPLANE_LOG_LEVEL: "info", // the "listening" line gives the URL
    // Not parameters (FLOWPLANE_PARAMETER_NAMES does not list them): the replica's process
    // environment, which lfx serve starts from too.
    TMPDIR: shared,
    LANGFLOW_RESTRICT_LOCAL_FILE_ACCESS: "false",
  };
  if (process.env.FLOWPLANE_LFX_BIN) env.FLOWPLANE_LFX_BIN = process.env.FLOWPLANE_LFX_BIN;
  const t0 = performance.now();
  const proc = spawnRuntime(env, REPLICA_ARGS);
  replicas.push(proc);
  // A 5 ms poll: a native start takes a few hundred ms, so a coarser one would blur it.
  const url = await proc.waitReady(600_000, 5);
  return { url, proc, coldMs: performance.now() - t0 };
}

/**
 * More inputs for some starters, each compared like the first: the fake model echoes its input,
 * so JSON in the input is JSON in the answer, and the Agent's structured_response parses,
 * unwraps and validates it (lfx's prompt fallback) instead of reporting that none was found.
 */
const MORE_INPUTS: Record<string, string[]> = {
  "Price Deal Finder": [
    'Deals: {"objects": [{"retailer": "Shop A", "price": "$5", "url": "http://a.test", "notes": "", "extra": 1}, {"retailer": "Shop B", "price": "7 EUR", "url": "http://b.test", "notes": "used"}]}',
    'One deal: [{"retailer": "Shop \u00e9", "price": "$5", "url": "http://a.test", "notes": "coupon {x}"}] and more text',
  ],
};

/** Every Read File node (not a tool) of the flow reads the suite's text file. */
function fileTweaks(flow: Flow): Record<string, Record<string, unknown>> | undefined {
  const nodes = flow.nodes.filter((n) => n.type === "File" && !n.toolMode);
  // The derived Read File flow reads both files (lfx's joined text and source_files).
  const paths = flow.id === FILE_FLOW_ID ? [textFile, jsonFile] : [textFile];
  return nodes.length === 0 ? undefined : Object.fromEntries(nodes.map((n) => [n.id, { path: paths }]));
}

async function run(base: string, flow: Flow, session: string, input = INPUT): Promise<{ status: number; text: string }> {
  const tweaks = fileTweaks(flow);
  const res = await fetch(`${base}/api/v1/run/${flow.id}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input_value: input, input_type: "chat", output_type: "chat", session_id: session, ...(tweaks ? { tweaks } : {}) }),
  });
  const body: unknown = await res.json();
  return { status: res.status, text: JSON.stringify(normalise(body)) };
}

interface Row {
  name: string;
  outside: string[];
  nativeClaims: boolean;
  nativeMissing?: string;
  lfxRuns: boolean;
  /** Native answered HTTP 200 (it claims the flow and runs it). */
  nativeOk?: boolean;
  identical?: boolean;
  difference?: string;
  /** A flow derived from a starter (conformance/derived.ts): compared, but not counted in F2. */
  derived?: boolean;
}

test("F2: every starter native claims to run answers /api/v1/run byte-identically to lfx (ids and timings normalised)", { skip, timeout: 900_000 }, async () => {
  const only = process.env.FLOWPLANE_EQUIV_FLOWS?.split(",").map((s) => s.trim()).filter(Boolean);
  const starters = loadStarters().filter((s) => !only || only.includes(s.name));
  const rows: Row[] = [];
  const claimed: { name: string; raw: Record<string, unknown>; flow: Flow }[] = [];
  for (const { name, raw } of starters) {
    const flow = parseFlow(raw);
    const report = compatibilityReport([flow]);
    const row: Row = { name, outside: outsideServices(flow, PROVIDED), nativeClaims: report.native.supported, lfxRuns: report.lfx.supported };
    if (!report.native.supported) row.nativeMissing = [...new Set(report.native.missing.map((m) => `${m.type} (${m.reason})`))].join(", ");
    rows.push(row);
    if (row.outside.length === 0 && row.nativeClaims && row.lfxRuns) claimed.push({ name, raw, flow });
  }
  // Flows derived from starters whose outside service hides a component (the Loop, behind arXiv),
  // or whose answer would show only what a model is sent (Read File, straight into Chat Output).
  for (const d of [loopOverSplitText(loadStarters()), fileToChatOutput(loadStarters())]) {
    if (!d || (only && !only.includes(d.name))) continue;
    const flow = parseFlow(d.raw);
    const report = compatibilityReport([flow]);
    const row: Row = { name: d.name, outside: outsideServices(flow, PROVIDED), nativeClaims: report.native.supported, lfxRuns: report.lfx.supported, derived: true };
    rows.push(row);
    assert.ok(row.nativeClaims && row.lfxRuns && row.outside.length === 0, `${d.name}: both engines run it, locally`);
    claimed.push({ name: d.name, raw: d.raw, flow });
  }
  assert.ok(claimed.length > 0, "some starter runs on both engines");
  // One after the other, so neither start competes with the other's for the CPU.
  const native = await replica("native", claimed.map((c) => c.raw), claimed.map((c) => c.flow));
  const lfx = await replica("lfx", claimed.map((c) => c.raw), claimed.map((c) => c.flow));
  const dumps = join(repoRoot, "test-results", "equivalence");
  mkdirSync(dumps, { recursive: true });
  for (const c of claimed) {
    const row = rows.find((r) => r.name === c.name) as Row;
    const session = `equiv-${c.flow.id}`;
    const before = fake.requests.length;
    const n = await run(native.url, c.flow, session);
    const mid = fake.requests.length;
    const l = await run(lfx.url, c.flow, session);
    // What each engine sent the model, for the diff by hand when the digests differ.
    const sent = (from: number, to: number) => fake.requests.slice(from, to).map((q) => q.body);
    writeFileSync(join(dumps, `${c.name}.requests.json`), `${JSON.stringify({ native: sent(before, mid), lfx: sent(mid, fake.requests.length) }, null, 1)}\n`);
    const a = `${n.status} ${n.text}`;
    const b = `${l.status} ${l.text}`;
    row.nativeOk = n.status === 200;
    row.identical = a === b;
    // Both answers, normalised and indented, for a diff by hand.
    for (const [engine, answer] of [["native", n], ["lfx", l]] as const) writeFileSync(join(dumps, `${c.name}.${engine}.json`), `${JSON.stringify(JSON.parse(answer.text), null, 1)}\n`);
    if (!row.identical) row.difference = firstDifference(a, b) ?? "";
    for (const [i, input] of (MORE_INPUTS[c.name] ?? []).entries()) {
      if (!row.identical) break;
      const more = `${session}-more-${i}`;
      const [mn, ml] = [await run(native.url, c.flow, more, input), await run(lfx.url, c.flow, more, input)];
      for (const [engine, answer] of [["native", mn], ["lfx", ml]] as const) writeFileSync(join(dumps, `${c.name}.input-${i + 2}.${engine}.json`), `${JSON.stringify(JSON.parse(answer.text), null, 1)}\n`);
      if (`${mn.status} ${mn.text}` !== `${ml.status} ${ml.text}`) {
        row.identical = false;
        row.difference = `input ${i + 2}: ${firstDifference(`${mn.status} ${mn.text}`, `${ml.status} ${ml.text}`) ?? ""}`;
      }
    }
  }

  const local = rows.filter((r) => r.outside.length === 0 && r.lfxRuns && !r.derived);
  const derived = rows.filter((r) => r.derived);
  const nativeClaims = local.filter((r) => r.nativeClaims);
  const nativeRuns = nativeClaims.filter((r) => r.nativeOk);
  const identical = nativeClaims.filter((r) => r.identical);
  // Memory after every comparison ran, each replica's whole process tree (lfx: the runtime, lfx
  // serve and its children).
  const rss = { native: treeRssBytes(native.proc.child.pid as number) / 2 ** 20, lfx: treeRssBytes(lfx.proc.child.pid as number) / 2 ** 20 };
  const coldRatio = lfx.coldMs / native.coldMs;
  const rssRatio = rss.lfx / rss.native;
  const pct = (a: number, b: number) => (b === 0 ? 0 : Math.round((100 * a) / b));
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  const f2Runs = nativeRuns.length * 100 >= local.length * 80;
  const f2Identical = identical.length === nativeClaims.length && nativeClaims.length > 0;
  const num = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const lines = [
    `equivalence, native vs lfx ${LFX_VERSION} on Langflow 1.13's starters (digest fake model, ids and timings normalised):`,
    `  F2: native claims ${nativeClaims.length} and runs ${nativeRuns.length} of the ${local.length} starters needing no outside service (${pct(nativeRuns.length, local.length)}%, goal >= 80%: ${met(f2Runs)}); ${identical.length}/${nativeClaims.length} of those it claims (${pct(identical.length, nativeClaims.length)}%, goal 100%: ${met(f2Identical)}) answer byte-identically to lfx`,
    `  derived from starters (not counted above): ${derived.filter((r) => r.identical).length}/${derived.length} identical`,
    `  cold start (spawn -> /ready 200, one replica per engine over the same ${claimed.length} flows, one start each): native ${num(native.coldMs)} ms, lfx ${num(lfx.coldMs)} ms -> native ${num(coldRatio)}x faster (goal >= ${GOALS.cold}x: ${met(coldRatio >= GOALS.cold)})`,
    `  RSS of each replica's process tree after the runs (lfx: runtime + lfx serve + children): native ${num(rss.native)} MiB, lfx ${num(rss.lfx)} MiB -> native uses 1/${num(rssRatio)} (goal <= 1/${GOALS.rss}: ${met(rssRatio >= GOALS.rss)})`,
    `  (printed, not asserted: one start on a machine shared with the other test files; bench/engines.mjs --starters-only measures per starter)`,
  ];
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    const status = r.outside.length > 0 ? `needs ${r.outside.join(", ")}`
      : !r.lfxRuns ? "lfx cannot run it"
      : !r.nativeClaims ? `native: no (${r.nativeMissing ?? ""})`
      : !r.nativeOk ? `native FAILED ${r.difference ?? ""}`
      : r.identical ? "identical" : `DIFFERS ${r.difference ?? ""}`;
    lines.push(`  ${r.name.padEnd(width)}  ${status.slice(0, 600)}`);
  }
  console.log(lines.join("\n"));
  mkdirSync(join(repoRoot, "test-results"), { recursive: true });
  writeFileSync(join(repoRoot, "test-results", "equivalence.json"), `${JSON.stringify({ lfxVersion: LFX_VERSION, generatedAt: new Date().toISOString(), coldStartMs: { native: native.coldMs, lfx: lfx.coldMs }, rssMiB: rss, rows }, null, 2)}\n`);

  assert.deepEqual([...nativeClaims, ...derived].filter((r) => !r.identical).map((r) => `${r.name}: ${r.difference ?? ""}`), [], "every starter native claims to run is identical to lfx");
  if (!only) assert.ok(f2Runs, `native runs ${nativeRuns.length}/${local.length} starters needing no outside service, below 80%`);
});
