import assert from "node:assert/strict";
import { it } from "node:test";
import { TokenBucket } from "./rate-limit.js";

it("a token bucket lets a burst through at once, then one request per 1/qps, in arrival order", () => {
  const b = new TokenBucket(10, 3);
  const t0 = performance.now();
  assert.deepEqual([b.reserve(t0), b.reserve(t0), b.reserve(t0)], [0, 0, 0]);
  // The bucket is empty: the next callers get consecutive 100 ms slots.
  assert.deepEqual([b.reserve(t0), b.reserve(t0), b.reserve(t0)].map(Math.round), [100, 200, 300]);
  // 300 ms later those three slots are used up: the next caller waits for a fresh one.
  assert.equal(Math.round(b.reserve(t0 + 300)), 100);
  // After a quiet spell the bucket holds at most `burst`.
  const later = t0 + 60_000;
  assert.deepEqual([b.reserve(later), b.reserve(later), b.reserve(later)], [0, 0, 0]);
  assert.ok(b.reserve(later) > 0);
});

it("qps and burst are checked", () => {
  assert.throws(() => new TokenBucket(0, 1), /qps must be > 0/);
  assert.throws(() => new TokenBucket(1, 0), /burst >= 1/);
});
