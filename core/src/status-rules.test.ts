import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_RESOURCES, DEFAULT_RUNTIME, type Deployment } from "./deployment.js";
import type { ObservedReplica, ObservedRuntime } from "./driver.js";
import { initialStatus } from "./status.js";
import { computeStatus, isSettled } from "./status-rules.js";

const d = (generation: number, replicas: number): Deployment => ({
  id: "d", projectId: "p", displayName: "d", resourceName: "d-abc", appId: "a", routes: { http: "h", mcp: "m" },
  bundle: { name: "b", version: "1", digest: "sha256:x" }, networkAccess: "public", runtime: DEFAULT_RUNTIME,
  parameters: {}, parameterOverrides: {}, credentialNames: [], resources: { ...DEFAULT_RESOURCES, replicas }, generation, revision: 1,
  status: initialStatus(), createdAt: "", updatedAt: "", createdBy: "u", deletionRequestedAt: null, deletedAt: null,
});
const rep = (generation: number, state: ObservedReplica["state"], restarts = 0): ObservedReplica => ({ id: `${generation}-${state}-${Math.random()}`, generation, state, restarts });
const ob = (appliedGeneration: number, replicas: ObservedReplica[], failure?: ObservedRuntime["failure"]): ObservedRuntime =>
  ({ exists: true, appliedGeneration, replicas, ...(failure ? { failure } : {}) });
const now = "2026-01-01T00:00:00.000Z";
const phase = (dep: Deployment, o: ObservedRuntime) => computeStatus(dep, o, { now }).phase;

