import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { IOCapture, MAX_SPAN_ERROR, inputProblem, parseFlow, type EngineRunRequest, type RunTrace } from "@flowplane/core/replica";
import { traceBatchSchema } from "@flowplane/core/api";
import { NativeEngine } from "@flowplane/engine-native";
import { memoryLogger } from "@flowplane/logging";
import { loadFixture } from "@flowplane/testkit";
import { readConfig } from "./config.js";
import { runFlow, type HostContext } from "./http/context.js";
import { RunDeadlines } from "./http/deadlines.js";
import { TraceShipper } from "./traces.js";
import { keptSpan, keptTrace } from "./trace-text.js";

// Text a trace keeps must be storable: the control plane refuses a batch holding a NUL or a lone
// surrogate anywhere (400 for the whole batch, so every other caller's trace in it was lost).
// The stand-in control plane below answers as the real one does: its edge check (core's
// inputProblem, which apps/server http/input-hygiene.ts applies to every request) over the whole
// body, then the contract's schema for the batch; either refusing fails the whole batch.

/** Why the control plane would refuse this batch, or null: it stores it. */
function refusal(body: unknown): string | null {
  const bad = inputProblem(body, "");
  if (bad) return `${bad.field}: ${bad.message}`;
  const parsed = traceBatchSchema.safeParse(body);
  return parsed.success ? null : JSON.stringify(parsed.error.issues[0]);
}

