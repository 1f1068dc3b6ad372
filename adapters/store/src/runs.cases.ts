import assert from "node:assert/strict";
import { it } from "node:test";
import type { RunRecord, Store } from "@flowplane/core";

/** The run history's cases of the shared store suite (store.cases.ts calls them for every engine). */
export function runCases(store: () => Store): void {
  const base = Date.parse("2026-06-01T12:00:00Z");
  const run = (i: number, over: Partial<RunRecord> = {}): RunRecord => ({
    id: `run-${i}`, time: new Date(base + i * 1000).toISOString(), deploymentId: "dep-r1", projectId: "p-r", revision: null,
    flowId: i % 2 ? "flow-a" : null, route: i % 3 === 0 ? "mcp" : "http", tool: i % 3 === 0 ? "ask" : null,
    caller: { userId: "u-1", keyId: "k-1" }, sessionId: i < 3 ? "s-1" : null, requestId: `req-${i}`, method: "POST",
    status: i === 4 ? 500 : i === 5 ? 404 : 200, latencyMs: 12.5 + i, tokens: i === 1 ? { input: 3, output: 5, total: 8 } : null,
    errorCode: i === 4 ? "run_failed" : i === 5 ? "not_found" : null,
    ...over,
  });

  it("runs: a batch in one insert, read back whole, newest first with a cursor, a repeated id kept once", async () => {
    const s = store();
    await s.insertRuns([0, 1, 2, 3, 4, 5, 6].map((i) => run(i)));
    await s.insertRuns([run(6)]); // a flush retried: no duplicate, no error
    await s.insertRuns([]);
    assert.deepEqual(await s.getRun("dep-r1", "run-1"), run(1));
    assert.equal(await s.getRun("dep-other", "run-1"), null, "a run is found only under its own deployment");
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await s.listRuns("dep-r1", {}, { limit: 3, cursor });
      ids.push(...page.items.map((r) => r.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(ids, ["run-6", "run-5", "run-4", "run-3", "run-2", "run-1", "run-0"]);
  });

  it("runs: filters by status class, time and session", async () => {
    const s = store();
    const list = async (f: Parameters<Store["listRuns"]>[1]) => (await s.listRuns("dep-r1", f, { limit: 50 })).items.map((r) => r.id);
    assert.deepEqual(await list({ statusClass: "error" }), ["run-5", "run-4"]);
    assert.deepEqual(await list({ statusClass: "5xx" }), ["run-4"]);
    assert.deepEqual(await list({ statusClass: "4xx" }), ["run-5"]);
    assert.deepEqual(await list({ since: new Date(base + 5000) }), ["run-6", "run-5"]);
    assert.deepEqual(await list({ sessionId: "s-1" }), ["run-2", "run-1", "run-0"]);
    assert.deepEqual(await list({ sessionId: "s-1", statusClass: "error" }), []);
  });

  it("runs: retention deletes runs older than the age, and each deployment's runs beyond the count, nothing else", async () => {
    const s = store();
    await s.insertRuns([0, 1, 2, 3].map((i) => run(100 + i, { id: `other-${i}`, deploymentId: "dep-r2" })));
    // dep-r1 holds run-0..6 (times base..base+6s); dep-r2 four runs at base+100s..base+103s.
    const now = new Date(base + 200_000);
    const gone = await s.pruneRuns({ maxAgeMs: 200_000 - 2_000, maxPerDeployment: 3 }, now);
    const left = async (d: string) => (await s.listRuns(d, {}, { limit: 50 })).items.map((r) => r.id);
    // Age: runs before base+2s go (run-0, run-1). Count: dep-r1 keeps run-6,5,4; dep-r2 its 3 newest.
    assert.deepEqual(await left("dep-r1"), ["run-6", "run-5", "run-4"]);
    assert.deepEqual(await left("dep-r2"), ["other-3", "other-2", "other-1"]);
    assert.equal(gone, 2 + 2 + 1);
    assert.equal(await s.pruneRuns({ maxAgeMs: 200_000 - 2_000, maxPerDeployment: 3 }, now), 0, "nothing more to delete");
  });
}
