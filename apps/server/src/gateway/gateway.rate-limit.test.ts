import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { NO_LIMITS, type Limits, type Principal } from "@flowplane/core";
import { waitFor } from "@flowplane/testkit";
import { APP, PROJECT, principal, route, routeUrl, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";

const limits = (over: { deployment?: Partial<Limits["deployment"]>; perKey?: Partial<Limits["perKey"]> }): Limits => ({
  deployment: { ...NO_LIMITS.deployment, ...over.deployment },
  perKey: { ...NO_LIMITS.perKey, ...over.perKey },
});

/** Rate limits at the gateway (rate-limit.ts), on a real loopback gateway with a movable clock. */
describe("gateway: rate limits", () => {
  let g: TestGateway;
  let up: Upstream;
  /** Answers held by the upstream until the test lets them go (the concurrency test). */
  const held: ServerResponse[] = [];

  before(async () => {
    up = await startUpstream((req, res) => {
      if (req.url?.startsWith("/hold")) return void held.push(res);
      res.setHeader("content-type", "application/json");
      res.end("{}");
    });
    g = await startGateway();
    for (const k of ["key-a", "key-b", "key-c", "key-d"]) g.keys.set(k, principal(`u-${k}`));
    g.routes.set("r-key", route("r-key", { limits: limits({ perKey: { requestsPerSecond: 1, burst: 3 } }) }));
    g.routes.set("r-dep", route("r-dep", { limits: limits({ deployment: { requestsPerSecond: 2, burst: 2 } }) }));
    g.routes.set("r-conc", route("r-conc", { limits: limits({ deployment: { maxConcurrent: 2 } }) }));
    g.routes.set("r-free", route("r-free"));
    for (const r of g.routes.values()) g.endpoints.set(r.resourceName, [up.url]);
  });
  after(async () => {
    for (const res of held) res.end();
    await g.close();
    await up.close();
  });

  const get = (id: string, key: string, rest = "/flows") => fetch(routeUrl(g, id, rest), { headers: { "x-access-key": key } });

  test("a key over its limit gets 429 with Retry-After, RateLimit and RateLimit-Policy; other keys are unaffected; it recovers after the window", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await get("r-key", "key-a");
      statuses.push(res.status);
      // An admitted request carries the live counters too.
      assert.equal(res.headers.get("ratelimit-policy"), '"key";q=3;w=3');
      assert.equal(res.headers.get("ratelimit"), `"key";r=${2 - i};t=${i + 1}`);
    }
    assert.deepEqual(statuses, [200, 200, 200]);

    const refused = await get("r-key", "key-a");
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.equal(refused.headers.get("ratelimit-policy"), '"key";q=3;w=3');
    assert.equal(refused.headers.get("ratelimit"), '"key";r=0;t=1');
    const body = await refused.json() as { error: { code: string; message: string } };
    assert.equal(body.error.code, "rate_limited");
    assert.match(body.error.message, /access key/);

    // Another key on the same deployment has its own budget.
    assert.equal((await get("r-key", "key-b")).status, 200);

    // One second later one token is back: one request passes, the next is refused again.
    g.advance(1_000);
    assert.equal((await get("r-key", "key-a")).status, 200);
    assert.equal((await get("r-key", "key-a")).status, 429);
    // After the whole window, the full burst again.
    g.advance(3_000);
    for (let i = 0; i < 3; i++) assert.equal((await get("r-key", "key-a")).status, 200);
  });

  test("a deployment's limit counts every key together", async () => {
    assert.equal((await get("r-dep", "key-a")).status, 200);
    assert.equal((await get("r-dep", "key-b")).status, 200);
    const refused = await get("r-dep", "key-c");
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("ratelimit-policy"), '"deployment";q=2;w=1');
    assert.match(refused.headers.get("ratelimit") ?? "", /^"deployment";r=0;t=1$/);
    // Unlimited deployments and their callers are untouched, and carry no RateLimit header.
    const free = await get("r-free", "key-c");
    assert.equal(free.status, 200);
    assert.equal(free.headers.get("ratelimit"), null);
    g.advance(500);
    assert.equal((await get("r-dep", "key-c")).status, 200);
  });

  test("maxConcurrent: requests beyond it get 429 while the others are in flight, and pass once they finish", async () => {
    const first = [get("r-conc", "key-a", "/hold"), get("r-conc", "key-b", "/hold")];
    await waitFor(() => held.length === 2, { timeoutMs: 5_000, message: "two requests held upstream" });
    const third = await get("r-conc", "key-c");
    assert.equal(third.status, 429);
    assert.equal(third.headers.get("retry-after"), "1");
    assert.equal(third.headers.get("ratelimit-policy"), '"deployment-concurrency";q=2');
    assert.equal(third.headers.get("ratelimit"), '"deployment-concurrency";r=0');
    for (const res of held.splice(0)) res.end("{}");
    assert.deepEqual((await Promise.all(first)).map((r) => r.status), [200, 200]);
    // The slots are released when the answers are done (the close event follows the last byte).
    await waitFor(async () => (await get("r-conc", "key-c")).status === 200, { timeoutMs: 5_000, message: "a slot free again" });
  });

  test("a flood of bad keys from one address is answered 429 without key lookups; a verified key from that address still works", async () => {
    // A good key, verified (and so cached) just before the flood.
    assert.equal((await get("r-free", "key-d")).status, 200);
    const before = g.lookups.keys;
    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const res = await get("r-free", `bad-key-${i}`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 429) {
        assert.equal(res.headers.get("ratelimit-policy"), '"failed-auth";q=20;w=10');
        assert.ok(Number(res.headers.get("retry-after")) >= 1);
      }
    }
    // The default budget: 20 failures at once. Every later bad key cost no lookup at all.
    assert.equal(statuses.get(401), 20);
    assert.equal(statuses.get(429), 180);
    assert.equal(g.lookups.keys - before, 20);
    // The verified key is still answered from the cache, so it still passes.
    assert.equal((await get("r-free", "key-d")).status, 200);
    // The budget refills at 2 per second.
    g.advance(1_000);
    assert.equal((await get("r-free", "bad-again-1")).status, 401);
    assert.equal((await get("r-free", "bad-again-2")).status, 401);
    assert.equal((await get("r-free", "bad-again-3")).status, 429);
    // Later, its cache entry expired, the good key is looked up again: the address has budget again.
    g.advance(5_000);
    assert.equal((await get("r-free", "key-d")).status, 200);
  });

  const shaped = (c: string) => `fp_${c.repeat(43)}`;
  /**
   * A good key-shaped key this gateway has never verified, then (from a full budget, no key cached)
   * another client behind the same address flooding bad keys until the address is over budget.
   */
  const overBudgetWithFreshKey = async (c: string, flood: string) => {
    const fresh = shaped(c);
    g.keys.set(fresh, principal(`u-fresh-${c}`));
    g.advance(60_000);
    for (let i = 0; i < 25; i++) await (await get("r-free", `${flood}-${i}`)).arrayBuffer();
    assert.equal((await get("r-free", `${flood}-last`)).status, 429);
    return fresh;
  };

  test("a good key never meets someone else's bad keys: over budget, a key-shaped good key not yet verified is looked up and passes; a key-shaped bad one is 429, never 401", async () => {
    const fresh = await overBudgetWithFreshKey("G", "flood");
    // The good key was never verified by this gateway: it is looked up anyway, and passes.
    const before = g.lookups.keys;
    const good = await get("r-free", fresh);
    assert.equal(good.status, 200, await good.text());
    assert.equal(g.lookups.keys - before, 1);
    // A key-shaped bad key is looked up too, but answered as any bad key from that address: 429, not 401.
    const bad = await get("r-free", shaped("B"));
    assert.equal(bad.status, 429);
    assert.ok(Number(bad.headers.get("retry-after")) >= 1);
    assert.equal((await get("r-free", shaped("B"))).status, 429, "the same one again: from the key cache, same answer");
    // And the good key keeps passing, over and over, while the address stays over budget.
    for (let i = 0; i < 5; i++) assert.equal((await get("r-free", fresh)).status, 200);
    // A bad key sent while over budget still costs a token: the address does not refill while the flood goes on.
    g.advance(400);
    assert.equal((await get("r-free", shaped("C"))).status, 429);
  });

  test("over budget, an address's key-shaped keys are looked up one at a time: its flood costs one lookup at a time, and a good key in it still passes", async () => {
    const fresh = await overBudgetWithFreshKey("H", "flood2");
    g.lookups.keyDelayMs = 20;
    g.lookups.keysAtOnce = 0;
    const before = g.lookups.keys;
    try {
      const flood = Array.from({ length: 12 }, (_, i) => get("r-free", shaped(String.fromCharCode(97 + i))));
      const good = get("r-free", fresh);
      const answers = await Promise.all([...flood, good]);
      assert.deepEqual(answers.slice(0, 12).map((r) => r.status), Array(12).fill(429));
      assert.equal(answers[12]!.status, 200, "the good key waited its turn and passed");
      await Promise.all(answers.map((r) => r.arrayBuffer()));
      assert.equal(g.lookups.keys - before, 13, "every key-shaped key is still looked up");
      assert.equal(g.lookups.keysAtOnce, 1, "one at a time");
    } finally {
      g.lookups.keyDelayMs = 0;
    }
  });

  test("a client that leaves while its key is looked up holds no concurrency slot and keeps nothing awake", async () => {
    const activity = new Map<string, number>();
    const lg = await startGateway({
      idle: { activity: (d, delta) => void activity.set(d, (activity.get(d) ?? 0) + delta), wake: async () => {} },
    });
    try {
      // The harness's authenticate answers what the map holds: a promise makes this key's lookup slow.
      let looked!: () => void;
      const lookedUp = new Promise<void>((resolve) => { looked = resolve; });
      lg.keys.set("slow-key", new Promise<Principal>((resolve) => setTimeout(() => { resolve(principal("u-slow")); looked(); }, 300)) as unknown as Principal);
      lg.keys.set("key-a", principal("u-a"));
      lg.routes.set("r-one", route("r-one", { limits: limits({ deployment: { maxConcurrent: 1 }, perKey: { maxConcurrent: 1 } }) }));
      lg.endpoints.set("res-r-one", [up.url]);
      // The request line and headers, then the connection closed before the lookup answers.
      const socket = connect(Number(new URL(lg.url).port), "127.0.0.1");
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.write(`GET /projects/${PROJECT}/apps/${APP}/routes/r-one/flows HTTP/1.1\r\nHost: x\r\nx-access-key: slow-key\r\n\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      await lookedUp;
      await new Promise((resolve) => setTimeout(resolve, 50));
      // The deployment's only slot is free for the next caller (before the fix: 429 for ever).
      const res = await fetch(routeUrl(lg, "r-one", "/flows"), { headers: { "x-access-key": "key-a" } });
      assert.equal(res.status, 200, await res.text());
      // The same key again: its own slot was not kept either.
      assert.equal((await fetch(routeUrl(lg, "r-one", "/flows"), { headers: { "x-access-key": "slow-key" } })).status, 200);
      await waitFor(() => activity.get("dep-r-one") === 0, { timeoutMs: 5_000, message: "no request left in flight for scale to zero" });
    } finally {
      await lg.close();
    }
  });

  test("requests pipelined behind a slow answer, then a hang-up: their slots and activity are released", async () => {
    const activity = new Map<string, number>();
    const lg = await startGateway({
      idle: { activity: (d, delta) => void activity.set(d, (activity.get(d) ?? 0) + delta), wake: async () => {} },
    });
    try {
      lg.keys.set("key-a", principal("u-a"));
      lg.routes.set("r-slow", route("r-slow"));
      lg.routes.set("r-pipe", route("r-pipe", { limits: limits({ deployment: { maxConcurrent: 2 } }) }));
      for (const r of lg.routes.values()) lg.endpoints.set(r.resourceName, [up.url]);
      // One connection: a request the replica holds, then two for the limited deployment behind
      // it (Node admits them at once; their answers wait for the first), then the client hangs up.
      const seen = up.seen.length;
      const socket = connect(Number(new URL(lg.url).port), "127.0.0.1");
      await new Promise((resolve) => socket.once("connect", resolve));
      const line = (id: string, rest: string) => `GET /projects/${PROJECT}/apps/${APP}/routes/${id}${rest} HTTP/1.1\r\nHost: x\r\nx-access-key: key-a\r\n\r\n`;
      socket.write(line("r-slow", "/hold") + line("r-pipe", "/flows") + line("r-pipe", "/flows"));
      await waitFor(() => held.length === 1 && up.seen.length === seen + 3, { timeoutMs: 5_000, message: "all three forwarded" });
      socket.destroy();
      for (const res of held.splice(0)) res.end("{}");
      // Both slots free again (before the fix: 429 for every caller, for ever), and nothing left in flight.
      await waitFor(() => activity.get("dep-r-pipe") === 0 && activity.get("dep-r-slow") === 0, { timeoutMs: 5_000, message: "no request left in flight for scale to zero" });
      const statuses = await Promise.all([0, 1].map(() => fetch(routeUrl(lg, "r-pipe", "/flows"), { headers: { "x-access-key": "key-a" } }).then((r) => r.status)));
      assert.deepEqual(statuses, [200, 200]);
    } finally {
      await lg.close();
    }
  });
});
