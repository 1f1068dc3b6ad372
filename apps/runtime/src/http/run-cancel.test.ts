import { test } from "node:test";
import assert from "node:assert/strict";
import { LazyRunCancel } from "./run-cancel.js";

test("a signal asked for before the abort is aborted by it, once", () => {
  const c = new LazyRunCancel();
  const signal = c.signal;
  let events = 0;
  signal.addEventListener("abort", () => events++);
  assert.equal(c.aborted, false);
  assert.equal(signal.aborted, false);
  assert.equal(c.abort(), true);
  assert.equal(c.abort(), false);
  assert.equal(c.aborted, true);
  assert.equal(signal.aborted, true);
  assert.equal(events, 1);
  assert.equal(c.signal, signal, "one signal per run");
});

test("a signal first asked for after the abort is made aborted", () => {
  const c = new LazyRunCancel();
  c.abort();
  assert.equal(c.aborted, true);
  assert.equal(c.signal.aborted, true);
});

test("a run never cancelled is never aborted", () => {
  const c = new LazyRunCancel();
  assert.equal(c.aborted, false);
  assert.equal(c.signal.aborted, false);
});
