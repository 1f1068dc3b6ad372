import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDeployDraft } from "./deploy-validation.js";
import { bucketEmpty, bucketPolicy, concurrencyShare, NO_LIMITS, resolveLimits, takeToken } from "./limits.js";

describe("token bucket", () => {
  const p = { ratePerSecond: 2, burst: 3 };
  it("starts full, refuses when empty, refills at the rate, never above the burst", () => {
    let s = undefined;
    const oks: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const r = takeToken(s, p, 0);
      oks.push(r.ok);
      s = r.state;
    }
    assert.deepEqual(oks, [true, true, true, false]);
    const refused = takeToken(s, p, 0);
    assert.equal(refused.retryAfterMs, 500);
    assert.equal(refused.fullInMs, 1500);
    assert.equal(takeToken(s, p, 499).ok, false);
    assert.equal(takeToken(s, p, 500).ok, true);
    // A long pause fills it to the burst, not beyond.
    assert.equal(takeToken(s, p, 60_000).remaining, 2);
    assert.deepEqual(bucketEmpty(s, p, 250), { empty: true, retryAfterMs: 250 });
    assert.deepEqual(bucketEmpty(undefined, p, 0), { empty: false, retryAfterMs: 0 });
  });
  it("a clock going backwards refills nothing", () => {
    const s = { tokens: 0, at: 10_000 };
    assert.equal(takeToken(s, p, 5_000).ok, false);
  });
});

describe("limits", () => {
  it("burst defaults to the rate rounded up; a process's share splits rate, burst and concurrency, never below 1", () => {
    assert.deepEqual(bucketPolicy({ requestsPerSecond: 2.5, burst: null, maxConcurrent: null }), { ratePerSecond: 2.5, burst: 3 });
    assert.deepEqual(bucketPolicy({ requestsPerSecond: 10, burst: 20, maxConcurrent: null }, 0.25), { ratePerSecond: 2.5, burst: 5 });
    assert.deepEqual(bucketPolicy({ requestsPerSecond: 1, burst: 2, maxConcurrent: null }, 0.25), { ratePerSecond: 0.25, burst: 1 });
    assert.equal(bucketPolicy(NO_LIMITS.deployment), null);
    assert.equal(concurrencyShare({ requestsPerSecond: null, burst: null, maxConcurrent: 10 }, 1 / 3), 3);
    assert.equal(concurrencyShare({ requestsPerSecond: null, burst: null, maxConcurrent: 2 }, 1 / 4), 1);
  });
  it("an edit replaces the fields it names, null clears one, and clearing the rate clears its burst", () => {
    const base = resolveLimits({ deployment: { requestsPerSecond: 5, burst: 10 }, perKey: { maxConcurrent: 2 } });
    assert.deepEqual(base.deployment, { requestsPerSecond: 5, burst: 10, maxConcurrent: null });
    assert.deepEqual(resolveLimits({ perKey: { requestsPerSecond: 1 } }, base).perKey, { requestsPerSecond: 1, burst: null, maxConcurrent: 2 });
    assert.deepEqual(resolveLimits({ deployment: { requestsPerSecond: null } }, base).deployment, { requestsPerSecond: null, burst: null, maxConcurrent: null });
    assert.deepEqual(resolveLimits(undefined, undefined), NO_LIMITS);
  });
  it("validation names the field", () => {
    const base = { displayName: "x", bundle: { name: "b", version: "v1" }, networkAccess: "public" };
    const errors = (limits: unknown) => parseDeployDraft({ ...base, runtime: { limits } }).errors;
    assert.deepEqual(errors({ deployment: { requestsPerSecond: 5, burst: 10, maxConcurrent: 3 }, perKey: { requestsPerSecond: 0.5 } }), []);
    assert.deepEqual(errors({ deployment: { requestsPerSecond: 0 } }).map((e) => e.field), ["runtime.limits.deployment.requestsPerSecond"]);
    assert.deepEqual(errors({ perKey: { burst: 1.5, requestsPerSecond: 1 } }).map((e) => e.field), ["runtime.limits.perKey.burst"]);
    assert.deepEqual(errors({ perKey: { burst: 4 } }), [{ field: "runtime.limits.perKey.burst", message: "burst needs requestsPerSecond beside it (a burst of what rate?)" }]);
    assert.deepEqual(errors({ deployment: { maxConcurrent: "many" } }).map((e) => e.field), ["runtime.limits.deployment.maxConcurrent"]);
    assert.deepEqual(errors({ everyone: {} }).map((e) => e.field), ["runtime.limits"]);
  });
});
