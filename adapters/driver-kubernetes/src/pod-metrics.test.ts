import assert from "node:assert/strict";
import { test } from "node:test";
import { usageOfPod } from "./pod-metrics.js";

test("usageOfPod: a PodMetrics as metrics-server answers it, containers summed; bad quantities refused", () => {
  assert.deepEqual(usageOfPod({ metadata: { name: "runtime-abc" }, containers: [{ usage: { cpu: "250000000n", memory: "120Mi" } }, { usage: { cpu: "5m", memory: "1024Ki" } }] }),
    { replica: "runtime-abc", cpuCores: 0.255, memoryBytes: 121 * 1024 * 1024 });
  assert.equal(usageOfPod({ metadata: { name: "x" }, containers: [{ usage: { cpu: "lots", memory: "1Mi" } }] }), null);
  assert.equal(usageOfPod({ containers: [] }), null, "no name, no replica");
});
