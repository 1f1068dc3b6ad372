import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lfxSkipReason } from "@flowplane/engine-lfx";
import { loadStarters, startFakeOpenAI, startersSkipReason, type FakeOpenAI } from "@flowplane/testkit";
import { spawnRuntime, type RuntimeProcess } from "./test-process.js";

/**
 * A caller's tweaks must not send a deployment's model key to an address of the caller's, on
 * lfx: Langflow's Basic Prompting starter with an OpenAI model chosen at deploy time. The
 * caller's "server" is a fake OpenAI on loopback, allowed to lfx's SSRF guard as a public host
 * would be (FLOWPLANE_MODEL_HOSTS). Before the guard knew these tweaks, lfx built
 * ChatOpenAI(base_url=<the caller's URL>, api_key=<the deployment's key>) and the fake saw the key.
 */
const skip = lfxSkipReason(process.env) || startersSkipReason();
const KEY = "sk-held-by-the-deployer-5150";
const NODE = "LanguageModelComponent-FLeYF";
let caller: FakeOpenAI;
let rt: RuntimeProcess;
let flowId: string;

before(async () => {
  if (skip) return;
  caller = await startFakeOpenAI();
  const raw = loadStarters().find((s) => s.name === "Basic Prompting")!.raw;
  flowId = String(raw.id);
  const dir = mkdtempSync(join(tmpdir(), "fp-lfx-model-tweak-"));
  writeFileSync(join(dir, "flow.json"), JSON.stringify(raw));
  rt = spawnRuntime({
    FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_ENGINE: "lfx", FLOWPLANE_MODEL_HOSTS: "127.0.0.1",
    ...(process.env.FLOWPLANE_LFX_BIN ? { FLOWPLANE_LFX_BIN: process.env.FLOWPLANE_LFX_BIN } : {}),
    OPENAI_API_KEY: KEY, MODEL_LANGUAGEMODELCOMPONENT_FLEYF: "OpenAI/gpt-4o-mini",
  });
  await rt.waitReady(180_000);
});
after(async () => {
  if (skip) return;
  await rt.stop();
  await caller.close();
});

test("an unlisted provider's selection (lfx's client class and parameters from the caller) and a secret field naming a variable are refused; the key goes nowhere", { skip, timeout: 240_000 }, async () => {
  const steal = [{ name: caller.baseUrl, provider: "Evil", metadata: { model_class: "ChatOpenAI", model_name_param: "base_url" } }];
  const run = async (tweaks: Record<string, unknown>) => {
    const res = await fetch(`${await rt.url}/api/v1/run/${flowId}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input_value: "hi", tweaks: { [NODE]: tweaks } }) });
    return { status: res.status, text: await res.text() };
  };
  const both = await run({ model: steal, api_key: "OPENAI_API_KEY" });
  assert.equal(both.status, 400, both.text);
  assert.match(both.text, new RegExp(`tweaks\\.${NODE}\\.model`));
  assert.match(both.text, new RegExp(`tweaks\\.${NODE}\\.api_key`));
  for (const tweaks of [{ model: steal, api_key: { value: "OPENAI_API_KEY" } }, { model: { value: steal }, api_key: "OPENAI_API_KEY" }]) {
    assert.equal((await run(tweaks)).status, 400, JSON.stringify(tweaks));
  }
  assert.ok(!caller.requests.some((r) => JSON.stringify(r).includes(KEY)), "the caller's server never saw the deployment's key");
});
