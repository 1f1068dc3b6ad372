import assert from "node:assert/strict";
import { test } from "node:test";
import { TrimSchedule } from "./trim-schedule.js";

test("a trim is due at a deployment's first write, then once `every` has been written since the last trim; a failed one stays due", () => {
  const s = new TrimSchedule();
  assert.equal(s.due("a", 1, 10), true, "first write in this process");
  s.trimmed("a");
  assert.equal(s.due("a", 4, 10), false);
  assert.equal(s.due("a", 5, 10), false, "9 since the trim");
  assert.equal(s.due("a", 1, 10), true, "10 since the trim");
  // Not trimmed (it failed): the count stands, so the next write is due again.
  assert.equal(s.due("a", 1, 10), true);
  assert.equal(s.due("b", 1, 10), true, "each deployment counts alone");
});

test("at most maxKeys deployments are remembered; a forgotten one is due at its next write", () => {
  const s = new TrimSchedule(2);
  for (const k of ["a", "b"]) {
    s.due(k, 1, 10);
    s.trimmed(k);
  }
  assert.equal(s.due("a", 1, 10), false, "a is now the most recently written");
  assert.equal(s.due("c", 1, 10), true);
  assert.equal(s.due("b", 1, 10), true, "b, least recently written, was forgotten");
  assert.equal(s.due("a", 1, 10), true, "a went when b came back");
});
