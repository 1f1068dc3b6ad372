import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * The management API's failed-authentication budget (auth-failures.ts), as the gateway's: an
 * address that sent 20 bad keys is answered 429 with Retry-After (refilled at 2 per second);
 * a good key from the same address is never limited; other addresses are not affected.
 */
describe("management API: bad keys per address", () => {
  let t: TestControlPlane;
  const shaped = (c: string) => `fp_${c.repeat(43)}`;
  const call = async (remoteAddress: string, key: string | null) => {
    const r = await t.cp.app.inject({ method: "GET", url: "/api/v1/me", remoteAddress, headers: key ? { "x-access-key": key } : {} });
    return { status: r.statusCode, headers: r.headers, json: r.json() as { error?: { code: string; message: string } } };
  };

  before(async () => {
    t = await startTestControlPlane();
  });
  after(() => t?.close());

  it("20 bad keys from an address, then 429 with Retry-After; a good key from it still passes; another address is not affected", async () => {
    const flood = "192.0.2.7";
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await call(flood, `bad-key-${i}`)).status);
    assert.deepEqual(statuses, [...Array(20).fill(401), ...Array(10).fill(429)]);
    const refused = await call(flood, "bad-key-x");
    assert.equal(refused.status, 429);
    assert.equal(refused.json.error?.code, "too_many_requests");
    assert.match(refused.json.error?.message ?? "", /unknown or invalid access key/);
    assert.ok(Number(refused.headers["retry-after"]) >= 1, JSON.stringify(refused.headers));
    assert.equal((await call(flood, null)).status, 429, "no key at all: refused too, before any lookup");
    // A key-shaped bad key is looked up, and answered as any bad key from that address: 429, not 401.
    assert.equal((await call(flood, shaped("B"))).status, 429);
    // The owner's key (never used from this address before) passes, again and again.
    for (let i = 0; i < 3; i++) assert.equal((await call(flood, t.ownerKey)).status, 200);
    // Another address has its own budget.
    assert.equal((await call("198.51.100.4", "bad-key-y")).status, 401);
    assert.equal((await call("198.51.100.4", t.ownerKey)).status, 200);
    // Refilled at 2 per second.
    t.clock.now = new Date(t.clock.now.getTime() + 1_000);
    assert.deepEqual([(await call(flood, "bad-1")).status, (await call(flood, "bad-2")).status, (await call(flood, "bad-3")).status], [401, 401, 429]);
  });

  it("takes its budget from the configuration (FLOWPLANE_API_BAD_KEY_BURST, ..._PER_SECOND)", async () => {
    const small = await startTestControlPlane({ badKeyBudget: { burst: 3, perSecond: 1 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await small.cp.app.inject({ method: "GET", url: "/api/v1/me", remoteAddress: "192.0.2.9", headers: { "x-access-key": `bad-${i}` } })).statusCode);
      assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
      small.clock.now = new Date(small.clock.now.getTime() + 1_000);
      assert.equal((await small.cp.app.inject({ method: "GET", url: "/api/v1/me", remoteAddress: "192.0.2.9", headers: { "x-access-key": "bad-x" } })).statusCode, 401, "one more a second");
    } finally {
      await small.close();
    }
  });
});
