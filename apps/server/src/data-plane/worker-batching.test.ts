import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { waitFor } from "@flowplane/testkit";
import type { GatewayCall } from "../runs/call.js";
import type { FromWorker } from "./protocol.js";
import { WorkerIdle } from "./worker-idle.js";
import { IpcRunRecorder } from "./worker-runs.js";

/** What a worker sends its control plane for scale to zero and the run history: batches, never one message per request. */

test("activity: the first is sent at once, the rest of a burst in one report; totals are exact", async () => {
  const sent: FromWorker[] = [];
  const idle = new WorkerIdle({ send: (m) => sent.push(m), wake: async () => {} });
  idle.activity("d1", 1);
  assert.equal(sent.length, 1, "the first activity after a quiet spell goes at once");
  for (let i = 0; i < 500; i++) {
    idle.activity("d1", 1);
    idle.activity("d2", 1);
    idle.activity("d1", -1);
  }
  idle.activity("d1", -1);
  await waitFor(() => sent.length === 2, { timeoutMs: 5_000, intervalMs: 20, message: "the trailing report" });
  const totals = new Map<string, [number, number]>();
  for (const m of sent) {
    assert.equal(m.t, "activity");
    if (m.t !== "activity") continue;
    for (const [id, s, e] of m.items) {
      const t = totals.get(id) ?? [0, 0];
      totals.set(id, [t[0] + s, t[1] + e]);
    }
  }
  assert.deepEqual(Object.fromEntries(totals), { d1: [501, 501], d2: [500, 0] });
});

test("wake: concurrent wake-ups of one deployment ask the control plane once", async () => {
  let asked = 0;
  let done!: () => void;
  const idle = new WorkerIdle({ send: () => {}, wake: () => { asked++; return new Promise<void>((r) => { done = r; }); } });
  const all = Promise.all(Array.from({ length: 10 }, () => idle.wake("d1", 1_000)));
  assert.equal(asked, 1);
  done();
  await all;
  const later = idle.wake("d1", 1_000);
  assert.equal(asked, 2, "a later wake-up asks again");
  done();
  await later;
});

const call = (i: number): GatewayCall => ({
  route: { deploymentId: "d1", projectId: "p1", kind: "http" }, userId: "u", keyId: "k", requestId: `r${i}`, method: "POST",
  path: "/flows/f1/run", headers: {}, body: Buffer.from('{"session_id":"s1"}'), status: 200, latencyMs: 3, errorCode: undefined, revision: 2,
});

test("runs: turned into runs in the worker, sent in batches of at most 200, the rest after a short delay", async () => {
  const sent: FromWorker[] = [];
  const rec = new IpcRunRecorder({ send: (m) => sent.push(m), registry: new Registry() });
  for (let i = 0; i < 450; i++) rec.record(call(i));
  assert.equal(sent.length, 2, "two full batches at once");
  await waitFor(() => sent.length === 3, { timeoutMs: 5_000, intervalMs: 20, message: "the partial batch" });
  const runs = sent.flatMap((m) => (m.t === "runs" ? m.runs : []));
  assert.equal(runs.length, 450);
  assert.deepEqual([runs[0]!.requestId, runs[0]!.flowId, runs[0]!.sessionId, runs[0]!.revision], ["r0", "f1", "s1", 2]);
  // A call never admitted to a deployment is no run.
  rec.record({ ...call(999), route: undefined });
  rec.flush();
  assert.equal(sent.length, 3);
});
