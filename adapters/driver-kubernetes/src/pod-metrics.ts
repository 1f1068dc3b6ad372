import type { CustomObjectsApi } from "@kubernetes/client-node";
import { parseQuantity, type ReplicaUsage, type ReplicaUsageReading } from "@flowplane/core";
import { statusOf } from "./status.js";

/**
 * Replicas' CPU and memory from the cluster's resource metrics API (metrics.k8s.io, served by
 * metrics-server): a PodMetrics per pod, summed over its containers. CPU is the rate over the
 * metrics window; memory the working set, what the kubelet evicts on. A cluster without that
 * API answers "not available" with the reason: nothing is guessed.
 */
interface PodMetrics {
  metadata?: { name?: string };
  containers?: { usage?: { cpu?: string; memory?: string } }[];
}

/** One pod's usage, or null when its quantities do not parse. */
export function usageOfPod(p: PodMetrics): ReplicaUsage | null {
  let cpu = 0;
  let memory = 0;
  for (const c of p.containers ?? []) {
    const cores = parseQuantity(c.usage?.cpu ?? "0");
    const bytes = parseQuantity(c.usage?.memory ?? "0");
    if (cores === null || bytes === null) return null;
    cpu += cores;
    memory += bytes;
  }
  return p.metadata?.name ? { replica: p.metadata.name, cpuCores: cpu, memoryBytes: Math.round(memory) } : null;
}

export async function readPodMetrics(api: CustomObjectsApi, namespace: string, pods: Set<string>): Promise<ReplicaUsageReading> {
  let list: { items?: PodMetrics[] };
  try {
    list = await api.listNamespacedCustomObject({ group: "metrics.k8s.io", version: "v1beta1", namespace, plural: "pods" }) as { items?: PodMetrics[] };
  } catch (e) {
    const status = statusOf(e);
    if (status === 404) return { available: false, reason: "the cluster serves no resource metrics API (metrics.k8s.io): install metrics-server to see CPU and memory per replica" };
    if (status === 403) return { available: false, reason: "flowplane's service account may not read metrics.k8s.io pods (RBAC)" };
    return { available: false, reason: `the resource metrics API failed (${status ?? "no answer"})` };
  }
  const replicas: ReplicaUsage[] = [];
  for (const item of list.items ?? []) {
    const u = usageOfPod(item);
    if (u && pods.has(u.replica)) replicas.push(u);
  }
  return { available: true, replicas };
}
