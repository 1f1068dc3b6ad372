import assert from "node:assert/strict";
import { it } from "node:test";
import { memoryLogger } from "@flowplane/logging";
import { RunRetentionSweeper } from "./retention.js";

const retention = { maxAgeMs: 3_600_000, maxPerDeployment: 10 };

it("a sweep deletes what retention no longer keeps, then has the store reclaim the space (PGlite has no autovacuum)", async () => {
  const calls: string[] = [];
  const sweeper = new RunRetentionSweeper({
    store: { pruneRuns: async () => (calls.push("prune"), 7), maintain: async () => void calls.push("maintain") },
    retention, log: memoryLogger().log, now: () => 0,
  });
  assert.equal(await sweeper.sweep(), 7);
  assert.deepEqual(calls, ["prune", "maintain"]);
});

it("a failed maintenance is logged, and the sweep still answers what it deleted; a failed prune skips the maintenance", async () => {
  const { log, lines } = memoryLogger();
  let prune = async () => 3;
  const maintained: number[] = [];
  const sweeper = new RunRetentionSweeper({
    store: { pruneRuns: () => prune(), maintain: async () => { maintained.push(1); throw new Error("disk full"); } },
    retention, log, now: () => 0,
  });
  assert.equal(await sweeper.sweep(), 3);
  assert.ok(lines.some((l) => l.level === "warn" && l.msg.includes("maintenance") && l.error === "disk full"), JSON.stringify(lines));
  prune = async () => { throw new Error("database down"); };
  assert.equal(await sweeper.sweep(), 0);
  assert.equal(maintained.length, 1, "no maintenance after a failed prune");
  assert.ok(lines.some((l) => l.level === "warn" && l.msg.includes("retention sweep failed")), JSON.stringify(lines));
});
