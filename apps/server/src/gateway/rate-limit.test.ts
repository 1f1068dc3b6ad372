import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NO_LIMITS } from "@flowplane/core";
import { createMetrics } from "../metrics.js";
import { sleep, stepWallClock } from "@flowplane/testkit";
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

  it("asks `elsewhere` about limited deployments only, and decides with its own counters when that does not answer", async () => {
    const asked: string[] = [];
    let answer: "refuse" | null = "refuse";
    const l = new RateLimiter({
      elsewhere: async (route) => {
        asked.push(route.deploymentId);
        return answer === "refuse" ? { ok: false, reason: "deployment-rate", message: "no", headers: {} } : null;
      },
    });
    const limited = { deploymentId: "lim", limits: { ...NO_LIMITS, deployment: { requestsPerSecond: 1, burst: 1, maxConcurrent: null } } };
    const free = { deploymentId: "free", limits: NO_LIMITS };
    const admitted = { ok: true as const, keyHash: "k" };
    // Unlimited: nothing to ask, answered at once.
    const f = l.afterAdmission("a", true, { ...admitted, route: free });
    assert.ok(f && !(f instanceof Promise) && f.ok);
    // Limited: the other process's answer.
    const r = await l.afterAdmission("a", true, { ...admitted, route: limited });
    assert.equal(r?.ok, false);
    // No answer: this limiter's own bucket (burst 1).
    answer = null;
    assert.equal((await l.afterAdmission("a", true, { ...admitted, route: limited }))?.ok, true);
    assert.equal((await l.afterAdmission("a", true, { ...admitted, route: limited }))?.ok, false);
    assert.deepEqual(asked, ["lim", "lim", "lim"]);
  });

  it("counts every refusal by reason in flowplane_gateway_rate_limited_total (as serve.ts wires it), admissions not", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const l = new RateLimiter({ badKeys: { burst: 1, perSecond: 1 }, now: () => 0, onRefused: (reason) => metrics.gatewayRateLimited.inc({ reason }) });
    const refuse = (x: { ok: boolean; reason?: string } | null) => (assert.equal(x?.ok, false), x!.reason);
    const reasons: (string | undefined)[] = [];
    // A bad key from an address spends its budget of 1; the next one is refused before any lookup.
    l.afterAdmission("192.0.2.9", true, { ok: false, status: 401, unknownKey: true });
    reasons.push(refuse(l.beforeAdmission("192.0.2.9", () => false)));
    const lim = (deployment: object, perKey: object) => ({ deployment: { ...NO_LIMITS.deployment, ...deployment }, perKey: { ...NO_LIMITS.perKey, ...perKey } });
    const rate = { deploymentId: "d-rate", limits: lim({ requestsPerSecond: 1, burst: 1 }, {}) };
    assert.equal(l.admit(rate, "k").ok, true);
    reasons.push(refuse(l.admit(rate, "k")));
    const keyRate = { deploymentId: "k-rate", limits: lim({}, { requestsPerSecond: 1, burst: 1 }) };
    assert.equal(l.admit(keyRate, "k").ok, true);
    reasons.push(refuse(l.admit(keyRate, "k")));
    assert.equal(l.admit(keyRate, "other key").ok, true, "another key has its own bucket");
    const conc = { deploymentId: "d-conc", limits: lim({ maxConcurrent: 1 }, {}) };
    assert.equal(l.admit(conc, "k").ok, true);
    reasons.push(refuse(l.admit(conc, "k")));
    const keyConc = { deploymentId: "k-conc", limits: lim({}, { maxConcurrent: 1 }) };
    assert.equal(l.admit(keyConc, "k").ok, true);
    reasons.push(refuse(l.admit(keyConc, "k")));
    reasons.push(refuse(l.admit(keyConc, "k")));
    assert.deepEqual(reasons, ["failed-auth", "deployment-rate", "key-rate", "deployment-concurrency", "key-concurrency", "key-concurrency"]);
    const text = await metrics.registry.metrics();
    for (const [reason, n] of [["failed-auth", 1], ["deployment-rate", 1], ["key-rate", 1], ["deployment-concurrency", 1], ["key-concurrency", 2]] as const) {
      assert.match(text, new RegExp(`flowplane_gateway_rate_limited_total\\{reason="${reason}"\\} ${n}\\n`));
    }
  });

  it("refuses a share outside (0, 1]", () => {
    assert.throws(() => new RateLimiter({ share: 0 }), /share/);
    assert.throws(() => new RateLimiter({ share: 2 }), /share/);
  });

  it("keeps at most maxEntries addresses: a flood from many addresses cannot grow memory", () => {
    const l = new RateLimiter({ maxEntries: 100, badKeys: { burst: 1, perSecond: 1 }, now: () => 0 });
    for (let i = 0; i < 1000; i++) l.afterAdmission(`10.0.${i >> 8}.${i & 255}`, true, { ok: false, status: 401, unknownKey: true });
    assert.equal(l.size.addresses, 100);
    // The most recent addresses are the ones kept (and refused); the oldest were forgotten.
    assert.notEqual(l.beforeAdmission("10.0.3.231", () => false), null);
    assert.equal(l.beforeAdmission("10.0.0.0", () => false), null);
    // A 401 for a request without any key costs nothing (no lookup was made).
    l.afterAdmission("192.0.2.1", false, { ok: false, status: 401, unknownKey: true });
    assert.equal(l.beforeAdmission("192.0.2.1", () => false), null);
  });

  it("refills on its own clock: a wall clock stepped back an hour does not empty a deployment's rate for that hour", async () => {
    const l = new RateLimiter({}); // its default clock
    const route = { deploymentId: "d-step", limits: { ...NO_LIMITS, deployment: { requestsPerSecond: 10, burst: 1, maxConcurrent: null } } };
    const first = l.admit(route, "k");
    assert.equal(first.ok, true);
    if (first.ok) first.release();
    assert.equal(l.admit(route, "k").ok, false, "the burst of 1 spent");
    const back = stepWallClock(-3_600_000);
    try {
      await sleep(300);
      assert.equal(l.admit(route, "k").ok, true, "refilled after 100 ms, not an hour");
    } finally {
      back();
    }
  });
});
