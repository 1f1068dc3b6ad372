import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { apiCaller, killAll, loadFixture, otelcolSkipReason, replicaPidsOf, startCollector, startFakeOpenAI, waitFor, type Collector, type FakeOpenAI } from "@flowplane/testkit";
import type { Run, Trace } from "@flowplane/core/api";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * Inputs and outputs (issue #19 items 1 and 2, runtime.io), end to end: the real server and
 * gateway, real replicas of both engines (native, and a real lfx) running the Memory Chatbot
 * starter against a fake OpenAI server that echoes the question. A deployment that opts in keeps
 * the run's input and answer and each component's inputs and outputs; a credential value the
 * caller puts in the question reaches the prompt, the model, its echo and the chat output, and
 * reads [redacted] everywhere (as does an access key); a value longer than io.maxChars is cut. A
 * deployment that does not opt in keeps none of it, and its replicas are not even told.
 */
const SECRET = "sk-io-credential-7Hq2Lm9Xz";
const MODEL = "LanguageModelComponent-n8KRg";
const CHAT_OUTPUT = "ChatOutput-2ljRT";
const CHAT_INPUT = "ChatInput-xLWhw";
const collectorSkip = otelcolSkipReason();

describe("trace inputs and outputs (e2e)", { timeout: 600_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let llm: FakeOpenAI;
  let collector: Collector | undefined;
  let admin: string;
  let project: string;

  // The server may be restarted on new ports: the caller is made per call.
  const api = (method: string, path: string, body?: unknown) => apiCaller(server.url, admin)(method, path, body);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-trace-io-"));
    llm = await startFakeOpenAI();
    if (!collectorSkip) collector = await startCollector();
    server = await startServer(dir, {
      FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_API_BASE", OPENAI_API_BASE: llm.baseUrl, FLOWPLANE_MODEL_HOSTS: "127.0.0.1", FLOWPLANE_RESYNC_SECONDS: "2",
      ...(collector ? { FLOWPLANE_OTLP_ENDPOINT: collector.endpoint } : {}),
    });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "trace-io" })).json.id;
    assert.equal((await api("POST", "/bundles", { name: "chat", versionTag: "1", accessLevel: "global", flows: [loadFixture("memory-chatbot")] })).status, 201);
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await llm?.close();
    await collector?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const deploy = async (name: string, runtime: Record<string, unknown>) => {
    const r = await api("POST", `/projects/${project}/deployments`, {
      displayName: name, bundle: { name: "chat", version: "1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: SECRET }, runtime,
    });
    assert.equal(r.status, 201, r.text);
    const dep = r.json as { id: string; endpoints: { http: string }; runtime: { io: unknown } };
    await waitFor(async () => (await api("GET", `/projects/${project}/deployments/${dep.id}`)).json.status.phase === "Ready", { timeoutMs: 180_000, intervalMs: 250, message: `${name} Ready` });
    const flowId = ((await (await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": admin } })).json()) as { id: string }[])[0]!.id;
    return { ...dep, flowId };
  };
  /** A call's label (its x-request-id: only a correlation attribute) to the gateway's own id of it, which names its run and trace. */
  const idOf = new Map<string, string>();
  const call = async (dep: { endpoints: { http: string }; flowId: string }, input: string, label: string) => {
    const res = await fetch(`${dep.endpoints.http}/api/v1/run/${dep.flowId}`, {
      method: "POST", headers: { "x-access-key": admin, "content-type": "application/json", "x-request-id": label },
      body: JSON.stringify({ input_value: input, session_id: label }),
    });
    idOf.set(label, res.headers.get("x-request-id") ?? "");
    return res;
  };
  const traceOf = (depId: string, label: string) => waitFor(async () => {
    const requestId = idOf.get(label);
    const run = ((await api("GET", `/projects/${project}/deployments/${depId}/runs`)).json.items as Run[]).find((r) => r.requestId === requestId);
    if (!run) return null;
    const t = await api("GET", `/projects/${project}/deployments/${depId}/runs/${run.id}/trace`);
    return t.status === 200 ? (t.json as Trace) : null;
  }, { timeoutMs: 20_000, intervalMs: 200, message: `the trace of ${label}` });

  for (const engine of ["native", "lfx"] as const) {
    it(`${engine}: kept when opted in, credential values and access keys redacted from the run's and every component's inputs and outputs`, async () => {
      const dep = await deploy(`IO ${engine}`, { engine, io: { record: true, maxChars: 400 } });
      assert.deepEqual(dep.runtime.io, { record: true, maxChars: 400 });
      const question = `my key is ${SECRET} and my access key ${admin}, please`;
      const res = await call(dep, question, `io-${engine}`);
      const answer = await res.text();
      assert.equal(res.status, 200, answer);
      assert.match(answer, new RegExp(SECRET), "the caller's own answer is untouched");
      const trace = await traceOf(dep.id, `io-${engine}`);
      const text = JSON.stringify(trace);
      assert.doesNotMatch(text, new RegExp(SECRET), "no credential value anywhere in the stored trace");
      assert.equal(text.includes(admin), false, "no access key anywhere in the stored trace");
      assert.equal(trace.input, "my key is [redacted] and my access key [redacted], please");
      // lfx masks a global variable's value in its messages itself (`*****`) before flowplane sees
      // them; the access key, which lfx does not know, is flowplane's redaction.
      const hidden = engine === "lfx" ? "(\\[redacted\\]|\\*{4,})" : "\\[redacted\\]";
      assert.match(trace.output ?? "", new RegExp(`^Echo: my key is ${hidden} and my access key \\[redacted\\], please$`));
      const span = (id: string) => trace.spans.find((s) => s.componentId === id)!;
      // The credential in a component's inputs (the model's question; the chat output's message)
      // and in its outputs (the model's echo).
      assert.match(JSON.stringify(span(MODEL).inputs), new RegExp(`my key is ${hidden} and my access key \\[redacted\\]`), JSON.stringify(span(MODEL)));
      assert.match(span(CHAT_OUTPUT).inputs?.input_value ?? "", new RegExp(`Echo: my key is ${hidden} and my access key \\[redacted\\]`), JSON.stringify(span(CHAT_OUTPUT)));
      assert.match(Object.values(span(MODEL).outputs ?? {}).join(" "), new RegExp(`Echo: my key is ${hidden} and my access key \\[redacted\\]`), JSON.stringify(span(MODEL)));
      assert.match(Object.values(span(CHAT_INPUT).outputs ?? {}).join(" "), new RegExp(`my key is ${hidden} and my access key \\[redacted\\]`), JSON.stringify(span(CHAT_INPUT)));
      if (engine === "native") assert.equal(span(MODEL).inputs?.api_key, "[redacted]", "the model's API key field, resolved from the credential");
    });

    it(`${engine}: a value longer than io.maxChars is cut, with its length`, async () => {
      const deps = ((await api("GET", `/projects/${project}/deployments`)).json.items as { id: string; displayName: string; endpoints: { http: string } }[]);
      const d = deps.find((x) => x.displayName === `IO ${engine}`)!;
      const flowId = ((await (await fetch(`${d.endpoints.http}/flows`, { headers: { "x-access-key": admin } })).json()) as { id: string }[])[0]!.id;
      const long = `${"a".repeat(350)}${SECRET}${"b".repeat(300)}`;
      const res = await call({ endpoints: d.endpoints, flowId }, long, `io-long-${engine}`);
      assert.equal(res.status, 200, await res.text());
      const trace = await traceOf(d.id, `io-long-${engine}`);
      const expected = `${"a".repeat(350)}[redacted]${"b".repeat(40)}… [cut: ${350 + "[redacted]".length + 300} characters]`;
      assert.equal(trace.input, expected);
      const chatInput = Object.values(trace.spans.find((s) => s.componentId === CHAT_INPUT)!.outputs ?? {})[0] ?? "";
      assert.ok(chatInput.length <= 400 + 40, `cut: ${chatInput.length}`);
      assert.doesNotMatch(JSON.stringify(trace), new RegExp(SECRET));
    });
  }

  it("the OTLP export carries them as the replica redacted them (input.value, output.value)", { skip: collectorSkip }, async () => {
    const spans = await waitFor(async () => {
      const all = (await collector!.spans()).filter((s) => s.attributes["flowplane.run.request_id"] === idOf.get("io-native"));
      return all.length === 6 ? all : null;
    }, { timeoutMs: 20_000, intervalMs: 200, message: "the run's six spans at the collector" });
    const root = spans.find((s) => s.name === "flow run")!;
    assert.match(String(root.attributes["input.value"]), /^my key is \[redacted\] and my access key \[redacted\], please$/);
    assert.match(String(root.attributes["output.value"]), /^Echo: my key is \[redacted\]/);
    const model = spans.find((s) => s.attributes["flowplane.component.id"] === MODEL)!;
    assert.equal(model.attributes["input.mime_type"], "application/json");
    assert.equal((JSON.parse(String(model.attributes["input.value"])) as Record<string, string>).api_key, "[redacted]");
    assert.doesNotMatch(JSON.stringify(spans), new RegExp(SECRET));
  });

  it("not opted in (the default): no input, output, or component inputs and outputs are kept", async () => {
    const dep = await deploy("IO off", { engine: "native" });
    assert.deepEqual(dep.runtime.io, { record: false, maxChars: 2048 });
    const res = await call(dep, `hello ${SECRET}`, "io-off");
    assert.equal(res.status, 200, await res.text());
    const trace = await traceOf(dep.id, "io-off");
    assert.equal(trace.spans.length, 5);
    assert.equal("input" in trace, false);
    assert.equal("output" in trace, false);
    for (const s of trace.spans) assert.equal("inputs" in s || "outputs" in s, false, JSON.stringify(s));
    assert.doesNotMatch(JSON.stringify(trace), /hello/);
  });

  it("turning it on is an edit that makes a revision (runtime.io.record), and the new replicas keep inputs", async () => {
    const deps = ((await api("GET", `/projects/${project}/deployments`)).json.items as { id: string; displayName: string }[]);
    const d = deps.find((x) => x.displayName === "IO off")!;
    const r = await api("PATCH", `/projects/${project}/deployments/${d.id}`, { runtime: { io: { record: true } } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.revision, 2);
    const revs = await api("GET", `/projects/${project}/deployments/${d.id}/revisions/2`);
    assert.deepEqual(revs.json.changes, ["runtime.io.record"]);
    const bad = await api("PATCH", `/projects/${project}/deployments/${d.id}`, { runtime: { io: { maxChars: 5 } } });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /io\.maxChars must be at least 16/);
    await waitFor(async () => {
      const dep = (await api("GET", `/projects/${project}/deployments/${d.id}`)).json;
      return dep.status.phase === "Ready" && dep.status.observedGeneration === dep.generation;
    }, { timeoutMs: 120_000, intervalMs: 250, message: "revision 2 ready" });
    const endpoints = (await api("GET", `/projects/${project}/deployments/${d.id}`)).json.endpoints as { http: string };
    const flowId = ((await (await fetch(`${endpoints.http}/flows`, { headers: { "x-access-key": admin } })).json()) as { id: string }[])[0]!.id;
    const trace = await waitFor(async () => {
      const id = `io-on-${Date.now()}`;
      const res = await call({ endpoints, flowId }, "hello again", id);
      await res.text();
      const t = await traceOf(d.id, id);
      return t.revision === 2 ? t : null;
    }, { timeoutMs: 30_000, intervalMs: 500, message: "a run on revision 2" });
    assert.equal(trace.input, "hello again");
  });
});
