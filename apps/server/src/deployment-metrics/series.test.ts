import assert from "node:assert/strict";
import { test } from "node:test";
import { MinuteRollup, SeriesColumns } from "./series.js";

test("SeriesColumns: columns aligned on the sample times (NaN where absent), bucket means, the last value; trim drops what is old and columns gone quiet", () => {
  const s = new SeriesColumns();
  s.push(1_000, { a: 1 });
  s.push(2_000, { a: 3, b: 10 });
  s.push(11_000, { b: 20 });
  // Buckets of 10 s from 0: [0, 10 s) holds a=1,3 and b=10; [10 s, 20 s) holds b=20.
  assert.deepEqual(s.buckets("a", 0, 10_000, 3), [2, null, null]);
  assert.deepEqual(s.buckets("b", 0, 10_000, 3), [10, 20, null]);
  assert.deepEqual(s.buckets("nope", 0, 10_000, 2), [null, null]);
  assert.equal(s.last("b"), 20);
  assert.equal(s.last("a"), null, "a had no value at the last sample");
  s.trim(5_000);
  assert.deepEqual(s.times, [11_000]);
  assert.deepEqual(s.keys(), ["b"], "a's last value is older than what is kept: its column goes");
  assert.deepEqual(s.buckets("b", 10_000, 10_000, 1), [20]);
});

test("MinuteRollup: each minute's mean lands in the day tier when the next minute's first sample comes", () => {
  const day = new SeriesColumns();
  const r = new MinuteRollup(day);
  r.add(60_000, { cpu: 1 });
  r.add(90_000, { cpu: 3, mem: 5 });
  assert.deepEqual(day.times, [], "the minute is not over");
  r.add(120_000, { cpu: 10 });
  assert.deepEqual(day.times, [60_000]);
  assert.deepEqual([day.last("cpu"), day.last("mem")], [2, 5]);
  r.add(250_000, { cpu: 0 }); // a minute with no sample (180 s) leaves no point
  assert.deepEqual(day.times, [60_000, 120_000]);
  assert.deepEqual(day.buckets("cpu", 0, 60_000, 4), [null, 2, 10, null]);
});
