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
  metadata?: { name?: string; namespace?: string };
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

/** One answer of the metrics API for every namespace: the PodMetrics by namespace, or why there are none. */
type ClusterReading = { ok: true; byNamespace: Map<string, PodMetrics[]> } | { ok: false; reason: string };

/**
 * The resource metrics of every flowplane pod, read with one cluster-wide list (by the driver's
 * label selector) and kept `ttlMs`: the metrics sampler asks for each deployment in turn every
 * period, and a list per namespace was a request per deployment every 10 s (100 a second at
 * 1,000 deployments; `npm run bench -- k8s`), each answered 404 on a cluster without
 * metrics-server. Concurrent reads share one request; a failure is kept as long as an answer.
 */
export class PodMetricsReader {
  private cached: { at: number; reading: Promise<ClusterReading> } | undefined;

  constructor(private readonly o: {
    api: CustomObjectsApi;
    labelSelector: string;
    /** Sends a request through the driver's rate limit. */
    send: <T>(request: () => Promise<T>) => Promise<T>;
    ttlMs?: number;
    now?: () => number;
  }) {}

  async read(namespace: string, pods: Set<string>): Promise<ReplicaUsageReading> {
    const now = (this.o.now ?? (() => performance.now()))(); // monotonic: a wall clock stepped back would keep the reading for that long
    if (!this.cached || now - this.cached.at >= (this.o.ttlMs ?? 5_000)) this.cached = { at: now, reading: this.list() };
    const reading = await this.cached.reading;
    if (!reading.ok) return { available: false, reason: reading.reason };
    const replicas: ReplicaUsage[] = [];
    for (const item of reading.byNamespace.get(namespace) ?? []) {
      const u = usageOfPod(item);
      if (u && pods.has(u.replica)) replicas.push(u);
    }
    return { available: true, replicas };
  }

  private async list(): Promise<ClusterReading> {
    let list: { items?: PodMetrics[] };
    try {
      list = await this.o.send(() => this.o.api.listClusterCustomObject({ group: "metrics.k8s.io", version: "v1beta1", plural: "pods", labelSelector: this.o.labelSelector })) as { items?: PodMetrics[] };
    } catch (e) {
      const status = statusOf(e);
      if (status === 404) return { ok: false, reason: "the cluster serves no resource metrics API (metrics.k8s.io): install metrics-server to see CPU and memory per replica" };
      if (status === 403) return { ok: false, reason: "flowplane's service account may not read metrics.k8s.io pods (RBAC)" };
      return { ok: false, reason: `the resource metrics API failed (${status ?? "no answer"})` };
    }
    const byNamespace = new Map<string, PodMetrics[]>();
    for (const item of list.items ?? []) {
      const ns = item.metadata?.namespace ?? "";
      const items = byNamespace.get(ns) ?? [];
      items.push(item);
      byNamespace.set(ns, items);
    }
    return { ok: true, byNamespace };
  }
}
