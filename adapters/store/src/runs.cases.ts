import assert from "node:assert/strict";
import { it } from "node:test";
import { traceBytes, type NewRun, type RunTrace, type Store } from "@flowplane/core";

/** The run history's cases of the shared store suite (store.cases.ts calls them for every engine). */
export function runCases(store: () => Store): void {
  const base = Date.parse("2026-06-01T12:00:00Z");
  const run = (i: number, over: Partial<NewRun> = {}): NewRun => ({
    time: new Date(base + i * 1000).toISOString(), deploymentId: "dep-r1", projectId: "p-r", revision: null,
    flowId: i % 2 ? "flow-a" : null, route: i % 3 === 0 ? "mcp" : "http", tool: i % 3 === 0 ? "ask" : null,
    caller: { userId: "u-1", keyId: "k-1" }, sessionId: i < 3 ? "s-1" : null, requestId: `req-${i}`, method: "POST",
    status: i === 4 ? 500 : i === 5 ? 404 : 200, latencyMs: 12.5 + i, tokens: i === 1 ? { input: 3, output: 5, total: 8 } : null,
    errorCode: i === 4 ? "run_failed" : i === 5 ? "not_found" : null,
    ...over,
  });
  /** A deployment's runs, newest first, by request id. */
  const requests = async (s: Store, d: string, f: Parameters<Store["listRuns"]>[1] = {}) => (await s.listRuns(d, f, { limit: 50 })).items.map((r) => r.requestId);

  it("runs: a batch in one insert, ids in its order, read back whole, newest first with a cursor", async () => {
    const s = store();
    await s.insertRuns([0, 1, 2, 3, 4, 5, 6].map((i) => run(i)));
    await s.insertRuns([]);
    const all = (await s.listRuns("dep-r1", {}, { limit: 50 })).items;
    assert.deepEqual(all.map((r) => r.requestId), ["req-6", "req-5", "req-4", "req-3", "req-2", "req-1", "req-0"]);
    const ids = all.map((r) => BigInt(r.id));
    assert.ok(ids.every((id, i) => i === 0 || id < ids[i - 1]!), "ids grow in insertion order");
    const one = all.find((r) => r.requestId === "req-1")!;
    assert.deepEqual(await s.getRun("dep-r1", one.id), { ...run(1), id: one.id });
    assert.equal(await s.getRun("dep-other", one.id), null, "a run is found only under its own deployment");
    assert.equal(await s.getRun("dep-r1", "not-an-id"), null);
    assert.equal(await s.getRun("dep-r1", "99999999999999999999999"), null);
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await s.listRuns("dep-r1", {}, { limit: 3, cursor });
      paged.push(...page.items.map((r) => r.requestId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(paged, all.map((r) => r.requestId));
  });

  it("runs: filters by status class, time and session", async () => {
    const s = store();
    assert.deepEqual(await requests(s, "dep-r1", { statusClass: "error" }), ["req-5", "req-4"]);
    assert.deepEqual(await requests(s, "dep-r1", { statusClass: "5xx" }), ["req-4"]);
    assert.deepEqual(await requests(s, "dep-r1", { statusClass: "4xx" }), ["req-5"]);
    assert.deepEqual(await requests(s, "dep-r1", { since: new Date(base + 5000) }), ["req-6", "req-5"]);
    assert.deepEqual(await requests(s, "dep-r1", { sessionId: "s-1" }), ["req-2", "req-1", "req-0"]);
    assert.deepEqual(await requests(s, "dep-r1", { sessionId: "s-1", statusClass: "error" }), []);
  });

  it("runs: retention deletes runs older than the age, and each deployment's runs beyond the count, nothing else", async () => {
    const s = store();
    await s.insertRuns([0, 1, 2, 3].map((i) => run(100 + i, { requestId: `other-${i}`, deploymentId: "dep-r2" })));
    // dep-r1 holds req-0..6 (times base..base+6s); dep-r2 four runs at base+100s..base+103s.
    const now = new Date(base + 200_000);
    const gone = await s.pruneRuns({ maxAgeMs: 200_000 - 2_000, maxPerDeployment: 3 }, now);
    // Age: runs before base+2s go (req-0, req-1). Count: dep-r1 keeps req-6,5,4; dep-r2 its 3 newest.
    assert.deepEqual(await requests(s, "dep-r1"), ["req-6", "req-5", "req-4"]);
    assert.deepEqual(await requests(s, "dep-r2"), ["other-3", "other-2", "other-1"]);
    assert.equal(gone, 2 + 2 + 1);
    assert.equal(await s.pruneRuns({ maxAgeMs: 200_000 - 2_000, maxPerDeployment: 3 }, now), 0, "nothing more to delete");
  });

  it("runs: stats per bucket, per revision and over all: counts, errors, percentiles; only the deployment's window", async () => {
    const s = store();
    const t0 = Date.parse("2026-06-02T00:00:00Z");
    // Bucket 0 (first minute): revision 1, latencies 1..100 ms, runs 91..95 answered 500, 96..100 404.
    const b0 = Array.from({ length: 100 }, (_, i) => run(0, {
      deploymentId: "dep-stats", revision: 1, time: new Date(t0 + i * 100).toISOString(), latencyMs: i + 1,
      status: i >= 95 ? 404 : i >= 90 ? 500 : 200, requestId: `st-${i}`,
    }));
    // Bucket 2 (third minute): revision 1 once (10 ms) and revision 2 three times (20, 30, 40 ms).
    const b2 = [[1, 10], [2, 20], [2, 30], [2, 40]].map(([rev, ms], i) => run(0, {
      deploymentId: "dep-stats", revision: rev!, time: new Date(t0 + 120_000 + i).toISOString(), latencyMs: ms!, requestId: `st2-${i}`,
    }));
    const outside = [run(0, { deploymentId: "dep-stats", time: new Date(t0 + 180_000).toISOString(), requestId: "late" }),
      run(0, { deploymentId: "dep-stats", time: new Date(t0 - 1).toISOString(), requestId: "early" }),
      run(0, { deploymentId: "dep-stats-other", time: new Date(t0 + 1).toISOString(), requestId: "other" })];
    await s.insertRuns([...b0, ...b2, ...outside]);
    const rows = await s.runStats("dep-stats", { from: new Date(t0), to: new Date(t0 + 180_000), stepMs: 60_000 });
    assert.deepEqual(rows.map((r) => [r.bucket, r.revision, r.requests]), [[0, "all", 100], [0, 1, 100], [2, "all", 4], [2, 1, 1], [2, 2, 3], [null, "all", 104]]);
    assert.deepEqual([rows[5]!.errors, rows[5]!.serverErrors], [10, 5], "the whole window's row");
    const all0 = rows[0]!;
    assert.equal(all0.errors, 10);
    assert.equal(all0.serverErrors, 5);
    // Continuous percentiles of 1..100: 50.5, 95.05, 99.01.
    assert.ok(Math.abs(all0.p50 - 50.5) < 1e-9 && Math.abs(all0.p95 - 95.05) < 1e-9 && Math.abs(all0.p99 - 99.01) < 1e-9, JSON.stringify(all0));
    const rev2 = rows[4]!;
    assert.deepEqual([rev2.p50, rev2.errors], [30, 0]);
    assert.equal(rows[2]!.p50, 25, "over all revisions: 10, 20, 30, 40");
    assert.deepEqual(await s.runStats("dep-none", { from: new Date(t0), to: new Date(t0 + 180_000), stepMs: 60_000 }), []);
  });

  it("traces: inputs and outputs (migration 13) read back as written; a trace without them has none; retention deletes them with it", async () => {
    const s = store();
    const t = (requestId: string, start: string, io: boolean): RunTrace => ({
      requestId, flowId: "flow-a", revision: 2, engine: "lfx", start, durationMs: 9, status: "ok", error: null, tokens: null,
      spans: [{ componentId: "A", componentType: "ChatInput", name: "A", start, durationMs: 1, status: "ok", error: null, tokens: null, ...(io ? { inputs: { input_value: "q \"x\" é" }, outputs: { message: "q" } } : {}) }],
      ...(io ? { input: "q \"x\" é", output: null } : {}),
    });
    assert.deepEqual(await s.insertTraces("dep-io", [t("io-1", "2026-06-01T12:00:00.000Z", true), t("io-2", "2026-06-01T12:00:01.000Z", false)]), ["io-1", "io-2"]);
    // Only what was written is answered: a request id already stored, or named twice in one batch, once at most.
    assert.deepEqual(await s.insertTraces("dep-io", [t("io-2", "2026-06-01T12:00:01.000Z", false), t("io-3", "2026-06-01T12:00:01.000Z", false), t("io-3", "2026-06-01T12:00:01.000Z", false)]), ["io-3"]);
    assert.deepEqual(await s.getTrace("dep-io", "io-1"), t("io-1", "2026-06-01T12:00:00.000Z", true));
    const plain = await s.getTrace("dep-io", "io-2");
    assert.deepEqual(plain, t("io-2", "2026-06-01T12:00:01.000Z", false));
    assert.equal(plain && "input" in plain, false);
    await s.pruneRuns({ maxAgeMs: 1000, maxPerDeployment: 10 }, new Date("2026-06-01T12:00:01.500Z"));
    assert.equal(await s.getTrace("dep-io", "io-1"), null);
  });

  it("runs: trimRuns keeps a deployment's newest runs (by id) and leaves other deployments' alone", async () => {
    const s = store();
    await s.insertRuns([0, 1, 2, 3, 4, 5].map((i) => run(i, { deploymentId: "dep-t" })));
    await s.insertRuns([6, 7, 8].map((i) => run(i, { deploymentId: "dep-u" })));
    assert.equal(await s.trimRuns("dep-t", 2), 4);
    assert.deepEqual(await requests(s, "dep-t"), ["req-5", "req-4"]);
    assert.equal(await s.trimRuns("dep-t", 2), 0, "at the count: nothing goes");
    assert.equal(await s.trimRuns("dep-none", 1), 0);
    assert.deepEqual(await requests(s, "dep-u"), ["req-8", "req-7", "req-6"]);
  });

  it("runs: retention trims a deployment of 20,000 runs to exactly its newest 10,000", { timeout: 60_000 }, async () => {
    // The work this pass does is counted in pglite.test.ts (PGlite holds the event loop while it runs).
    const s = store();
    for (let i = 0; i < 20_000; i += 1_000) {
      await s.insertRuns(Array.from({ length: 1_000 }, (_, k) => run(0, { deploymentId: "dep-big", requestId: `big-${i + k}`, time: new Date(base + 10_000 + i + k).toISOString() })));
    }
    assert.equal(await s.pruneRuns({ maxAgeMs: 3_600_000, maxPerDeployment: 10_000 }, new Date(base + 60_000)), 10_000);
    assert.deepEqual((await s.listRuns("dep-big", {}, { limit: 2 })).items.map((r) => r.requestId), ["big-19999", "big-19998"]);
    assert.equal(await s.trimRuns("dep-big", 9_999), 1, "exactly the newest 10,000 were kept");
    assert.equal(await s.trimRuns("dep-big", 0), 9_999);
  });

  it("maintain: what the store holds is unchanged by it", async () => {
    const s = store();
    await s.insertRuns([0, 1, 2].map((i) => run(i, { deploymentId: "dep-m" })));
    await s.maintain();
    assert.deepEqual(await requests(s, "dep-m"), ["req-2", "req-1", "req-0"]);
  });

  it("traces: trimTraces keeps a deployment's newest traces (by start) within its bytes, deletes the older ones, and leaves other deployments' alone", async () => {
    const s = store();
    const t = (requestId: string, second: number, text = "x"): RunTrace => {
      const start = new Date(base + second * 1000).toISOString();
      return { requestId, flowId: "flow-a", revision: 1, engine: "native", start, durationMs: 1, status: "ok", error: null, tokens: null,
        spans: [{ componentId: "A", componentType: "ChatInput", name: "A", start, durationMs: 1, status: "ok", error: null, tokens: null, inputs: { v: text } }] };
    };
    // Inserted out of order: the oldest by start goes first, whatever the insertion order.
    const mine = [t("b-3", 3, "y".repeat(900)), t("b-1", 1, "y".repeat(900)), t("b-4", 4, "\u4e2d".repeat(300)), t("b-2", 2, "y".repeat(900))];
    await s.insertTraces("dep-b", mine);
    const others = [t("o-1", 0, "z".repeat(5000)), t("o-2", 0.5, "z".repeat(5000))];
    await s.insertTraces("dep-o", others);
    const size = (id: string) => traceBytes([...mine, ...others].find((x) => x.requestId === id)!);
    // Room for the two newest (b-4, b-3), not for b-2.
    assert.equal(await s.trimTraces("dep-b", size("b-4") + size("b-3") + size("b-2") - 1), 2);
    assert.deepEqual(await Promise.all(["b-1", "b-2", "b-3", "b-4"].map(async (id) => (await s.getTrace("dep-b", id))?.requestId ?? null)), [null, null, "b-3", "b-4"]);
    assert.equal(await s.trimTraces("dep-b", size("b-4") + size("b-3")), 0, "exactly at the budget: nothing goes");
    assert.equal(await s.trimTraces("dep-none", 1), 0);
    // The other deployment, far over dep-b's budget, is untouched by dep-b's trims.
    assert.deepEqual(await Promise.all(["o-1", "o-2"].map(async (id) => (await s.getTrace("dep-o", id))?.requestId ?? null)), ["o-1", "o-2"]);
    assert.equal(await s.trimTraces("dep-o", 1), 2, "a budget smaller than any trace keeps none");
  });

  it("traces: retention's count keeps exactly the newest traces when many share the cut's start (the start comes from the replica)", async () => {
    const s = store();
    const start = new Date(base).toISOString();
    const t = (requestId: string): RunTrace => ({ requestId, flowId: "flow-a", revision: 1, engine: "native", start, durationMs: 1, status: "ok", error: null, tokens: null, spans: [] });
    const ids = Array.from({ length: 20 }, (_, i) => `tie-${String(i).padStart(2, "0")}`);
    await s.insertTraces("dep-tie", ids.map(t));
    await s.pruneRuns({ maxAgeMs: 365 * 86_400_000, maxPerDeployment: 10 }, new Date(base + 60_000));
    const kept = (await Promise.all(ids.map(async (id) => (await s.getTrace("dep-tie", id))?.requestId ?? null))).filter((x) => x !== null);
    assert.deepEqual(kept, ids.slice(10), "the ten last by request id, not none");
  });
}
