import assert from "node:assert/strict";
import { it } from "node:test";
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import { nanos, readPodLogs } from "./pod-logs.js";

const pod = (name: string, created: string): V1Pod => ({ metadata: { name, creationTimestamp: created as unknown as Date } });

/** The API server's answers to readNamespacedPodLog, as the client returns them (a string); the asks are kept. */
function fakeCore(logs: Record<string, string | Error>) {
  const asks: Record<string, unknown>[] = [];
  const core = {
    readNamespacedPodLog: async (p: Record<string, unknown>) => {
      asks.push(p);
      const v = logs[String(p.name)];
      if (v instanceof Error) throw v;
      return v ?? "";
    },
  } as unknown as CoreV1Api;
  return { core, asks };
}

it("pod logs: timestamps parse to nanoseconds, with any fraction length", () => {
  assert.equal(nanos("2026-01-01T00:00:00Z"), 1767225600000000000n);
  assert.equal(nanos("2026-01-01T00:00:00.5Z"), 1767225600500000000n);
  assert.equal(nanos("2026-01-01T00:00:00.000000001Z"), 1767225600000000001n);
  assert.equal(nanos("yesterday"), null);
});

it("pod logs: a tail first, then only the lines newer than the cursor; an unreadable pod answers an error, not a throw", async () => {
  const now = Date.parse("2026-01-01T00:01:00Z");
  const { core, asks } = fakeCore({
    a: "2026-01-01T00:00:01.1Z {\"msg\":\"one\"}\n2026-01-01T00:00:02.25Z {\"msg\":\"two\"}\n",
    b: Object.assign(new Error("forbidden"), { code: 403 }),
  });
  const first = await readPodLogs(core, "ns", [pod("b", "2026-01-01T00:00:05Z"), pod("a", "2026-01-01T00:00:00Z")], { tailLines: 5 }, () => now);
  assert.deepEqual(first.map((c) => c.replica), ["a", "b"], "oldest pod first");
  assert.deepEqual(first[0]!.lines, ['{"msg":"one"}', '{"msg":"two"}']);
  assert.equal(first[0]!.cursor, "2026-01-01T00:00:02.25Z");
  assert.equal(asks[0]!.tailLines, 5);
  assert.equal(asks[0]!.timestamps, true);
  assert.match(first[1]!.error ?? "", /HTTP 403/);
  assert.deepEqual(first[1]!.lines, []);

  const again = fakeCore({ a: "2026-01-01T00:00:02.25Z {\"msg\":\"two\"}\n2026-01-01T00:00:03Z {\"msg\":\"three\"}\n" });
  const next = await readPodLogs(again.core, "ns", [pod("a", "2026-01-01T00:00:00Z")], { cursors: { a: first[0]!.cursor } }, () => now);
  assert.deepEqual(next[0]!.lines, ['{"msg":"three"}'], "the line at the cursor is not answered twice");
  assert.equal(again.asks[0]!.tailLines, undefined);
  assert.ok(Number(again.asks[0]!.sinceSeconds) >= 58, "asks back to the cursor");
});

it("pod logs: one read asks about 1 MiB of all the pods together, shared evenly, never under 64 KiB each", async () => {
  const { core, asks } = fakeCore({});
  const pods = (n: number) => Array.from({ length: n }, (_, i) => pod(`p${i}`, `2026-01-01T00:00:0${i % 10}Z`));
  await readPodLogs(core, "ns", pods(1), { tailLines: 5 });
  assert.equal(asks[0]!.limitBytes, 1024 * 1024);
  asks.length = 0;
  await readPodLogs(core, "ns", pods(8), { tailLines: 5 });
  assert.deepEqual(new Set(asks.map((a) => a.limitBytes)), new Set([128 * 1024]));
  asks.length = 0;
  await readPodLogs(core, "ns", pods(40), { tailLines: 5 });
  assert.deepEqual(new Set(asks.map((a) => a.limitBytes)), new Set([64 * 1024]));
});
