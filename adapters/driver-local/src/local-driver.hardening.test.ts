import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, GATEWAY_SECRET_HEADER, type RuntimeSpec } from "@flowplane/core";
import { startBundleServer, type BundleServer } from "@flowplane/driver-suite";
import { loadFixture, repoRoot } from "@flowplane/testkit";
import { memoryLogger } from "@flowplane/logging";
import { LocalDriver, type LocalDriverOptions } from "./local-driver.js";

const RUNTIME = join(repoRoot, "apps", "runtime", "dist", "main.js");
const GATEWAY = "hardening-gateway-secret";

/** simple-chat-no-llm whose Chat Input reads the global variable `variable` (Langflow's load_from_db). */
function echoOf(variable: string, id: string): Record<string, unknown> {
  const flow = structuredClone(loadFixture("simple-chat-no-llm")) as { id: string; name: string; endpoint_name?: string; data: { nodes: { data: { type: string; node: { template: Record<string, Record<string, unknown>> } } }[] } };
  flow.id = id;
  flow.name = `echo ${variable}`;
  delete flow.endpoint_name;
  const input = flow.data.nodes.find((n) => n.data.type === "ChatInput")!;
  Object.assign(input.data.node.template.input_value!, { value: variable, load_from_db: true });
  return flow;
}

const ATTACK_ID = "0c4a9d8e-1f2b-4c3d-8e9f-a0b1c2d3e4f5";
const PATH_ID = "1d5b0e9f-2a3c-4d4e-9f0a-b1c2d3e4f5a6";

