import assert from "node:assert/strict";
import { test } from "node:test";
import type { Deployment, Principal, RunStatsRow } from "@flowplane/core";
import { MetricsService } from "./service.js";

test("an aggregate serves again while its buckets stand and it is young; concurrent asks share one query; a failure is not kept", async () => {
  let now = Date.parse("2026-06-03T10:00:01Z");
  const asked: string[] = [];
  let fail = false;
  const store = {
    async runStats(id: string, q: { from: Date }): Promise<RunStatsRow[]> {
      asked.push(`${id}@${q.from.toISOString()}`);
      await new Promise((r) => setTimeout(r, 20));
      if (fail) throw new Error("database gone");
      return [];
    },
  };
  const deployment = { id: "d1", resourceName: "d1", resources: { replicas: 1 } } as unknown as Deployment;
  const svc = new MetricsService({ store, deployments: { get: async () => deployment }, sampler: undefined, now: () => now });
  const p = {} as Principal;
  await Promise.all([svc.get(p, "p", "d1", {}), svc.get(p, "p", "d1", {}), svc.get(p, "p", "d1", {})]);
  assert.equal(asked.length, 1, "three concurrent asks, one query");
  now += 5_000;
  await svc.get(p, "p", "d1", {});
  assert.equal(asked.length, 1, "5 s later, same buckets: reused (1h reuses for 10 s)");
  await svc.get(p, "p", "d1", { window: "5m" });
  assert.equal(asked.length, 2, "another window is another aggregate");
  now += 30_000; // the 30 s bucket grid moved
  await svc.get(p, "p", "d1", {});
  assert.equal(asked.length, 3, "new buckets: asked again");
  now += 10_000;
  fail = true;
  await assert.rejects(svc.get(p, "p", "d1", {}), /database gone/);
  fail = false;
  await svc.get(p, "p", "d1", {});
  assert.equal(asked.length, 5, "the failed aggregate was not kept");
});
