import assert from "node:assert/strict";
import { test } from "node:test";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { PodMetricsReader, usageOfPod } from "./pod-metrics.js";

test("usageOfPod: a PodMetrics as metrics-server answers it, containers summed; bad quantities refused", () => {
  assert.deepEqual(usageOfPod({ metadata: { name: "runtime-abc" }, containers: [{ usage: { cpu: "250000000n", memory: "120Mi" } }, { usage: { cpu: "5m", memory: "1024Ki" } }] }),
    { replica: "runtime-abc", cpuCores: 0.255, memoryBytes: 121 * 1024 * 1024 });
  assert.equal(usageOfPod({ metadata: { name: "x" }, containers: [{ usage: { cpu: "lots", memory: "1Mi" } }] }), null);
  assert.equal(usageOfPod({ containers: [] }), null, "no name, no replica");
});

test("PodMetricsReader: one cluster-wide list serves every namespace until it is ttlMs old; a 404 says metrics-server is missing", async () => {
  let now = 0;
  const asked: unknown[] = [];
  let answer: () => Promise<unknown> = async () => ({
    items: [
      { metadata: { name: "runtime-a", namespace: "ns-1" }, containers: [{ usage: { cpu: "100m", memory: "10Mi" } }] },
      { metadata: { name: "runtime-b", namespace: "ns-2" }, containers: [{ usage: { cpu: "200m", memory: "20Mi" } }] },
      { metadata: { name: "gone", namespace: "ns-2" }, containers: [{ usage: { cpu: "1", memory: "1Mi" } }] },
    ],
  });
  const api = { listClusterCustomObject: (req: unknown) => { asked.push(req); return answer(); } } as unknown as CustomObjectsApi;
  const reader = new PodMetricsReader({ api, labelSelector: "app.kubernetes.io/managed-by=flowplane", send: (r) => r(), ttlMs: 5000, now: () => now });
  const [one, two] = await Promise.all([reader.read("ns-1", new Set(["runtime-a"])), reader.read("ns-2", new Set(["runtime-b"]))]);
  assert.deepEqual(one, { available: true, replicas: [{ replica: "runtime-a", cpuCores: 0.1, memoryBytes: 10 * 1024 * 1024 }] });
  assert.deepEqual(two, { available: true, replicas: [{ replica: "runtime-b", cpuCores: 0.2, memoryBytes: 20 * 1024 * 1024 }] }, "a pod the informer no longer holds is left out");
  assert.deepEqual(await reader.read("ns-3", new Set(["x"])), { available: true, replicas: [] });
  assert.equal(asked.length, 1, "one request for three namespaces");
  assert.deepEqual(asked[0], { group: "metrics.k8s.io", version: "v1beta1", plural: "pods", labelSelector: "app.kubernetes.io/managed-by=flowplane" });
  now = 5000;
  answer = async () => { throw Object.assign(new Error("not found"), { code: 404 }); };
  const missing = await reader.read("ns-1", new Set(["runtime-a"]));
  assert.equal(missing.available, false);
  assert.match(missing.available ? "" : missing.reason, /metrics-server/);
  await reader.read("ns-2", new Set(["runtime-b"]));
  assert.equal(asked.length, 2, "the failure is kept as long as an answer");
});
