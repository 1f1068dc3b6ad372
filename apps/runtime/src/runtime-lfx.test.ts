import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, copyFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { lfxSkipReason } from "@flowplane/engine-lfx";
import { readFileSync } from "node:fs";
import { fixturePath, loadFixture, startFakeOpenAI, waitFor, type FakeOpenAI } from "@flowplane/testkit";
import { alive, childPids, spawnRuntime, type RuntimeProcess } from "./test-process.js";

// The runtime binary with FLOWPLANE_ENGINE=lfx: the whole contract served by Langflow's own
// executor, and the replica's life tied to lfx's. Three lfx starts in this file, no more.
const skip = lfxSkipReason(process.env);
const SIMPLE_API = "1e3eea9b-d466-4fba-b0d9-08901143df3e";
const MEMORY = "abdc8216-e400-48c4-8d11-0f21441b50ea";
const BASIC = "c04a179a-a582-402e-9628-4af37767208c";
const KEY = "sk-lfx-runtime-param";
const LFX_START_MS = 120_000;
let fake: FakeOpenAI;
let rt: RuntimeProcess;
let base: string;

function bundle(files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "fp-lfx-rt-"));
  for (const f of files) copyFileSync(fixturePath(f), join(dir, `${f}.json`));
  return dir;
}
const lfxEnv = (): Record<string, string> => (process.env.FLOWPLANE_LFX_BIN ? { FLOWPLANE_LFX_BIN: process.env.FLOWPLANE_LFX_BIN } : {});

before(async () => {
  if (skip) return;
  fake = await startFakeOpenAI();
  rt = spawnRuntime({ ...lfxEnv(), FLOWPLANE_BUNDLE_PATH: bundle(["simple-api-test", "memory-chatbot", "basic-prompting"]), FLOWPLANE_ENGINE: "lfx", OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: KEY });
  base = await rt.waitReady(LFX_START_MS);
});
after(async () => {
  if (skip) return;
  await rt.stop();
  await fake.close();
});

const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const events = async (res: Response) => (await res.text()).trim().split("\n\n").map((e) => JSON.parse(e) as { event: string; data: Record<string, unknown> });

