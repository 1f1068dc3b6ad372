import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { apiCaller, killAll, loadFixture, otelcolSkipReason, replicaPidsOf, startCollector, startFakeOpenAI, waitFor, type Collector, type FakeOpenAI } from "@flowplane/testkit";
import type { Run, Trace } from "@flowplane/core/api";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * Traces (issue #19 item 2), end to end: the real server, its gateway, real replicas of both
 * engines (native, and lfx: Langflow's own executor) calling a fake OpenAI server that reports
 * token usage, and a real OpenTelemetry Collector (scripts/setup-otelcol.sh). A run's trace has
 * one span per component with its status; a run that fails in the model component shows that
 * component failed (and nothing after it ran); the model's token counts are on its span and on
 * the run; the spans reach the collector with the deployment, revision and run attributes.
 */
const MODEL = "LanguageModelComponent-n8KRg";
const collectorSkip = otelcolSkipReason();

describe("traces (e2e)", { timeout: 600_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let llm: FakeOpenAI;
  let collector: Collector | undefined;
  let admin: string;
  let project: string;

  // The server may be restarted on new ports: the caller is made per call.
  const api = (method: string, path: string, body?: unknown) => apiCaller(server.url, admin)(method, path, body);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-traces-"));
    llm = await startFakeOpenAI();
    if (!collectorSkip) collector = await startCollector();
    server = await startServer(dir, {
      FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_API_BASE", OPENAI_API_BASE: llm.baseUrl, FLOWPLANE_MODEL_HOSTS: "127.0.0.1",
      FLOWPLANE_RESYNC_SECONDS: "2", ...(collector ? { FLOWPLANE_OTLP_ENDPOINT: collector.endpoint } : {}),
    });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "traces" })).json.id;
    assert.equal((await api("POST", "/bundles", { name: "chat", versionTag: "1", accessLevel: "global", flows: [loadFixture("memory-chatbot")] })).status, 201);
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await llm?.close();
    await collector?.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const engine of ["native", "lfx"] as const) {
    describe(`the ${engine} engine`, () => {
      let dep: { id: string; endpoints: { http: string } };
      let flowId: string;
      const depPath = (rest: string) => `/projects/${project}/deployments/${dep.id}${rest}`;
      /** Each call's label (its caller's x-request-id, only a correlation attribute) to the gateway's own id of it (the run's requestId). */
      const idOf = new Map<string, string>();
      const call = async (input: string, label: string, session = label) => {
        const res = await fetch(`${dep.endpoints.http}/api/v1/run/${flowId}`, {
          method: "POST", headers: { "x-access-key": admin, "content-type": "application/json", "x-request-id": label },
          body: JSON.stringify({ input_value: input, session_id: session }),
        });
        idOf.set(label, res.headers.get("x-request-id") ?? "");
        return res;
      };
      /** The run of a request and its trace, once the recorder and the replica have both written them. */
      const runAndTrace = (label: string, requestId = idOf.get(label)!) => waitFor(async () => {
        const run = ((await api("GET", depPath("/runs"))).json.items as Run[]).find((r) => r.requestId === requestId);
        if (!run) return null;
        const t = await api("GET", depPath(`/runs/${run.id}/trace`));
        return t.status === 200 ? { run: (await api("GET", depPath(`/runs/${run.id}`))).json as Run, trace: t.json as Trace } : null;
      }, { timeoutMs: 20_000, intervalMs: 200, message: `the run and trace of ${label} (${requestId})` });

      before(async () => {
        const r = await api("POST", `/projects/${project}/deployments`, {
          displayName: `Traced ${engine}`, bundle: { name: "chat", version: "1" }, networkAccess: "public",
          credentials: { OPENAI_API_KEY: "sk-test" }, runtime: { engine },
        });
        assert.equal(r.status, 201, r.text);
        dep = r.json;
        await waitFor(async () => (await api("GET", depPath(""))).json.status.phase === "Ready", { timeoutMs: 180_000, intervalMs: 250, message: "Ready" });
        flowId = ((await (await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": admin } })).json()) as { id: string }[])[0]!.id;
      });

      it("a run's trace: one span per component, all ok; the model's tokens on its span and on the run", async () => {
        const res = await call("hello", `trace-ok-${engine}`);
        assert.equal(res.status, 200, await res.text());
        const { run, trace } = await runAndTrace(`trace-ok-${engine}`);
        assert.equal(trace.engine, engine);
        assert.equal(trace.status, "ok");
        assert.equal(trace.revision, 1);
        assert.equal(trace.flowId, flowId);
        const ids = trace.spans.map((s) => s.componentId).sort();
        assert.deepEqual(ids, ["ChatInput-xLWhw", "ChatOutput-2ljRT", MODEL, "Memory-MKGtC", "Prompt-9wc4j"].sort());
        for (const s of trace.spans) {
          assert.equal(s.status, "ok", `${s.componentId}: ${s.error}`);
          assert.ok(s.durationMs >= 0 && Date.parse(s.start) >= Date.parse(trace.start) - 1000, JSON.stringify(s));
        }
        const model = trace.spans.find((s) => s.componentId === MODEL)!;
        assert.equal(model.componentType, "LanguageModelComponent");
        assert.deepEqual(model.tokens, { input: 1, output: 1, total: 2 });
        assert.deepEqual(trace.tokens, { input: 1, output: 1, total: 2 });
        assert.deepEqual(run.tokens, { input: 1, output: 1, total: 2 });
      });

      it("a run that fails in the model component: that span is the error, with its message; nothing after it ran", async () => {
        const res = await call("please [[fail]]", `trace-fail-${engine}`);
        assert.equal(res.status, 500);
        await res.text();
        const { run, trace } = await runAndTrace(`trace-fail-${engine}`);
        assert.equal(run.status, 500);
        assert.equal(trace.status, "error");
        const failed = trace.spans.filter((s) => s.status === "error");
        assert.deepEqual(failed.map((s) => s.componentId), [MODEL], JSON.stringify(trace.spans));
        assert.match(failed[0]!.error ?? "", /fake failure|500|error/i);
        assert.equal(trace.spans.some((s) => s.componentId === "ChatOutput-2ljRT"), false);
        assert.doesNotMatch(JSON.stringify(trace), /sk-test/);
      });

      it("two callers sending the same x-request-id: two runs, each with its own trace (the id is the gateway's, not the caller's)", async () => {
        const ok = await call("hello", `same-id-${engine}`, `s-ok-${engine}`);
        assert.equal(ok.status, 200, await ok.text());
        const firstId = idOf.get(`same-id-${engine}`)!;
        const failing = await call("please [[fail]]", `same-id-${engine}`, `s-fail-${engine}`);
        assert.equal(failing.status, 500);
        await failing.text();
        const secondId = idOf.get(`same-id-${engine}`)!;
        assert.notEqual(firstId, secondId);
        const first = await runAndTrace(`same-id-${engine}`, firstId);
        const second = await runAndTrace(`same-id-${engine}`, secondId);
        assert.deepEqual([first.run.status, first.trace.status, first.run.sessionId], [200, "ok", `s-ok-${engine}`]);
        assert.deepEqual([second.run.status, second.trace.status, second.run.sessionId], [500, "error", `s-fail-${engine}`]);
        assert.equal(((await api("GET", depPath("/runs"))).json.items as Run[]).some((r) => r.requestId === `same-id-${engine}`), false, "no run is named by a caller");
      });

      it("the spans reach the OpenTelemetry Collector with the deployment, revision and run attributes", { skip: collectorSkip }, async () => {
        const spans = await waitFor(async () => {
          const all = (await collector!.spans()).filter((s) => s.attributes["flowplane.deployment.id"] === dep.id);
          return all.some((s) => s.attributes["flowplane.run.request_id"] === idOf.get(`trace-fail-${engine}`) && s.status.code === 2 && s.name !== "flow run") ? all : null;
        }, { timeoutMs: 20_000, intervalMs: 200, message: "the spans at the collector" });
        const ofRun = spans.filter((s) => s.attributes["flowplane.run.request_id"] === idOf.get(`trace-ok-${engine}`));
        const root = ofRun.find((s) => s.name === "flow run")!;
        assert.ok(root, "a root span per run");
        assert.equal(root.resource["service.name"], "flowplane");
        assert.equal(root.attributes["flowplane.revision"], 1);
        assert.equal(root.attributes["flowplane.project.id"], project);
        assert.equal(root.attributes["flowplane.engine"], engine);
        const children = ofRun.filter((s) => s !== root);
        assert.equal(children.length, 5);
        for (const c of children) {
          assert.equal(c.traceId, root.traceId);
          assert.equal(c.parentSpanId, root.spanId);
        }
        const model = children.find((s) => s.attributes["flowplane.component.id"] === MODEL)!;
        assert.equal(model.attributes["flowplane.component.type"], "LanguageModelComponent");
        assert.equal(model.attributes["gen_ai.usage.input_tokens"], 1);
        const failed = spans.find((s) => s.attributes["flowplane.run.request_id"] === idOf.get(`trace-fail-${engine}`) && s.status.code === 2 && s.name !== "flow run")!;
        assert.equal(failed.attributes["flowplane.component.id"], MODEL);
      });
    });
  }
});