describe("status rules", () => {
  it("Disabled wins over what runs, and says whether replicas are kept; a stopped one wants none", () => {
    const off = (stopReplicas: boolean) => ({ ...d(1, 2), disabled: { at: now, by: "ana", stopReplicas } });
    const warm = computeStatus(off(false), ob(1, [rep(1, "ready"), rep(1, "ready")]), { now });
    assert.equal(warm.phase, "Disabled");
    assert.match(warm.conditions.find((c) => c.type === "RuntimeAvailable")!.message, /disabled by ana.*2 replica\(s\) kept warm/);
    assert.deepEqual(warm.conditions.filter((c) => c.type === "Routed").map((c) => [c.status, c.reason]), [["False", "Disabled"]], "the gateway answers 503");
    const stopped = computeStatus(off(true), ob(1, []), { now });
    assert.equal(stopped.phase, "Disabled");
    assert.equal(stopped.conditions.find((c) => c.type === "RuntimeAvailable")!.status, "True", "none running is what was asked");
    assert.equal(isSettled("Disabled"), true);
    assert.equal(phase({ ...d(1, 2), disabled: null }, ob(1, [rep(1, "ready"), rep(1, "ready")])), "Ready");
  });

  it("Idle while scaled to zero: stopping, then none running; the route wakes it; the kill switch wins", () => {
    const sleepy = { ...d(1, 2), sleeping: { since: now } };
    const stopping = computeStatus(sleepy, ob(1, [rep(1, "draining")]), { now });
    assert.deepEqual([stopping.phase, stopping.conditions.find((c) => c.type === "RuntimeAvailable")!.reason], ["Idle", "ScalingToZero"]);
    const idle = computeStatus(sleepy, ob(1, []), { now });
    assert.deepEqual([idle.phase, idle.readyReplicas], ["Idle", 0]);
    assert.equal(idle.conditions.find((c) => c.type === "RuntimeAvailable")!.status, "True", "none running is what is wanted");
    assert.deepEqual(idle.conditions.filter((c) => c.type === "Routed").map((c) => [c.status, c.reason]), [["True", "WakeOnRequest"]]);
    assert.equal(isSettled("Idle"), true);
    assert.equal(phase({ ...sleepy, disabled: { at: now, by: "ana", stopReplicas: true } }, ob(1, [])), "Disabled");
    assert.equal(phase({ ...sleepy, sleeping: null }, ob(1, [rep(1, "ready"), rep(1, "ready")])), "Ready");
  });

  it("walks Provisioning -> Starting -> Ready", () => {
    assert.equal(phase(d(1, 2), { exists: false, appliedGeneration: 0, replicas: [] }), "Provisioning");
    assert.equal(phase(d(1, 2), ob(1, [rep(1, "starting"), rep(1, "starting")])), "Starting");
    assert.equal(phase(d(1, 2), ob(1, [rep(1, "ready"), rep(1, "starting")])), "Starting", "first start, one replica still loading");
    assert.equal(phase(d(1, 2), ob(1, [rep(1, "ready"), rep(1, "starting", 1)])), "Degraded", "a restarted replica is trouble");
    const ready = computeStatus(d(1, 2), ob(1, [rep(1, "ready"), rep(1, "ready")]), { now });
    assert.equal(ready.phase, "Ready");
    assert.equal(ready.readyReplicas, 2);
    assert.equal(ready.observedGeneration, 1);
  });

  it("is Updating while old replicas serve a rollout, Ready only once they are gone", () => {
    assert.equal(phase(d(2, 2), ob(2, [rep(1, "ready"), rep(1, "ready"), rep(2, "starting")])), "Updating");
    assert.equal(phase(d(2, 2), ob(2, [rep(1, "ready"), rep(2, "ready"), rep(2, "ready")])), "Updating");
    assert.equal(phase(d(2, 2), ob(1, [rep(1, "ready"), rep(1, "ready")])), "Updating", "not yet applied");
    assert.equal(phase(d(2, 2), ob(2, [rep(2, "ready"), rep(2, "ready")])), "Ready");
  });

  it("is Degraded when serving with fewer ready replicas than asked, Failed when nothing can serve", () => {
    const crash = { reason: "CrashLoopBackOff", message: "exited" };
    const degraded = computeStatus(d(1, 2), ob(1, [rep(1, "ready"), rep(1, "crashed", 3)], crash), { now });
    assert.equal(degraded.phase, "Degraded");
    assert.equal(degraded.conditions.find((c) => c.type === "RuntimeAvailable")?.reason, "CrashLoopBackOff");
    const failed = computeStatus(d(1, 1), ob(1, [rep(1, "crashed", 1)], { reason: "DigestMismatch", message: "bundle digest mismatch" }), { now });
    assert.equal(failed.phase, "Failed");
    assert.equal(failed.conditions.find((c) => c.type === "RuntimeAvailable")?.reason, "DigestMismatch");
    assert.equal(computeStatus(d(1, 1), ob(1, []), { now, versionMissing: true }).phase, "Failed");
  });

  it("keeps a condition's transition time until its status changes", () => {
    const first = computeStatus(d(1, 1), ob(1, [rep(1, "ready")]), { now });
    const again = computeStatus({ ...d(1, 1), status: first }, ob(1, [rep(1, "ready")]), { now: "2026-02-02T00:00:00.000Z" });
    assert.deepEqual(again.conditions.map((c) => c.lastTransitionTime), first.conditions.map((c) => c.lastTransitionTime));
    const lost = computeStatus({ ...d(1, 1), status: first }, ob(1, [rep(1, "starting")]), { now: "2026-02-02T00:00:00.000Z" });
    assert.equal(lost.conditions.find((c) => c.type === "Routed")?.lastTransitionTime, "2026-02-02T00:00:00.000Z");
  });

  it("reports the driver's isolation as the Isolated condition: True with how, False with why, Unknown before the driver answers", () => {
    const isolated = (o: ObservedRuntime) => computeStatus(d(1, 1), o, { now }).conditions.find((c) => c.type === "Isolated");
    const sandboxed = isolated({ ...ob(1, [rep(1, "ready")]), isolation: { mode: "sandbox", detail: "bubblewrap sandbox as uid 1500000042" } });
    assert.deepEqual([sandboxed?.status, sandboxed?.reason, sandboxed?.message], ["True", "Sandboxed", "bubblewrap sandbox as uid 1500000042"]);
    assert.equal(isolated({ ...ob(1, []), isolation: { mode: "user", detail: "uid 1500000042" } })?.reason, "SeparateUser");
    assert.equal(isolated({ ...ob(1, []), isolation: { mode: "pod", detail: "a pod" } })?.status, "True");
    const open = isolated({ ...ob(1, [rep(1, "ready")]), isolation: { mode: "none", detail: "not root and no user namespaces" } });
    assert.deepEqual([open?.status, open?.reason, open?.message], ["False", "NotIsolated", "not root and no user namespaces"]);
    assert.equal(isolated({ exists: false, appliedGeneration: 0, replicas: [] })?.status, "Unknown");
  });

  it("settles only in Ready and Failed", () => {
    assert.deepEqual(["Provisioning", "Starting", "Ready", "Updating", "Degraded", "Failed", "Deleting"].filter((p) => isSettled(p as never)), ["Ready", "Failed"]);
  });
});
