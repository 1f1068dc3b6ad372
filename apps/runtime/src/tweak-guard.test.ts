import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lfxSkipReason } from "@flowplane/engine-lfx";
import { loadFixture, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { spawnRuntime, type RuntimeProcess } from "./test-process.js";

/**
 * Tweaks against the deployment's credentials, through the runtime binary. A caller (any key
 * with a role in the project, a viewer's or an application's) may not send a credential
 * elsewhere nor read one: the same rule as request variables (http/langflow-v1.ts variableGuard),
 * which tweaks went around (a base URL tweaked beside the key sent it to the caller's server).
 * The flow: Basic Prompting with its model as Langflow's OpenAI component (Blog Writer's), whose
 * `openai_api_base` sits beside its `api_key`.
 */
const FLOW = "c04a179a-a582-402e-9628-4af37767208c";
const MODEL = "LanguageModelComponent-UcEoU";
const KEY = "sk-deployment-credential-never-the-callers";
let model: FakeOpenAI;
let attacker: FakeOpenAI;
let rt: RuntimeProcess;
let base: string;

function openAiPrompting(): Record<string, unknown> {
  const flow = loadFixture("basic-prompting") as { data: { nodes: { id: string; data: { id: string; type: string; node: unknown } }[] } };
  const openai = (loadFixture("blog-writer") as typeof flow).data.nodes.find((n) => n.data.type === "OpenAIModel")!;
  const at = flow.data.nodes.findIndex((n) => n.id === MODEL);
  // Same id, so Basic Prompting's edges (Prompt -> system_message, Chat Input -> input_value, text_output -> Chat Output) hold.
  flow.data.nodes[at] = { ...structuredClone(openai), id: MODEL, data: { ...structuredClone(openai.data), id: MODEL } };
  return flow;
}

before(async () => {
  model = await startFakeOpenAI();
  attacker = await startFakeOpenAI();
  const dir = mkdtempSync(join(tmpdir(), "fp-tweak-guard-"));
  writeFileSync(join(dir, "openai-prompting.json"), JSON.stringify(openAiPrompting()));
  rt = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_ENGINE: "native", OPENAI_API_BASE: model.baseUrl, OPENAI_API_KEY: KEY, FLOWPLANE_CREDENTIAL_NAMES: JSON.stringify(["OPENAI_API_KEY"]) });
  base = await rt.waitReady();
});
after(async () => {
  await rt.stop();
  await model.close();
  await attacker.close();
});

const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

test("the flow runs with the deployment's key, and harmless tweaks of the model still apply", async () => {
  const res = await post(`/api/v1/run/${FLOW}`, { input_value: "hello", tweaks: { [MODEL]: { temperature: 0.5, stream: false } } });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(model.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`);
});

test("a tweak cannot send the deployment's key to another server, on either run route", async () => {
  const attempts: [string, unknown][] = [
    [`/api/v1/run/${FLOW}`, { input_value: "x", tweaks: { [MODEL]: { openai_api_base: attacker.baseUrl } } }],
    [`/api/v1/run/${FLOW}`, { input_value: "x", tweaks: { OpenAI: { openai_api_base: attacker.baseUrl } } }],
    [`/flows/${FLOW}/run`, { input_value: "x", tweaks: { [MODEL]: { openai_api_base: attacker.baseUrl } } }],
    [`/api/v1/run/${FLOW}`, { input_value: "x", tweaks: { [MODEL]: { api_key: "sk-the-callers-own", openai_api_base: { value: attacker.baseUrl } } } }],
  ];
  const answered: number[] = [];
  for (const [path, body] of attempts) answered.push((await post(path, body)).status);
  assert.deepEqual(attacker.requests.map((r) => r.headers.authorization), [], "the caller's server received the deployment's key");
  assert.deepEqual(answered, [400, 400, 400, 400]);
  // A key of the caller's own in the secret field itself is Langflow's way (its starters export none): it goes to the deployment's model host.
  assert.equal((await post(`/api/v1/run/${FLOW}`, { input_value: "x", tweaks: { [MODEL]: { api_key: "sk-the-callers-own" } } })).status, 200);
  assert.equal(model.requests.at(-1)?.headers.authorization, "Bearer sk-the-callers-own");
});

/**
 * A tweak nested thousands of levels deep overflowed the stack of the native engine's template
 * code: the run failed with "Maximum call stack size exceeded", a 500 `run_failed` (a server
 * error, as if the deployment were broken). Refused at the body instead, 400 naming the field,
 * on both run routes, streamed or not, and on MCP; the replica serves on.
 */
test("a tweak nested thousands of levels deep is a 400 naming the field, not a failed run", async () => {
  const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
  const body = `{"input_value":"x","tweaks":{"Prompt-Z1IXr":{"template":${deep(5000)}}}}`;
  for (const path of [`/api/v1/run/${FLOW}`, `/api/v1/run/${FLOW}?stream=true`, `/flows/${FLOW}/run`]) {
    const res = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const text = await res.text();
    assert.equal(res.status, 400, `${path}: ${text}`);
    assert.match(text, /tweaks\.Prompt-Z1IXr\.template\[0\]/, path);
    assert.match(text, /nests deeper than 64 levels/, path);
    assert.equal(res.headers.get("x-flowplane-error"), "validation_failed", path);
  }
  const mcp = await fetch(`${base}/mcp`, {
    method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"input_value":${deep(5000)}}}}`,
  });
  assert.equal(mcp.status, 400, await mcp.clone().text());
  assert.match(((await mcp.json()) as { error: { message: string } }).error.message, /params\.arguments\.input_value\[0\].*nests deeper than 64 levels/);
  // As deep as a real flow's values (64 levels) still runs.
  const ok = await post(`/api/v1/run/${FLOW}`, { input_value: "x", tweaks: { [MODEL]: { temperature: 0.5, extra: JSON.parse(deep(60)) as unknown } } });
  assert.equal(ok.status, 200, await ok.clone().text());
});

