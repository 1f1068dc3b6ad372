import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { REFUSED_AFTER_MS, ofCurrentDeployment, refusedPods, replicaOf } from "./pods.js";

const pod = (over: { ready?: boolean; waiting?: { reason: string; message?: string }; terminated?: { exitCode: number; message?: string }; phase?: string;
  scheduled?: { status: string; reason?: string; message?: string }; deleting?: boolean; restarts?: number } = {}): V1Pod => ({
  metadata: { name: "runtime-abc", annotations: { "flowplane.io/generation": "4" }, ...(over.deleting ? { deletionTimestamp: new Date() } : {}) },
  status: {
    phase: over.phase ?? "Running",
    conditions: [
      { type: "Ready", status: over.ready ? "True" : "False" },
      ...(over.scheduled ? [{ type: "PodScheduled", ...over.scheduled }] : []),
    ],
    containerStatuses: [{
      name: "runtime", image: "flowplane/runtime:0.1.0", imageID: "", ready: !!over.ready, restartCount: over.restarts ?? 0,
      state: over.waiting ? { waiting: over.waiting } : { running: {} },
      ...(over.terminated ? { lastState: { terminated: over.terminated } } : {}),
    }],
  },
} as V1Pod);

describe("pods as replicas", () => {
  it("reads the revision label, when there is a valid one", () => {
    const labelled = (v: string) => replicaOf({ ...pod({ ready: true }), metadata: { name: "runtime-abc", annotations: { "flowplane.io/generation": "4" }, labels: { "flowplane.io/revision": v } } });
    assert.equal(labelled("3").revision, 3);
    assert.equal(labelled("x").revision, undefined);
    assert.equal(labelled("0").revision, undefined);
  });

  it("reads generation, readiness and draining", () => {
    assert.deepEqual(replicaOf(pod({ ready: true, restarts: 2 })), { id: "runtime-abc", generation: 4, restarts: 2, state: "ready" });
    assert.equal(replicaOf(pod()).state, "starting");
    assert.equal(replicaOf(pod({ ready: true, deleting: true })).state, "draining");
  });

  it("turns a crash loop into the runtime's own reason, from its termination message", () => {
    const r = replicaOf(pod({ waiting: { reason: "CrashLoopBackOff" }, restarts: 3,
      terminated: { exitCode: 1, message: '{"level":"error","msg":"start-up failed","reason":"bundle digest mismatch: expected sha256:a, the flows hash to sha256:b"}' } }));
    assert.equal(r.state, "crashed");
    assert.equal(r.failure?.reason, "DigestMismatch");
    assert.match(r.failure?.message ?? "", /^bundle digest mismatch/);
    const dl = replicaOf(pod({ waiting: { reason: "CrashLoopBackOff" }, terminated: { exitCode: 1, message: '{"level":"error","msg":"start-up failed","reason":"bundle download from http://x failed after 6 attempts: 503"}' } }));
    assert.equal(dl.failure?.reason, "BundleDownloadFailed");
    const plain = replicaOf(pod({ waiting: { reason: "CrashLoopBackOff" }, terminated: { exitCode: 137 } }));
    assert.equal(plain.failure?.reason, "CrashLoopBackOff");
  });

  it("names image pull failures and unschedulable pods", () => {
    const pull = replicaOf(pod({ phase: "Pending", waiting: { reason: "ImagePullBackOff", message: "Back-off pulling image" } }));
    assert.deepEqual([pull.state, pull.failure?.reason], ["crashed", "ImagePullBackOff"]);
    const unsched = replicaOf(pod({ phase: "Pending", scheduled: { status: "False", reason: "Unschedulable", message: "0/4 nodes are available: 4 Insufficient cpu." } }));
    assert.deepEqual([unsched.state, unsched.failure?.reason], ["starting", "Unschedulable"]);
    assert.match(unsched.failure?.message ?? "", /Insufficient cpu/);
  });
});

describe("ofCurrentDeployment", () => {
  it("tells the current Deployment's pods from another revision's by the name's parts, a replicaset hash beginning with r included", () => {
    const named = (name: string): V1Pod => ({ metadata: { name } });
    assert.equal(ofCurrentDeployment(named("runtime-7d9f8b6c5-x2k4p")), true);
    assert.equal(ofCurrentDeployment(named("runtime-r5fd8c7b9-x2k4p")), true, "a replicaset hash that begins with r");
    assert.equal(ofCurrentDeployment(named("runtime-r3-7d9f8b6c5-x2k4p")), false);
    assert.equal(ofCurrentDeployment(named("runtime-r12-r5fd8c7b9-x2k4p")), false);
  });
});

describe("refusedPods", () => {
  const dep = (since: number, status = "True") => ({ spec: { selector: {}, template: {} }, status: { conditions: [{ type: "ReplicaFailure", status, reason: "FailedCreate", message: 'pods "runtime-abc-" is forbidden: exceeded quota: q', lastTransitionTime: new Date(since) }] } });
  it("is a failure once the ReplicaSet's FailedCreate has lasted, with no pod of the generation there", () => {
    const now = 1_000_000;
    assert.deepEqual(refusedPods(dep(now - REFUSED_AFTER_MS), 0, now), { reason: "PodsRefused", message: 'the cluster refuses to create the deployment\'s pods: pods "runtime-abc-" is forbidden: exceeded quota: q' });
    assert.equal(refusedPods(dep(now - REFUSED_AFTER_MS + 1), 0, now), undefined, "a moment's refusal is not one");
    assert.equal(refusedPods(dep(now - 60_000), 1, now), undefined, "a pod is there: its own state says what is wrong");
    assert.equal(refusedPods(dep(now - 60_000, "False"), 0, now), undefined);
    assert.equal(refusedPods({ spec: { selector: {}, template: {} } }, 0, now), undefined);
  });
});
