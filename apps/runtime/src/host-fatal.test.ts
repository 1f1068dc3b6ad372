import { test } from "node:test";
import assert from "node:assert/strict";
import { parseFlow } from "@flowplane/core";
import { loadFixture } from "@flowplane/testkit";
import { readConfig } from "./config.js";
import { createEngine, type EngineHooks } from "./engines.js";
import { startHost } from "./host.js";
import { oneFlowBundle, standInEngine } from "./test-engine.js";
import { memoryLogger } from "@flowplane/logging";

// The host's side of an engine that stops serving (lfx dying), with a stand-in engine so the
// moment is deterministic: readiness flips at once and `failed` carries the reason.
test("an engine's fatal report makes /ready answer 503 'failed' and resolves host.failed", async () => {
  const dir = oneFlowBundle("fp-fatal-");
  let hooks: EngineHooks | undefined;
  const engine = standInEngine();
  const logs = memoryLogger("info");
  const host = await startHost({
    config: readConfig({ FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_RUNTIME_PORT: "0" }),
    log: logs.log,
    createEngine: (_choice, _flows, _lfx, h) => ((hooks = h), engine),
  });
  try {
    await host.loaded;
    assert.equal((await fetch(`${host.url}/ready`)).status, 200);
    hooks?.onFatal("lfx serve was killed by SIGKILL");
    const res = await fetch(`${host.url}/ready`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: "failed", flows: 1 });
    assert.equal(await host.failed, "lfx serve was killed by SIGKILL");
    assert.ok(logs.lines.some((l) => l.msg === "engine stopped" && String(l.reason).includes("SIGKILL")));
  } finally {
    await host.shutdown();
  }
});

test("an engine that fails to close: shutdown says so in one line and still resolves, probe listener closed", async () => {
  const dir = oneFlowBundle("fp-close-");
  const engine = standInEngine(() => Promise.reject(new Error("lfx serve would not stop")));
  const logs = memoryLogger("info");
  const host = await startHost({
    config: readConfig({ FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_PROBE_PORT: "0", FLOWPLANE_DRAIN_DELAY_MS: "0" }),
    log: logs.log,
    createEngine: () => engine,
  });
  await host.loaded;
  assert.equal((await fetch(`${host.probeUrl}/ready`)).status, 200);
  assert.equal(await host.shutdown(), true);
  assert.ok(logs.lines.some((l) => l.msg === "engine did not close cleanly" && l.reason === "lfx serve would not stop"), JSON.stringify(logs.lines));
  await assert.rejects(fetch(`${host.probeUrl}/ready`), "the probe listener is closed");
});

test("engine choice: auto takes native when it implements every component, else lfx; an explicit choice wins", async () => {
  const native = parseFlow(loadFixture("simple-chat-no-llm"));
  const custom = parseFlow(loadFixture("env-variable-test"));
  assert.equal((await createEngine("auto", [native])).name, "native");
  assert.equal((await createEngine("auto", [native, custom])).name, "lfx", "one component native lacks sends the whole bundle to lfx");
  assert.equal((await createEngine("lfx", [native])).name, "lfx");
  // Refusing native for a bundle it cannot run is the deploy validation's job; at load, native names what it lacks.
  assert.equal((await createEngine("native", [native, custom])).name, "native");
});
