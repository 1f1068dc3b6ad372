import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import type { LogRead, ReplicaLogChunk } from "@flowplane/core";

/**
 * The Kubernetes driver's `readLogs`: the pods' logs through the API server
 * (`readNamespacedPodLog`, the kubelet behind it), one pod per replica. Lines are asked with
 * their timestamps; a cursor is the last line's timestamp, and the next read asks the seconds
 * since then (the API has no "after this line") and drops the lines not newer than the cursor.
 * Lines written within the cursor's very nanosecond after it was read would be missed; the
 * runtime writes far coarser than that.
 */
const DEFAULT_TAIL = 100;
/**
 * What one read asks of all the pods together, shared evenly (at least 64 KiB each): 1 MiB per
 * pod made a read of a deployment with many replicas many MiB of lines that the control plane
 * parses and writes out on its event loop (the local driver's replica-logs.ts says what that cost).
 */
const LIMIT_BYTES = 1024 * 1024;
const MIN_POD_BYTES = 64 * 1024;

export async function readPodLogs(core: CoreV1Api, namespace: string, pods: readonly V1Pod[], read: LogRead, now: () => number = Date.now): Promise<ReplicaLogChunk[]> {
  const named = pods.filter((p) => p.metadata?.name && (read.replica === undefined || p.metadata.name === read.replica));
  named.sort((a, b) => String(a.metadata?.creationTimestamp ?? "").localeCompare(String(b.metadata?.creationTimestamp ?? "")));
  const limitBytes = Math.max(MIN_POD_BYTES, Math.floor(LIMIT_BYTES / Math.max(1, named.length)));
  return Promise.all(named.map(async (pod): Promise<ReplicaLogChunk> => {
    const name = pod.metadata!.name!;
    const cursor = read.cursors?.[name];
    const since = cursor === undefined ? null : nanos(cursor);
    try {
      const text = await core.readNamespacedPodLog({
        name, namespace, timestamps: true, limitBytes,
        ...(since === null
          ? { tailLines: read.tailLines ?? DEFAULT_TAIL }
          : { sinceSeconds: Math.max(1, Math.ceil((now() - Number(since / 1_000_000n)) / 1000) + 1) }),
      });
      const lines: string[] = [];
      let last = cursor ?? "";
      for (const raw of String(text).split("\n")) {
        const sp = raw.indexOf(" ");
        if (sp <= 0) continue;
        const ts = raw.slice(0, sp);
        const at = nanos(ts);
        if (at === null || (since !== null && at <= since)) continue;
        lines.push(raw.slice(sp + 1));
        last = ts;
      }
      return { replica: name, lines, cursor: last || new Date(now()).toISOString() };
    } catch (e) {
      const status = (e as { code?: number }).code;
      return { replica: name, lines: [], cursor: cursor ?? new Date(now()).toISOString(), error: `the pod's log cannot be read${status ? ` (HTTP ${status})` : ""}` };
    }
  }));
}

/** An RFC 3339 time with up to nine fraction digits, in nanoseconds since the epoch; null when it is none. */
export function nanos(ts: string): bigint | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return null;
  const secs = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(secs)) return null;
  return BigInt(secs) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}
