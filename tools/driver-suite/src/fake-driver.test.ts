import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_RESOURCES, type RuntimeSpec } from "@flowplane/core";
import { driverCases } from "./driver.cases.js";
import { FakeDriver } from "./fake-driver.js";

// The fake keeps the contract the real drivers keep, so tests built on it test against that contract.
driverCases("fake", {
  endpointsAnswer: false,
  logsAnswer: true,
  timeoutMs: 5_000,
  async create() {
    const driver = new FakeDriver();
    return { driver, cleanup: () => driver.close() };
  },
});

describe("fake driver: the controls tests use", () => {
  const spec = (generation: number, replicas = 2): RuntimeSpec => ({
    deploymentId: "d", projectId: "p", resourceName: "r", generation, bundle: { name: "b", version: "1", digest: "sha256:x" },
    bundleUrl: "http://x.invalid", identityToken: "t", gatewaySecret: "g", engine: "native", logLevel: "info", requestTimeoutSeconds: 5,
    networkAccess: "public", resources: { ...DEFAULT_RESOURCES, replicas }, env: { K: "v" },
  });

  it("keeps replicas starting until makeReady in manual mode, and announces the change", async () => {
    const d = new FakeDriver({ readiness: "manual" });
    const seen: string[] = [];
    d.onChange((n) => seen.push(n));
    await d.apply(spec(1));
    assert.deepEqual((await d.observe("r")).replicas.map((r) => r.state), ["starting", "starting"]);
    assert.deepEqual(d.endpoints("r"), []);
    d.makeReady("r");
    assert.deepEqual((await d.observe("r")).replicas.map((r) => r.state), ["ready", "ready"]);
    assert.equal(d.endpoints("r").length, 2);
    assert.deepEqual(seen, ["r"]);
  });

  it("rolls with the old replicas serving until the new ones are ready", async () => {
    const d = new FakeDriver({ readiness: "manual" });
    await d.apply(spec(1));
    d.makeReady("r");
    await d.apply(spec(2));
    const mid = await d.observe("r");
    assert.deepEqual(mid.replicas.map((r) => `${r.generation}:${r.state}`), ["1:ready", "1:ready", "2:starting", "2:starting"]);
    d.makeReady("r");
    await d.apply(spec(2));
    assert.deepEqual((await d.observe("r")).replicas.map((r) => `${r.generation}:${r.state}`), ["2:ready", "2:ready"]);
  });

  it("crashes replicas with a reason, counts restarts, and reports a failure", async () => {
    const d = new FakeDriver({ readiness: "manual" });
    await d.apply(spec(1));
    d.makeReady("r");
    d.crash("r", { message: "exit 1", count: 1 });
    let ob = await d.observe("r");
    assert.deepEqual(ob.replicas.map((r) => [r.state, r.restarts, r.lastError]), [["crashed", 1, "exit 1"], ["ready", 0, undefined]]);
    d.crash("r", { message: "exit 1", failure: { reason: "CrashLoopBackOff", message: "exits at start" } });
    ob = await d.observe("r");
    assert.equal(ob.failure?.reason, "CrashLoopBackOff");
    assert.ok(ob.replicas.every((r) => r.state === "crashed"));
  });

  it("counts calls, fails the next one on request, and holds one in a hook", async () => {
    const d = new FakeDriver();
    d.failNext("apply", new Error("boom"), "r");
    await assert.rejects(d.apply(spec(1)), /boom/);
    assert.equal((await d.observe("r")).exists, false, "a failed call has no effect");
    await d.apply(spec(1));
    assert.equal(d.count("apply", "r"), 2);
    assert.equal(d.count("apply", "other"), 0);
    let release = () => undefined as void;
    const held = new Promise<void>((r) => (release = r));
    const remove = d.intercept("delete", () => held);
    let deleted = false;
    const p = d.delete("r").then(() => (deleted = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(deleted, false, "held by the hook");
    release();
    await p;
    remove();
    assert.deepEqual(await d.list(), []);
    assert.deepEqual(d.calls.map((c) => c.method), ["apply", "observe", "apply", "delete", "list"]);
  });
});
