import assert from "node:assert/strict";
import { test } from "node:test";
import { LeastInFlight } from "./balancer.js";

test("picks the URL with the fewest requests in flight", () => {
  const b = new LeastInFlight();
  b.acquire("a");
  b.acquire("a");
  b.acquire("b");
  for (let i = 0; i < 5; i++) assert.equal(b.pick(["a", "b", "c"]), "c");
  b.acquire("c");
  b.acquire("c");
  for (let i = 0; i < 5; i++) assert.equal(b.pick(["a", "b", "c"]), "b");
});

test("ties rotate, so idle replicas share the load", () => {
  const b = new LeastInFlight();
  const picks = Array.from({ length: 6 }, () => b.pick(["a", "b", "c"]));
  assert.deepEqual([...picks].sort(), ["a", "a", "b", "b", "c", "c"]);
});

test("release uncounts; URLs back at zero are forgotten", () => {
  const b = new LeastInFlight();
  b.acquire("a");
  b.acquire("a");
  assert.equal(b.count("a"), 2);
  b.release("a");
  assert.equal(b.count("a"), 1);
  b.release("a");
  assert.equal(b.count("a"), 0);
  assert.equal((b as unknown as { inFlight: Map<string, number> }).inFlight.size, 0);
});

test("the excluded URL is skipped; nothing left is undefined", () => {
  const b = new LeastInFlight();
  for (let i = 0; i < 4; i++) assert.equal(b.pick(["a", "b"], "a"), "b");
  assert.equal(b.pick(["a"], "a"), undefined);
  assert.equal(b.pick([]), undefined);
});

test("counts follow URLs when the endpoint set changes", () => {
  const b = new LeastInFlight();
  b.acquire("old");
  b.acquire("new1");
  assert.equal(b.pick(["new1", "new2"]), "new2");
  assert.equal(b.pick(["old", "new1"]) !== undefined, true);
});
