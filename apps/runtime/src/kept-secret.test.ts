import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadFixture } from "@flowplane/testkit";
import { spawnRuntime, type RuntimeProcess } from "./test-process.js";

/**
 * A plain parameter the deployment keeps secret (FLOWPLANE_SECRET_PARAMETER_NAMES, set by both
 * drivers from the deployment's credentials), through the runtime binary: requests treat it as a
 * credential. The flow: Langflow's simple-api-test export, its Text Input bound to TOKEN and
 * flowing into the Chat Output, which is given a callback URL bound to CALLBACK_URL. The same
 * flow in a replica that keeps nothing secret is the control: there both are plain.
 */
const FLOW = "1e3eea9b-d466-4fba-b0d9-08901143df3e";
const TOKEN = "held-token-never-the-callers-4242";
let kept: RuntimeProcess;
let plain: RuntimeProcess;

function flow(): Record<string, unknown> {
  const raw = structuredClone(loadFixture("simple-api-test")) as { data: { nodes: { id: string; data: { node: { template: Record<string, Record<string, unknown>> } } }[] } };
  const tpl = (id: string) => raw.data.nodes.find((n) => n.id === id)!.data.node.template;
  Object.assign(tpl("TextInput-eFiZp").input_value!, { value: "TOKEN", load_from_db: true });
  tpl("ChatOutput-J6aor").callback_url = { type: "str", _input_type: "MessageTextInput", value: "CALLBACK_URL", load_from_db: true };
  return raw;
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "fp-kept-secret-"));
  writeFileSync(join(dir, "flow.json"), JSON.stringify(flow()));
  const env = { FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_ENGINE: "native", TOKEN, CALLBACK_URL: "http://127.0.0.1:9/deployers" };
  kept = spawnRuntime({ ...env, FLOWPLANE_SECRET_PARAMETER_NAMES: JSON.stringify(["TOKEN"]) });
  plain = spawnRuntime(env);
  await Promise.all([kept.waitReady(), plain.waitReady()]);
});
after(async () => {
  await Promise.all([kept.stop(), plain.stop()]);
});

const post = async (rt: RuntimeProcess, path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${await rt.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
};

test("Langflow's request variables: the kept value is neither replaced nor redirected (400); plain in a replica that keeps nothing", async () => {
  for (const [name, value] of [["TOKEN", "mine"], ["CALLBACK_URL", "http://127.0.0.1:9/steal"]]) {
    const refused = await post(kept, `/api/v1/run/${FLOW}`, { input_value: "hi" }, { [`X-LANGFLOW-GLOBAL-VAR-${name}`]: value! });
    assert.equal(refused.status, 400, `${name}: ${refused.text}`);
    assert.match(refused.text, new RegExp(name!));
    assert.ok(!refused.text.includes(TOKEN));
    const open = await post(plain, `/api/v1/run/${FLOW}`, { input_value: "hi" }, { [`X-LANGFLOW-GLOBAL-VAR-${name}`]: value! });
    assert.equal(open.status, 200, `${name} (control): ${open.text}`);
  }
});

test("the runtime's own run route (global_vars) and tweaks keep the same rule", async () => {
  const vars = await post(kept, `/flows/${FLOW}/run`, { input_value: "hi", global_vars: { TOKEN: "mine" } });
  assert.equal(vars.status, 400, vars.text);
  assert.match(vars.text, /global_vars\.TOKEN/);
  const tweak = { input_value: "hi", tweaks: { "ChatOutput-J6aor": { callback_url: "http://127.0.0.1:9/steal" } } };
  const refused = await post(kept, `/api/v1/run/${FLOW}`, tweak);
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.text, /callback_url/);
  assert.equal((await post(plain, `/api/v1/run/${FLOW}`, tweak)).status, 200, "the control takes the tweak");
  // The run itself is untouched: the kept value still feeds the flow as the deployer set it.
  const ok = await post(kept, `/api/v1/run/${FLOW}`, { input_value: "hi" });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(JSON.parse(ok.text).outputs[0].outputs[0].results.message.sender_name, TOKEN);
});

test("a credential of another flow in the bundle is guarded where this flow binds it in a plain field", async () => {
  // memory-chatbot binds OPENAI_API_KEY in its model's key field; this bundle's second flow binds
  // it in a Text Input, whose text reaches the Chat Output given a callback URL.
  const dir = mkdtempSync(join(tmpdir(), "fp-kept-secret-bundle-"));
  const other = flow();
  const tpl = (other as { data: { nodes: { id: string; data: { node: { template: Record<string, Record<string, unknown>> } } }[] } }).data.nodes.find((n) => n.id === "TextInput-eFiZp")!.data.node.template;
  tpl.input_value!.value = "OPENAI_API_KEY";
  writeFileSync(join(dir, "chatbot.json"), JSON.stringify(loadFixture("memory-chatbot")));
  writeFileSync(join(dir, "other.json"), JSON.stringify(other));
  const rt = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_ENGINE: "native", OPENAI_API_KEY: "sk-deployment-key-5150", CALLBACK_URL: "http://127.0.0.1:9/deployers" });
  try {
    await rt.waitReady();
    const refused = await post(rt, `/api/v1/run/${FLOW}`, { input_value: "hi", tweaks: { "ChatOutput-J6aor": { callback_url: "http://127.0.0.1:9/steal" } } });
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.text, /callback_url/);
    const vars = await post(rt, `/api/v1/run/${FLOW}`, { input_value: "hi" }, { "X-LANGFLOW-GLOBAL-VAR-CALLBACK_URL": "http://127.0.0.1:9/steal" });
    assert.equal(vars.status, 400, vars.text);
  } finally {
    await rt.stop();
  }
});