/**
 * Tweaks naming a million components (12 MiB) held the replica 20 s, answered 76 to 170 MiB (an
 * error per unknown name) and took it to 1.8 GiB; a million fields on one component, 14 s. Each
 * is bounded (tweak-guard.ts MAX_TWEAKED_COMPONENTS, MAX_TWEAKED_FIELDS): a short 400 naming it.
 */
test("tweaks naming too many components or fields are a short 4xx, on both run routes", async () => {
  const names = (prefix: string, n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, {}]));
  // Langflow's route answers a body it refuses as FastAPI does (422 items); the runtime's own, 400.
  const cases: [unknown, string, RegExp][] = [
    [names("k", 1_001), `/api/v1/run/${FLOW}`, /"too_long".*"loc":\["body","tweaks"\].*has 1001 entries; at most 1000/],
    [names("k", 1_001), `/flows/${FLOW}/run`, /tweaks: has 1001 entries; at most 1000/],
    [{ [MODEL]: { ...names("f", 1_001), temperature: 0.5 } }, `/api/v1/run/${FLOW}`, /"too_long".*"loc":\["body","tweaks","LanguageModelComponent-UcEoU"\].*has 1002 entries; at most 1000/],
    [{ [MODEL]: { ...names("f", 1_001), temperature: 0.5 } }, `/flows/${FLOW}/run`, /tweaks\.LanguageModelComponent-UcEoU sets 1002 fields; a tweak may set at most 1000/],
  ];
  for (const [tweaks, path, message] of cases) {
    const res = await post(path, { input_value: "x", tweaks });
    const text = await res.text();
    assert.equal(res.status, path.startsWith("/api/v1/") ? 422 : 400, `${path}: ${text.slice(0, 300)}`);
    assert.match(text, message, path);
    assert.ok(text.length < 1_000, `${path}: ${text.length} characters`);
  }
  const vars = await post(`/flows/${FLOW}/run`, { input_value: "x", global_vars: Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`V${i}`, "x"])) });
  assert.equal(vars.status, 400);
  assert.match(await vars.text(), /global_vars: has 1001 entries; at most 1000/);
  // As many as a real flow could use still run.
  assert.equal((await post(`/api/v1/run/${FLOW}`, { input_value: "x", tweaks: { [MODEL]: { ...names("f", 900), temperature: 0.5 } } })).status, 200);
});

/**
 * On lfx a tweak's object value is merged into the field (Langflow's apply_tweaks): with
 * `load_from_db` it binds the field to any variable it names, and lfx reads the variable from
 * the replica's environment, credentials included. Chat Output's sender name is in the answer.
 */
const lfxSkip = lfxSkipReason(process.env);
test("lfx: a tweak cannot bind a field to a credential and read it back", { skip: lfxSkip, timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "fp-tweak-guard-lfx-"));
  const flow = loadFixture("simple-chat-no-llm") as { id?: string; data: { nodes: { id: string; data: { type: string } }[] } };
  writeFileSync(join(dir, "simple-chat-no-llm.json"), JSON.stringify(flow));
  const lfx = spawnRuntime({ ...(process.env.FLOWPLANE_LFX_BIN ? { FLOWPLANE_LFX_BIN: process.env.FLOWPLANE_LFX_BIN } : {}), FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_ENGINE: "lfx", OPENAI_API_KEY: KEY, FLOWPLANE_CREDENTIAL_NAMES: JSON.stringify(["OPENAI_API_KEY"]) });
  try {
    const url = await lfx.waitReady(120_000);
    const flows = (await (await fetch(`${url}/flows`)).json()) as { id: string }[];
    const output = flow.data.nodes.find((n) => n.data.type === "ChatOutput")!.id;
    const res = await fetch(`${url}/api/v1/run/${flows[0]!.id}`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ input_value: "hi", tweaks: { [output]: { sender_name: { value: "OPENAI_API_KEY", load_from_db: true } } } }),
    });
    const text = await res.text();
    assert.doesNotMatch(text, new RegExp(KEY), "the answer carries the deployment's credential");
    assert.equal(res.status, 400, text);
  } finally {
    await lfx.stop();
  }
});
