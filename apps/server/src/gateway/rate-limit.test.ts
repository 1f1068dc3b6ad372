import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NO_LIMITS } from "@flowplane/core";
import { RateLimiter } from "./rate-limit.js";

describe("rate limiter", () => {
  it("enforces its share of a limit: with share 1/2 a process admits half the burst and half the concurrency", () => {
    const clock = { t: 0 };
    const l = new RateLimiter({ share: 0.5, now: () => clock.t });
    const route = { deploymentId: "d", limits: { ...NO_LIMITS, deployment: { requestsPerSecond: 10, burst: 10, maxConcurrent: 4 } } };
    const tickets = [];
    for (let i = 0; i < 2; i++) {
      const t = l.admit(route, "k");
      assert.equal(t.ok, true);
      tickets.push(t);
    }
    // Two in flight: this process's half of maxConcurrent 4.
    const full = l.admit(route, "k");
    assert.equal(full.ok, false);
    assert.match(full.headers.ratelimit ?? "", /deployment-concurrency/);
    for (const t of tickets) if (t.ok) t.release();
    for (const t of tickets) if (t.ok) t.release(); // twice: counted once
    assert.equal(l.size.inFlight, 0);
    // Five tokens (half of 10), two spent above.
    const oks = [];
    for (let i = 0; i < 4; i++) {
      const t = l.admit(route, "k");
      oks.push(t.ok);
      if (t.ok) t.release();
    }
    assert.deepEqual(oks, [true, true, true, false]);
    // Refilled at 5 per second (half of 10).
    clock.t = 200;
    assert.equal(l.admit(route, "k").ok, true);
  });

  it("refuses a share outside (0, 1]", () => {
    assert.throws(() => new RateLimiter({ share: 0 }), /share/);
    assert.throws(() => new RateLimiter({ share: 2 }), /share/);
  });

  it("keeps at most maxEntries addresses: a flood from many addresses cannot grow memory", () => {
    const l = new RateLimiter({ maxEntries: 100, badKeys: { burst: 1, perSecond: 1 }, now: () => 0 });
    for (let i = 0; i < 1000; i++) l.afterAdmission(`10.0.${i >> 8}.${i & 255}`, true, { ok: false, status: 401 });
    assert.equal(l.size.addresses, 100);
    // The most recent addresses are the ones kept (and refused); the oldest were forgotten.
    assert.notEqual(l.beforeAdmission("10.0.3.231", () => false), null);
    assert.equal(l.beforeAdmission("10.0.0.0", () => false), null);
    // A 401 for a request without any key costs nothing (no lookup was made).
    l.afterAdmission("192.0.2.1", false, { ok: false, status: 401 });
    assert.equal(l.beforeAdmission("192.0.2.1", () => false), null);
  });
});
