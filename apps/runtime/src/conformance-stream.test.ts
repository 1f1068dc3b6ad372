import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lfxSkipReason } from "@flowplane/engine-lfx";
import { loadStarters, startFakeOpenAI, startersSkipReason, type FakeOpenAI } from "@flowplane/testkit";
import { spawnRuntime, type RuntimeProcess } from "./test-process.js";

// What a streaming client and a model tweak see, native against the real lfx 1.13, on Langflow's
// Basic Prompting starter (the equivalence suite compares answers, not streams). A stream is
// compared as a client renders it: the events in order (a run of tokens as one: chunking is the
// model client's; lfx's also passes on the empty chunks a chat API opens and closes with), each
// add_message by sender, state and text, the tokens' text, and every model message under one id.
const skip = lfxSkipReason(process.env) || startersSkipReason();
const NODE = "LanguageModelComponent-FLeYF";
let fake: FakeOpenAI;
let flowId: string;
const replicas = new Map<string, RuntimeProcess>();

before(async () => {
  if (skip) return;
  fake = await startFakeOpenAI();
  const raw = loadStarters().find((s) => s.name === "Basic Prompting")!.raw;
  flowId = String(raw.id);
  const dir = mkdtempSync(join(tmpdir(), "fp-conf-stream-"));
  writeFileSync(join(dir, "flow.json"), JSON.stringify(raw));
  for (const engine of ["native", "lfx"]) {
    const rt = spawnRuntime({
      FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_ENGINE: engine, FLOWPLANE_MODEL_HOSTS: "127.0.0.1",
      ...(process.env.FLOWPLANE_LFX_BIN ? { FLOWPLANE_LFX_BIN: process.env.FLOWPLANE_LFX_BIN } : {}),
      OPENAI_API_KEY: "sk-conformance", OPENAI_BASE_URL: fake.baseUrl, MODEL_LANGUAGEMODELCOMPONENT_FLEYF: "OpenAI/gpt-4o-mini",
    });
    replicas.set(engine, rt);
    await rt.waitReady(300_000);
  }
});
after(async () => {
  for (const rt of replicas.values()) await rt.stop();
  await fake?.close();
});

async function run(engine: string, tweaks: Record<string, unknown>, stream: boolean): Promise<{ status: number; text: string; models: unknown[] }> {
  const from = fake.requests.length;
  const res = await fetch(`${await replicas.get(engine)!.url}/api/v1/run/${flowId}${stream ? "?stream=true" : ""}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input_value: "one two three", session_id: `stream-${engine}`, tweaks: { [NODE]: tweaks } }),
  });
  return { status: res.status, text: await res.text(), models: fake.requests.slice(from).map((r) => r.body.model) };
}

type Event = { event: string; data: { sender?: string; text?: string; id?: string; chunk?: string; properties?: { state?: string } } };

/** The stream as a client renders it (see the file's comment). */
function rendered(body: string): { events: string[]; tokens: string; oneId: boolean } {
  const events = body.trim().split("\n\n").map((e) => JSON.parse(e) as Event);
  const out: string[] = [];
  for (const e of events) {
    if (e.event === "token" && (e.data.chunk === "" || out.at(-1) === "token*")) continue;
    out.push(e.event === "token" ? "token*" : e.event === "add_message" ? `add_message ${e.data.sender} ${e.data.properties?.state} ${JSON.stringify(e.data.text)}` : e.event);
  }
  const ids = new Set(events.filter((e) => e.event === "token" || (e.event === "add_message" && e.data.sender === "Machine")).map((e) => e.data.id));
  return { events: out, tokens: events.filter((e) => e.event === "token").map((e) => e.data.chunk).join(""), oneId: ids.size === 1 };
}

test("a streamed Language Model answer: native sends lfx's events (partial, tokens, complete)", { skip, timeout: 600_000 }, async () => {
  const [native, lfx] = [await run("native", { stream: true }, true), await run("lfx", { stream: true }, true)];
  assert.equal(native.status, lfx.status);
  const [n, l] = [rendered(native.text), rendered(lfx.text)];
  assert.deepEqual(n, l);
  assert.deepEqual(l.events.slice(1, 3), ['add_message Machine partial ""', "token*"], "lfx announces the answer partial, then its tokens");
  assert.equal(l.events.at(-2), 'add_message Machine complete "Echo: one two three"');
});

test("a tweak of the model field: both engines call the model it selects; another provider is refused before either runs", { skip, timeout: 600_000 }, async () => {
  const gpt4o = { model: [{ name: "gpt-4o", provider: "OpenAI" }] };
  const [native, lfx] = [await run("native", gpt4o, false), await run("lfx", gpt4o, false)];
  assert.deepEqual([native.status, native.models], [200, ["gpt-4o"]]);
  assert.deepEqual([lfx.status, lfx.models], [200, ["gpt-4o"]]);
  const anthropic = { model: [{ name: "claude-3-5-haiku-latest", provider: "Anthropic" }] };
  const [na, la] = [await run("native", anthropic, false), await run("lfx", anthropic, false)];
  // The deployment's provider is its deployer's choice (tweak-guard.ts): 400, nothing sent.
  assert.deepEqual([na.status, na.models], [400, []]);
  assert.deepEqual([la.status, la.models], [400, []]);
  assert.match(na.text, /model provider is the deployment's choice/);
  assert.match(la.text, /model provider is the deployment's choice/);
});
