import { test } from "node:test";
import assert from "node:assert/strict";
import { waitFor } from "@flowplane/testkit";
import { RunDeadlines } from "./deadlines.js";

test("a run that does not end in time times out, one that ends does not", async () => {
  const d = new RunDeadlines(30);
  const fired: string[] = [];
  const t0 = performance.now();
  d.start(() => fired.push("slow"));
  const endFast = d.start(() => fired.push("fast"));
  endFast();
  await waitFor(() => fired.length > 0, { timeoutMs: 5000, intervalMs: 5, message: "the slow run's timeout" });
  assert.ok(performance.now() - t0 >= 29, "not before its deadline");
  assert.deepEqual(fired, ["slow"]);
  assert.equal(d.size, 0);
});

test("each run keeps its own deadline: later runs time out later, in order", async () => {
  const d = new RunDeadlines(40);
  const fired: [string, number][] = [];
  const t0 = performance.now();
  d.start(() => fired.push(["a", performance.now() - t0]));
  await waitFor(() => performance.now() - t0 >= 25, { timeoutMs: 5000, intervalMs: 5, message: "25 ms" });
  d.start(() => fired.push(["b", performance.now() - t0]));
  await waitFor(() => fired.length === 2, { timeoutMs: 5000, intervalMs: 5, message: "both timeouts" });
  assert.deepEqual(fired.map(([n]) => n), ["a", "b"]);
  assert.ok((fired[1]?.[1] ?? 0) >= 64, `b timed out 40 ms after it started, not with a (${fired[1]?.[1]} ms)`);
  assert.equal(d.size, 0);
});

test("runs that all end leave nothing behind", () => {
  const d = new RunDeadlines(60_000);
  const ends = Array.from({ length: 100 }, () => d.start(() => assert.fail("no run times out")));
  for (const end of ends) end();
  assert.equal(d.size, 0);
});

test("a deadline counted from an earlier start is due at once when it has passed; a later one given an earlier start fires after the one before it", async () => {
  const d = new RunDeadlines(40);
  const fired: string[] = [];
  const t0 = performance.now();
  d.start(() => fired.push("late"), t0 - 100);
  // Timers fire in the order they fall due: the passed deadline before a timer of 20 ms set now.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(fired, ["late"], "cut at once, not a timeout after it was armed");
  d.start(() => fired.push("a"));
  d.start(() => fired.push("b"), t0 - 30);
  await waitFor(() => fired.length === 3, { timeoutMs: 5000, intervalMs: 1, message: "both timeouts" });
  assert.deepEqual(fired, ["late", "a", "b"]);
  assert.equal(d.size, 0);
});