async function controlPlane() {
  const stored = new Map<string, RunTrace>();
  const refused: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (text += c));
    req.on("end", () => {
      const body = JSON.parse(text) as { traces: RunTrace[] };
      const why = refusal(body);
      if (why) refused.push(why);
      else for (const t of body.traces) stored.set(t.requestId, t);
      res.writeHead(why ? 400 : 200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/internal/v1/deployments/dep-1/traces`;
  return { url, stored, refused, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const SECRET = "sk-kept-credential-4242";
/** A secret holding U+FFFD (an environment value that was not UTF-8 reads so). */
const MANGLED = "tok\uFFFDen-held-value-77";

/** A replica's context over the no-LLM chat flow (Chat Input to Chat Output), tracing with io kept. */
async function replica(url: string, displayName: string, keepIO = true) {
  const raw = structuredClone(loadFixture("simple-chat-no-llm")) as { id?: string; data: { nodes: { data: { type: string; node: { display_name: string } } }[] } };
  raw.id = "flow-1";
  // A flow is the deployer's and untrusted too: its component names reach the trace.
  raw.data.nodes.find((n) => n.data.type === "ChatOutput")!.data.node.display_name = displayName;
  const flow = parseFlow(raw);
  const engine = new NativeEngine({ privateHosts: [] });
  const flows = await engine.load([flow], {});
  const { log } = memoryLogger("error");
  const traces = new TraceShipper({ target: { url, token: { value: "identity-token" } }, log, intervalMs: 3_600_000 });
  const io = keepIO ? new IOCapture({ secrets: [SECRET, MANGLED], maxChars: 64 }) : null;
  const ctx: HostContext = {
    config: { ...readConfig({ FLOWPLANE_BUNDLE_PATH: "/nonexistent" }), revision: 1 },
    log,
    state: { ready: true, draining: false, failed: null, engine, flows, bundle: null, inFlight: 0 },
    traces,
    io,
    deadlines: new RunDeadlines(30_000),
  };
  const run = (requestId: string, inputValue: string, flowId = flow.id) => {
    const request: EngineRunRequest = { inputValue, inputType: "chat", outputType: "chat" };
    return runFlow(ctx, { requestId, fromGateway: true }, flowId, request);
  };
  return { run, traces, close: () => engine.close() };
}

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

test("a run whose input holds a NUL or a lone surrogate no longer costs the other runs of its batch their traces", async () => {
  const cp = await controlPlane();
  closers.push(cp.close);
  const r = await replica(cp.url, "Chat\u0000Output \udc00");
  closers.push(r.close);
  const runs = {
    "run-nul": "bad\u0000",
    "run-surrogate": "x\ud800y",
    "run-normal": "hello",
    // Redaction still holds next to the replaced characters, and after them: the second secret
    // only shows once the NUL in its place has become U+FFFD.
    "run-secret": `${SECRET}\u0000 and tok\u0000en-held-value-77`,
    // A pair the cut (io.maxChars 64) would split in two.
    "run-cut": `${"a".repeat(63)}\u{1F600}tail`,
  };
  for (const [id, input] of Object.entries(runs)) await r.run(id, input);
  // The shipper's timer never fires (an hour): close sends the five traces as one batch.
  await r.traces.close();
  assert.deepEqual(cp.refused, [], "the control plane refused a batch");
  assert.deepEqual([...cp.stored.keys()].sort(), Object.keys(runs).sort(), "every run's trace is stored");
  const input = (id: string) => cp.stored.get(id)!.input;
  assert.equal(input("run-nul"), "bad\uFFFD");
  assert.equal(input("run-surrogate"), "x\uFFFDy");
  assert.equal(input("run-normal"), "hello");
  assert.equal(input("run-secret"), "[redacted]\uFFFD and [redacted]");
  assert.equal(input("run-cut"), `${"a".repeat(63)}… [cut: ${runs["run-cut"].length} characters]`);
  const span = cp.stored.get("run-nul")!.spans.find((s) => s.componentType === "ChatOutput")!;
  assert.equal(span.name, "Chat\uFFFDOutput \uFFFD");
  assert.equal(span.inputs?.input_value, "bad\uFFFD");
  for (const t of cp.stored.values()) assert.ok(!JSON.stringify(t).includes(SECRET) && !JSON.stringify(t).includes(MANGLED), t.requestId);
});

test("without io kept, the flow's names, the flow id and the run's error are made storable all the same", async () => {
  const cp = await controlPlane();
  closers.push(cp.close);
  const r = await replica(cp.url, "\ud800".repeat(600), false);
  closers.push(r.close);
  await r.run("run-ok", "bad\u0000");
  // An unknown flow id, as a caller may write one: the engine's error names it.
  await assert.rejects(r.run("run-failed", "hi", "no\u0000such\udfff"));
  await r.traces.close();
  assert.deepEqual(cp.refused, []);
  const ok = cp.stored.get("run-ok")!;
  assert.equal(ok.input, undefined, "no io kept");
  assert.equal(ok.spans.find((s) => s.componentType === "ChatOutput")!.name, "\uFFFD".repeat(500));
  const failed = cp.stored.get("run-failed")!;
  assert.equal(failed.flowId, "no\uFFFDsuch\uFFFD");
  assert.match(failed.error!, /no\uFFFDsuch\uFFFD/);
});

test("a span's and a trace's strings: well-formed, within the contract's bounds, secrets redacted before and after", () => {
  const io = new IOCapture({ secrets: [SECRET], maxChars: 40 });
  const span = keptSpan(io, {
    componentId: "", componentType: "T\u0000", name: `${"n".repeat(499)}\u{1F600}`, start: new Date().toISOString(), durationMs: 1, status: "error",
    error: `${"e".repeat(MAX_SPAN_ERROR - 1)}\u{1F600}`, tokens: null,
  }, { inputs: { [`k\u0000${SECRET}`]: `${SECRET}\ud800`, ["f".repeat(199) + "\u{1F600}"]: 1 }, outputs: { out: { text: `${"x".repeat(39)}\u{1F600}` } } });
  assert.equal(span.componentId, "unknown");
  assert.equal(span.componentType, "T\uFFFD");
  assert.equal(span.name, "n".repeat(499));
  assert.equal(span.error, "e".repeat(MAX_SPAN_ERROR - 1));
  assert.deepEqual(span.inputs, { "k\uFFFD[redacted]": "[redacted]\uFFFD", ["f".repeat(199)]: "1" });
  assert.deepEqual(span.outputs, { out: `${"x".repeat(39)}… [cut: 41 characters]` });
  const trace = keptTrace(io, {
    requestId: "r-1", flowId: "f\u0000", revision: 1, engine: "native", start: new Date().toISOString(), durationMs: 1, status: "error",
    error: `failed on ${SECRET}\u0000`, tokens: null, spans: [span],
  }, { input: { nested: `\ud800${SECRET}` }, output: undefined });
  assert.equal(trace.flowId, "f\uFFFD");
  assert.equal(trace.error, "failed on [redacted]\uFFFD");
  // A structured value is kept as JSON, where the lone surrogate is already an escape.
  assert.equal(trace.input, '{"nested":"\\ud800[redacted]"}');
  assert.equal(trace.output, null);
  assert.equal(refusal({ traces: [trace] }), null);
});
