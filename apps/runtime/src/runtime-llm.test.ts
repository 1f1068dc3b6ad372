import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { fixturePath, startFakeOpenAI, waitFor, type FakeOpenAI } from "@flowplane/testkit";
import { spawnRuntime, type RuntimeProcess } from "./test-process.js";

// LLM flows through the runtime binary, the fake OpenAI server standing in for OpenAI; MCP
// through the SDK's own client; SIGTERM draining.
const BASIC = "c04a179a-a582-402e-9628-4af37767208c";
const MEMORY = "abdc8216-e400-48c4-8d11-0f21441b50ea";
const KEY = "sk-secret-param-value";
let fake: FakeOpenAI;
let rt: RuntimeProcess;
let base: string;

before(async () => {
  fake = await startFakeOpenAI();
  const dir = mkdtempSync(join(tmpdir(), "fp-llm-"));
  for (const f of ["basic-prompting", "memory-chatbot", "simple-chat-no-llm"]) copyFileSync(fixturePath(f), join(dir, `${f}.json`));
  rt = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: dir, OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: KEY, FLOWPLANE_LOG_LEVEL: "debug", FLOWPLANE_SHUTDOWN_GRACE_MS: "5000" });
  base = await rt.waitReady();
});
after(async () => {
  await fake.close();
});

const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