test("lfx serve's run shape, from lfx", { skip }, async () => {
  const info = (await (await fetch(`${base}/flows/${SIMPLE_API}/info`)).json()) as { engine: string; input_components: string[] };
  assert.deepEqual([info.engine, info.input_components], ["lfx", ["ChatInput-3OQi9"]]);
  const res = await post(`/flows/${MEMORY}/run`, { input_value: "hello" });
  assert.deepEqual(await res.json(), { result: "Echo: hello", success: true, logs: "", type: "message", component: "Chat Output" });
  assert.equal(fake.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`);
  const failed = await post(`/flows/${MEMORY}/run`, { input_value: "[[fail]]" });
  assert.equal(failed.status, 500);
  const body = (await failed.json()) as { success: boolean; result: string; component: string };
  assert.deepEqual([body.success, body.component], [false, "Language Model"]);
  assert.match(body.result, /^Flow execution failed: .*fake failure/);
});

test("Langflow's /api/v1/run: result data per output, sessions, tweaks, streamed tokens", { skip }, async () => {
  const res = await post(`/api/v1/run/${SIMPLE_API}`, { input_value: "hi", session_id: "s-9", output_type: "debug" });
  const body = (await res.json()) as { session_id: string; outputs: { inputs: unknown; outputs: { component_id: string }[] }[] };
  assert.equal(body.session_id, "s-9");
  assert.deepEqual(body.outputs[0]?.inputs, { input_value: "hi" });
  assert.deepEqual(body.outputs[0]?.outputs.map((o) => o.component_id), ["ChatInput-3OQi9", "TextInput-eFiZp", "ChatOutput-J6aor"]);
  const streamed = await events(await post(`/api/v1/run/${BASIC}?stream=true`, { input_value: "stream me please", tweaks: { "Language Model": { stream: true, api_key: KEY } } }));
  assert.equal(streamed.filter((e) => e.event === "token").map((e) => e.data.chunk).join(""), "Echo: stream me please");
  assert.equal(streamed.at(-1)?.event, "end");
  const lfx = await events(await post(`/flows/${SIMPLE_API}/stream`, { input_value: "x" }));
  assert.deepEqual([lfx.at(-1)?.event, (lfx.at(-1)?.data.result as { result: string }).result], ["end", "x"]);
});

test("MCP tools call the flows through lfx", { skip }, async () => {
  const client = new Client({ name: "test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ["basic_prompting", "memory_chatbot", "simple_api_test"]);
    const res = await client.callTool({ name: "memory_chatbot", arguments: { input_value: "via mcp" } });
    assert.deepEqual(res.content, [{ type: "text", text: "Echo: via mcp" }]);
  } finally {
    await client.close();
  }
});

// Last in this runtime's life: it stops it.
test("SIGTERM stops lfx too, and no parameter value was logged", { skip }, async () => {
  const lfx = childPids(rt.child.pid as number);
  assert.equal(lfx.length, 1, "the runtime runs one lfx serve");
  assert.equal(await rt.stop(), 0);
  assert.ok(!alive(lfx[0] as number), "lfx serve is gone with the runtime");
  assert.ok(rt.output.every((l) => !l.includes(KEY)));
});

test("auto picks lfx for components native lacks; a required secret exported empty reads its credential; when lfx dies the replica turns unready and exits 1 with the reason", { skip }, async () => {
  // env-variable-test, unchanged: its Secret component's required `Secret Key`, exported empty
  // and unbound, is the credential SECRET_KEY (core parameters.ts), which the component returns
  // as a Message; lfx shows a secret's value as ten stars, and an unset one as "". SECRET_KEY is
  // also a name lfx never reads from its environment (safe_getenv), so this holds only because
  // the engine passes the deployment's values as request variables (engine-lfx variablesOf).
  const value = "deployment-secret-value-7731";
  // And simple-api-test with its Text Input bound to GITHUB_TOKEN, another name lfx keeps from
  // its environment: the Text Input's value is the Chat Output's sender name, shown as it is.
  const dir = bundle(["env-variable-test", "simple-chat-no-llm"]);
  const api = structuredClone(loadFixture("simple-api-test")) as { data: { nodes: { id: string; data: { node: { template: Record<string, Record<string, unknown>> } } }[] } };
  Object.assign(api.data.nodes.find((n) => n.id === "TextInput-eFiZp")!.data.node.template.input_value!, { value: "GITHUB_TOKEN", load_from_db: true });
  writeFileSync(join(dir, "simple-api-test.json"), JSON.stringify(api));
  const token = "ghp-deployment-token-5519";
  const b = spawnRuntime({ ...lfxEnv(), FLOWPLANE_BUNDLE_PATH: dir, SECRET_KEY: value, GITHUB_TOKEN: token });
  try {
    const url = await b.waitReady(LFX_START_MS);
    const flows = (await (await fetch(`${url}/flows`)).json()) as { id: string }[];
    const info = (await (await fetch(`${url}/flows/${flows[0]?.id}/info`)).json()) as { engine: string };
    assert.equal(info.engine, "lfx");
    const run = await fetch(`${url}/flows/a7003613-8243-4f71-800c-6be1c4065518/run`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input_value: "" }) });
    const answer = (await run.json()) as { success: boolean; result: string };
    assert.deepEqual([run.status, answer.success, answer.result], [200, true, "**********"], JSON.stringify(answer));
    const bound = await fetch(`${url}/api/v1/run/${SIMPLE_API}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input_value: "hi" }) });
    const message = ((await bound.json()) as { outputs: { outputs: { results: { message: { sender_name: string } } }[] }[] }).outputs[0]?.outputs[0]?.results.message;
    assert.equal(message?.sender_name, token, "the deployment's value of a variable lfx would not read from its environment");
    const [lfx] = childPids(b.child.pid as number);
    process.kill(lfx as number, "SIGKILL");
    const code = await b.exited;
    assert.equal(code, 1);
    const stopped = b.output.find((l) => l.includes('"msg":"engine stopped"'));
    assert.match(stopped ?? "", /lfx serve was killed by SIGKILL/);
  } finally {
    await b.stop();
  }
});

/** There and not a zombie (an orphan's zombie waits for the machine's init to reap it). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

test("a runtime killed with SIGKILL takes its lfx serve with it (a parent-death signal: lfx runs in a session of its own)", { skip }, async () => {
  const c = spawnRuntime({ ...lfxEnv(), FLOWPLANE_BUNDLE_PATH: bundle(["simple-api-test"]), FLOWPLANE_ENGINE: "lfx" });
  try {
    // Ready: lfx serve is up and quiet (killed while it still prints its banner, it would die
    // of the broken pipe alone).
    await c.waitReady(LFX_START_MS);
    const [lfx] = childPids(c.child.pid as number);
    assert.ok(lfx !== undefined && running(lfx));
    c.child.kill("SIGKILL");
    await c.exited;
    await waitFor(() => !running(lfx as number), { timeoutMs: 5_000, intervalMs: 20, message: "lfx serve outlived its runtime" });
  } finally {
    await c.stop();
  }
});