describe("local driver: what reaches a replica, and what a bad value cannot do", () => {
  let root: string;
  let bundles: BundleServer;
  let driver: LocalDriver;
  const logs = memoryLogger();
  // What an attacker sets: code Node runs at start if it ever reaches NODE_OPTIONS. It prints a
  // marker the value itself does not contain; the replica's stdout goes to its log file.
  const payload = "--import=data:text/javascript,console.log('flowplane'+'-pwned')";
  const PWNED = "flowplane-pwned";
  const options = (over: Partial<LocalDriverOptions> = {}): LocalDriverOptions => ({
    root, command: [process.execPath, RUNTIME], baseEnv: { PATH: process.env.PATH ?? "" },
    probeIntervalMs: 100, backoff: { baseMs: 200, maxMs: 1000 }, shutdownGraceMs: 3000,
    log: logs.log,
    ...over,
  });
  const spec = (resourceName: string, env: Record<string, string>, over: Partial<RuntimeSpec> = {}): RuntimeSpec => ({
    deploymentId: `dep-${resourceName}`, projectId: "p", resourceName, generation: 1,
    bundle: { name: "suite", version: bundles.versionTag, digest: bundles.digest },
    bundleUrl: bundles.url(`dep-${resourceName}`), identityToken: bundles.token(`dep-${resourceName}`), gatewaySecret: GATEWAY,
    engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
    resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env, ...over,
  });
  const until = async (s: RuntimeSpec, cond: () => Promise<boolean>, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline) assert.fail(`timed out: ${JSON.stringify(await driver.observe(s.resourceName))}`);
      await driver.apply(s);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const ready = (s: RuntimeSpec) => async () => (await driver.observe(s.resourceName)).replicas.some((r) => r.state === "ready");
  /** Every line any log holds: the driver's and every replica's. */
  const allLogs = async () => {
    const out = [logs.text()];
    for (const dir of await readdir(root)) for (const f of await readdir(join(root, dir)).catch(() => [])) out.push(await readFile(join(root, dir, f), "utf8"));
    return out.join("\n");
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "flowplane-harden-"));
    bundles = await startBundleServer([echoOf("ATTACK", ATTACK_ID), echoOf("PATH", PATH_ID)]);
    driver = await LocalDriver.create(options());
  });
  after(async () => {
    for (const name of await driver.list()) await driver.delete(name).catch(() => undefined);
    await driver.close();
    await bundles.close();
    await rm(root, { recursive: true, force: true });
  });

  it("a NODE_OPTIONS parameter does nothing; the same payload under an allowed name is a plain flow variable", async () => {
    // The payload is live: given to node as NODE_OPTIONS, it runs.
    const live = spawnSync(process.execPath, ["-e", ""], { env: { PATH: process.env.PATH ?? "", NODE_OPTIONS: payload }, encoding: "utf8" });
    assert.match(live.stdout, new RegExp(PWNED));
    const s = spec("env-attack", { NODE_OPTIONS: payload, LD_PRELOAD: "/tmp/evil.so", FLOWPLANE_BUNDLE_URL: "http://127.0.0.1:1/evil", ATTACK: payload });
    await until(s, ready(s));
    assert.ok(!(await allLogs()).includes(PWNED), "the payload never ran");
    const [pid] = driver.pids("env-attack");
    const env = new Map((await readFile(`/proc/${pid}/environ`, "utf8")).split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    assert.match(env.get("NODE_OPTIONS") ?? "", /^--max-old-space-size=\d+$/, "only the driver's own NODE_OPTIONS");
    assert.equal(env.has("LD_PRELOAD"), false);
    assert.equal(env.get("FLOWPLANE_BUNDLE_URL"), s.bundleUrl);
    assert.equal(env.get("ATTACK"), payload);
    assert.deepEqual(JSON.parse(env.get("FLOWPLANE_PARAMETER_NAMES")!), ["ATTACK"], "PATH is the process's, not the flow's");
    assert.equal(env.get("FLOWPLANE_GATEWAY_SECRET"), GATEWAY);
    // An explicit list, nothing of the control plane's own environment: PATH (baseEnv), the heap
    // cap, the malloc arena cap, the parameter, the runtime's settings, and the sandbox's own HOME,
    // TMPDIR (and PWD, set by bwrap's chdir).
    const sandboxOwn = new Set(["HOME", "TMPDIR", "PWD"]);
    assert.deepEqual([...env.keys()].filter((k) => !k.startsWith("FLOWPLANE_") && !sandboxOwn.has(k)).sort(), ["ATTACK", "MALLOC_ARENA_MAX", "NODE_OPTIONS", "PATH"]);

    const [ep] = driver.endpoints("env-attack");
    const run = async (flowId: string) => fetch(`${ep}/flows/${flowId}/run`, { method: "POST", headers: { "content-type": "application/json", [GATEWAY_SECRET_HEADER]: GATEWAY }, body: JSON.stringify({ input_value: "overridden by the bound variable" }) });
    const echoed = await run(ATTACK_ID);
    assert.equal(echoed.status, 200);
    assert.equal(((await echoed.json()) as { result: string }).result, payload, "the value reaches the flow as plain text");
    assert.ok(!(await allLogs()).includes(PWNED), "and executes nothing");
    const path = await run(PATH_ID);
    assert.equal(path.status, 500);
    assert.match(JSON.stringify(await path.json()), /global variable \\"PATH\\" is not set/, "PATH is no flow variable");

    const dropped = logs.lines.filter((l) => l.msg.includes("reserved parameter names dropped"));
    assert.equal(dropped.length, 1, "one warning for the generation");
    assert.deepEqual(dropped[0]!.names, ["FLOWPLANE_BUNDLE_URL", "LD_PRELOAD", "NODE_OPTIONS"]);
    assert.ok(!(await allLogs()).includes("evil.so"), "names, never values");
  });

  it("a replica answers only requests carrying its gateway secret; its probes stay open", async () => {
    const [ep] = driver.endpoints("env-attack");
    assert.equal((await fetch(`${ep}/flows`)).status, 401);
    assert.equal((await fetch(`${ep}/flows`, { headers: { [GATEWAY_SECRET_HEADER]: "guess" } })).status, 401);
    assert.equal((await fetch(`${ep}/flows`, { headers: { [GATEWAY_SECRET_HEADER]: GATEWAY } })).status, 200);
    assert.equal((await fetch(`${ep}/ready`)).status, 200);
    assert.equal((await fetch(`${ep}/health`)).status, 200);
  });

  it("values no process environment can hold fail their deployment with a reason, never the driver", async () => {
    const nul = spec("bad-nul", { API_TOKEN: "nul-secret-\0-tail" });
    const big = spec("bad-big", { API_TOKEN: `big-secret-marker${"x".repeat(200 * 1024)}` });
    for (const s of [nul, big]) {
      await until(s, async () => (await driver.observe(s.resourceName)).failure !== undefined);
      const ob = await driver.observe(s.resourceName);
      assert.equal(ob.failure?.reason, "InvalidConfiguration", s.resourceName);
      assert.match(ob.failure?.message ?? "", /API_TOKEN/, "the message names the variable");
      assert.equal(driver.endpoints(s.resourceName).length, 0);
    }
    // Retries after the back-off fail the same way, quietly; the other deployment keeps serving.
    await new Promise((r) => setTimeout(r, 1500));
    for (const s of [nul, big]) await driver.apply(s);
    const [ep] = driver.endpoints("env-attack");
    assert.equal((await fetch(`${ep}/flows`, { headers: { [GATEWAY_SECRET_HEADER]: GATEWAY } })).status, 200);
    const text = await allLogs();
    assert.ok(!text.includes("nul-secret"), "the NUL value is in no log");
    assert.ok(!text.includes("big-secret-marker"), "the large value is in no log");
    assert.ok(!JSON.stringify(await driver.observe("bad-nul")).includes("nul-secret"));
  });

  it("a runtime command that does not exist fails the deployment (RuntimeNotFound), never the process", async () => {
    const broken = await LocalDriver.create(options({ root: join(root, "..", `${root.split("/").pop()}-missing`), command: ["/nonexistent/flowplane-runtime"] }));
    try {
      const s = spec("missing-bin", { GREETING: "hi" });
      const deadline = Date.now() + 15_000;
      while ((await broken.observe("missing-bin")).failure === undefined) {
        if (Date.now() > deadline) assert.fail(JSON.stringify(await broken.observe("missing-bin")));
        await broken.apply(s);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal((await broken.observe("missing-bin")).failure?.reason, "RuntimeNotFound");
      await broken.delete("missing-bin");
    } finally {
      await broken.close();
      await rm(join(root, "..", `${root.split("/").pop()}-missing`), { recursive: true, force: true });
    }
  });

  it("a replica under load stays ready: no flapping in its status history", async () => {
    const loaded = await LocalDriver.create(options({ root: join(root, "..", `${root.split("/").pop()}-load`), readyProbeIntervalMs: 200 }));
    try {
      const s = spec("loaded", { ATTACK: "plain" });
      const deadline = Date.now() + 30_000;
      while (!(await loaded.observe("loaded")).replicas.some((r) => r.state === "ready")) {
        if (Date.now() > deadline) assert.fail(JSON.stringify(await loaded.observe("loaded")));
        await loaded.apply(s);
        await new Promise((r) => setTimeout(r, 100));
      }
      const history: string[] = [];
      const record = async () => { for (const r of (await loaded.observe("loaded")).replicas) history.push(`${r.id}:${r.state}`); };
      loaded.onChange(() => void record());
      const [ep] = loaded.endpoints("loaded");
      // A bounded load: 64 concurrent callers, until 4 s have passed or 4,000 runs are done.
      let runs = 0;
      let failures = 0;
      const stopAt = Date.now() + 4000;
      const caller = async () => {
        while (Date.now() < stopAt && runs < 4000) {
          runs++;
          const r = await fetch(`${ep}/flows/${ATTACK_ID}/run`, { method: "POST", headers: { "content-type": "application/json", [GATEWAY_SECRET_HEADER]: GATEWAY }, body: JSON.stringify({ input_value: "x".repeat(2000) }) }).catch(() => null);
          if (r?.status !== 200) failures++;
          await r?.arrayBuffer();
        }
      };
      const poller = (async () => { while (Date.now() < stopAt) { await record(); await new Promise((r) => setTimeout(r, 50)); } })();
      await Promise.all([...Array.from({ length: 64 }, caller), poller]);
      await record();
      assert.ok(runs > 64, `the load ran (${runs} runs)`);
      assert.equal(failures, 0);
      const [first] = history;
      assert.match(first ?? "", /:ready$/);
      assert.deepEqual([...new Set(history)], [first], "one replica, ready throughout");
    } finally {
      await loaded.delete("loaded");
      await loaded.close();
      await rm(join(root, "..", `${root.split("/").pop()}-load`), { recursive: true, force: true });
    }
  });

  it("a corrupt state.json is survived: the next driver adopts nothing from it and starts afresh", async () => {
    const s = spec("env-attack", { ATTACK: "plain" }, { generation: 2 });
    await until(s, async () => (await driver.observe("env-attack")).replicas.every((r) => r.generation === 2 && r.state === "ready"));
    await driver.close();
    for (const text of ["{not json", '{"resourceName":"x","deploymentId":"y","appliedGeneration":1,"replicas":"nope"}', '{"resourceName":"x","deploymentId":"y","appliedGeneration":1,"replicas":[{"id":"../x","pid":-1}]}']) {
      const { writeFile } = await import("node:fs/promises");
      await writeFile(join(root, "env-attack", "state.json"), text);
      const d = await LocalDriver.create(options());
      assert.deepEqual(d.pids("env-attack"), []);
      await d.close();
    }
    driver = await LocalDriver.create(options());
    await until(s, ready(s));
  });
});