test("an LLM flow runs with the API key from the deployment's parameters", async () => {
  const res = await post(`/flows/${MEMORY}/run`, { input_value: "hello" });
  assert.deepEqual(await res.json(), { result: "Echo: hello", success: true, logs: "", type: "message", component: "Chat Output" });
  assert.equal(fake.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`);
});

test("Langflow streaming carries the model's tokens", async () => {
  const res = await post(`/api/v1/run/${BASIC}?stream=true`, { input_value: "stream me please", tweaks: { "Language Model": { stream: true } } });
  const events = (await res.text()).trim().split("\n\n").map((e) => JSON.parse(e) as { event: string; data: Record<string, unknown> });
  const tokens = events.filter((e) => e.event === "token");
  assert.equal(tokens.map((t) => t.data.chunk).join(""), "Echo: stream me please");
  assert.equal(events.at(-1)?.event, "end");
});

test("MCP: one tool per flow, called through the SDK client", async () => {
  const client = new Client({ name: "test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ["basic_prompting", "memory_chatbot", "simple_chat_no_llm"]);
    const memory = tools.find((t) => t.name === "memory_chatbot");
    assert.match(memory?.description ?? "", /^Create a chatbot that saves and references previous messages, enabling/);
    assert.deepEqual(memory?.inputSchema.required, ["input_value"]);
    const echo = await client.callTool({ name: "simple_chat_no_llm", arguments: { input_value: "via mcp" } });
    assert.deepEqual(echo.content, [{ type: "text", text: "via mcp" }]);
    assert.ok(!echo.isError);
    const llm = await client.callTool({ name: "basic_prompting", arguments: { input_value: "tool" } });
    assert.deepEqual(llm.content, [{ type: "text", text: "Echo: tool" }]);
  } finally {
    await client.close();
  }
});

test("MCP: each tool call is a conversation of its own, as Langflow's (a session id per call): no caller sees another's messages", async () => {
  const said = (body: Record<string, unknown>) => JSON.stringify(body.messages ?? []);
  const call = async (input: string) => {
    const client = new Client({ name: "test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
    try {
      const res = await client.callTool({ name: "memory_chatbot", arguments: { input_value: input } });
      assert.ok(!res.isError, JSON.stringify(res.content));
      return fake.requests.at(-1)!.body;
    } finally {
      await client.close();
    }
  };
  const first = await call("my password is hunter2");
  assert.match(said(first), /hunter2/);
  const second = await call("second caller");
  assert.match(said(second), /second caller/);
  assert.doesNotMatch(said(second), /hunter2/, "the second call's model request carries nothing of the first call");
  // Over HTTP without a session id, Langflow's default (the flow's id) still holds: one history.
  await post(`/flows/${MEMORY}/run`, { input_value: "http one" });
  await post(`/flows/${MEMORY}/run`, { input_value: "http two" });
  assert.match(said(fake.requests.at(-1)!.body), /http one/);
});

test("a run error is reported as an MCP tool error", async () => {
  fake.setDelay(0);
  const client = new Client({ name: "test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
  try {
    // The fake model answers 500 to "[[fail]]": the run fails, and the tool result says so.
    const res = await client.callTool({ name: "basic_prompting", arguments: { input_value: "[[fail]]" } });
    assert.equal(res.isError, true);
    assert.match((res.content as { text: string }[])[0]?.text ?? "", /the model API \(OpenAI\) answered 500: fake failure/);
  } finally {
    await client.close();
  }
});

test("a caller that leaves cancels its run, streamed or not, HTTP or MCP: the run ends then, not when the model answers", async () => {
  fake.setDelay(4000);
  try {
    /** Starts a call, leaves once the model was asked, and tells how long the run went on after that (its "flow run" line). */
    const leave = async (start: (signal: AbortSignal) => Promise<unknown>) => {
      const asked = fake.requests.length;
      const runs = rt.output.filter((l) => l.includes('"msg":"flow run"')).length;
      const gone = new AbortController();
      const call = start(gone.signal).catch(() => undefined);
      await waitFor(() => fake.requests.length > asked, { message: "the run reaching the model" });
      const left = Date.now();
      gone.abort();
      await call;
      await waitFor(() => rt.output.filter((l) => l.includes('"msg":"flow run"')).length > runs, { timeoutMs: 8000, message: "the run's end" });
      return Date.now() - left;
    };
    const http = (path: string) => (signal: AbortSignal) => fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input_value: "leaving" }), signal });
    for (const path of [`/api/v1/run/${BASIC}`, `/flows/${BASIC}/run`, `/api/v1/run/${BASIC}?stream=true`]) {
      const after = await leave(http(path));
      assert.ok(after < 2000, `${path}: the run went on ${after} ms after its caller left`);
    }
    const mcp = await leave((signal) => fetch(`${base}/mcp`, {
      method: "POST", signal, headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "basic_prompting", arguments: { input_value: "leaving" } } }),
    }));
    assert.ok(mcp < 2000, `MCP tools/call: the run went on ${mcp} ms after its caller left`);
    // A caller leaving is no failure of the replica: nothing is logged as one.
    assert.deepEqual(rt.output.filter((l) => l.includes('"msg":"request failed"') && l.includes("cancelled")), []);
  } finally {
    fake.setDelay(0);
  }
});

test("a run that waits longer than the request timeout is a 504 (streamed: an error event), while a run that waits for nothing answers", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fp-llm-timeout-"));
  for (const f of ["basic-prompting", "simple-chat-no-llm"]) copyFileSync(fixturePath(f), join(dir, `${f}.json`));
  const short = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: dir, OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: KEY, FLOWPLANE_REQUEST_TIMEOUT_MS: "800" });
  fake.setDelay(5000);
  try {
    const url = await short.waitReady();
    const call = (path: string) => fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input_value: "slow" }) });
    const began = Date.now();
    const res = await call(`/flows/${BASIC}/run`);
    assert.equal(res.status, 504);
    assert.deepEqual(await res.json(), { error: { code: "timeout", message: "the flow did not finish within 800 ms", details: null } });
    // Cut at the timeout, not when the model answered.
    assert.ok(Date.now() - began < 4000, `answered after ${Date.now() - began} ms`);
    const streamed = await call(`/flows/${BASIC}/stream`);
    const events = (await streamed.text()).trim().split("\n\n").map((e) => JSON.parse(e) as { event: string; data: { error?: string } });
    assert.deepEqual(events.at(-1), { event: "error", data: { error: "the flow did not finish within 800 ms" } });
    // The echo flow's run never waits: it answers, under the same timeout.
    const flows = (await (await fetch(`${url}/flows`)).json()) as { id: string; name: string }[];
    const echo = flows.find((f) => f.id !== BASIC)!;
    const quick = await call(`/flows/${echo.id}/run`);
    assert.equal(quick.status, 200);
    assert.equal(((await quick.json()) as { result: string }).result, "slow");
  } finally {
    fake.setDelay(0);
    await short.stop();
  }
});

test("SIGTERM: /ready turns 503, the in-flight request completes, the process exits 0, no value was logged", async () => {
  fake.setDelay(1500);
  const asked = fake.requests.length;
  const slow = post(`/flows/${MEMORY}/run`, { input_value: "slow one" });
  await waitFor(() => fake.requests.length > asked, { message: "the slow run reaching the model" });
  rt.child.kill("SIGTERM");
  const ready = await waitFor(async () => {
    const r = await fetch(`${base}/ready`);
    return r.status === 503 ? r : null;
  }, { message: "/ready turning 503" });
  assert.equal(ready.status, 503);
  // Within the drain delay a request that was already on its way is still answered, and the
  // answer closes its connection so that no client keeps it for later.
  assert.equal(ready.headers.get("connection"), "close");
  const late = await fetch(`${base}/flows`);
  assert.equal(late.status, 200);
  assert.equal(late.headers.get("connection"), "close");
  const res = await slow;
  assert.equal(res.status, 200);
  // Under way when the drain began, its headers not sent yet: it closes its connection too
  // (app.ts drain, which walks the responses still open).
  assert.equal(res.headers.get("connection"), "close");
  assert.equal(((await res.json()) as { result: string }).result, "Echo: slow one");
  assert.equal(await rt.exited, 0);
  fake.setDelay(0);
  const log = rt.output.join("\n");
  assert.match(log, /"msg":"draining"/);
  assert.ok(!log.includes(KEY), "a parameter value appeared in the logs");
});
