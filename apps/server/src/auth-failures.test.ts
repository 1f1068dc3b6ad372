import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TooManyRequestsError, UnauthenticatedError } from "@flowplane/core";
import { sleep, stepWallClock } from "@flowplane/testkit";
import { AuthFailures } from "./auth-failures.js";

// The failed-authentication budget on its own (the gateway's and the API's e2e tests cover it
// through HTTP): a clock of the test's, a budget of 3 at once refilled at 1/s.
describe("AuthFailures", () => {
  const make = () => {
    let now = 1_000_000;
    const f = new AuthFailures({ budget: { burst: 3, perSecond: 1 }, now: () => now, maxEntries: 4 });
    return { f, tick: (ms: number) => (now += ms) };
  };
  const bad = () => Promise.reject(new UnauthenticatedError("unknown key"));

  it("answers 401 for the first bad keys, 429 with a retry time once the address is over budget, and forgives with time", async () => {
    const { f, tick } = make();
    for (let i = 0; i < 3; i++) await assert.rejects(f.authenticate("10.0.0.1", "k", () => true, bad), UnauthenticatedError);
    const err = await f.authenticate("10.0.0.1", "k", () => true, bad).catch((e: unknown) => e);
    assert.ok(err instanceof TooManyRequestsError, String(err));
    // Another address has a budget of its own.
    await assert.rejects(f.authenticate("10.0.0.2", "k", () => true, bad), UnauthenticatedError);
    tick(1_500);
    await assert.rejects(f.authenticate("10.0.0.1", "k", () => true, bad), UnauthenticatedError);
  });

  it("forgives on its own clock: a wall clock stepped back an hour does not hold an address over budget for that hour", async () => {
    const f = new AuthFailures({ budget: { burst: 1, perSecond: 10 } }); // its default clock
    await assert.rejects(f.authenticate("10.0.0.9", "k", () => true, bad), UnauthenticatedError);
    assert.ok((await f.authenticate("10.0.0.9", "k", () => true, bad).catch((e: unknown) => e)) instanceof TooManyRequestsError);
    const back = stepWallClock(-3_600_000);
    try {
      await sleep(300); // three refills at 10/s
      await assert.rejects(f.authenticate("10.0.0.9", "k", () => true, bad), UnauthenticatedError, "forgiven after 100 ms, not an hour");
    } finally {
      back();
    }
  });

  it("passes a valid credential over budget, and refuses what cannot be a key before any lookup", async () => {
    const { f } = make();
    for (let i = 0; i < 4; i++) await f.authenticate("10.0.0.1", "k", () => true, bad).catch(() => undefined);
    assert.equal(await f.authenticate("10.0.0.1", "good", () => true, async () => "principal"), "principal");
    let looked = false;
    const err = await f.authenticate("10.0.0.1", "junk", () => false, async () => ((looked = true), "x")).catch((e: unknown) => e);
    assert.ok(err instanceof TooManyRequestsError);
    assert.equal(looked, false, "no lookup for what cannot be a key once over budget");
  });

  it("does not charge a refusal that is not a bad credential (403, a failing store), nor a request that sent none", async () => {
    const { f } = make();
    for (let i = 0; i < 5; i++) await assert.rejects(f.authenticate("10.0.0.1", "k", () => true, () => Promise.reject(new Error("store down"))), /store down/);
    for (let i = 0; i < 5; i++) await assert.rejects(f.authenticate("10.0.0.1", undefined, () => false, bad), UnauthenticatedError);
    await assert.rejects(f.authenticate("10.0.0.1", "k", () => true, bad), UnauthenticatedError);
  });

  it("counts an IPv4 client once whether it is written a.b.c.d or ::ffff:a.b.c.d", async () => {
    const { f } = make();
    for (const a of ["192.0.2.7", "::ffff:192.0.2.7", "192.0.2.7"]) await assert.rejects(f.authenticate(a, "k", () => true, bad), UnauthenticatedError);
    const err = await f.authenticate("::ffff:192.0.2.7", "k", () => true, bad).catch((e: unknown) => e);
    assert.ok(err instanceof TooManyRequestsError, "one budget for both spellings");
    assert.equal(f.size, 1);
    // An IPv6 address is its own.
    await assert.rejects(f.authenticate("2001:db8::7", "k", () => true, bad), UnauthenticatedError);
  });

  it("counts an IPv6 client by its /64, however written, and other /64s apart", async () => {
    const { f } = make();
    // Three addresses of one /64 (a host's privacy addresses): one budget.
    for (const a of ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:0db8:0001:0002:a::b%eth0"]) {
      await assert.rejects(f.authenticate(a, "k", () => true, bad), UnauthenticatedError);
    }
    const err = await f.authenticate("2001:db8:1:2:dead:beef:1:2", "k", () => true, bad).catch((e: unknown) => e);
    assert.ok(err instanceof TooManyRequestsError, "a fresh address in the same /64 is over budget");
    assert.equal(f.size, 1);
    // The next /64, and an IPv4 address written in hex inside ::ffff:0:0/96, are apart from it.
    await assert.rejects(f.authenticate("2001:db8:1:3::1", "k", () => true, bad), UnauthenticatedError);
    for (const a of ["::ffff:c000:207", "192.0.2.7"]) await assert.rejects(f.authenticate(a, "k", () => true, bad), UnauthenticatedError);
    await assert.rejects(f.authenticate("192.0.2.8", "k", () => true, bad), UnauthenticatedError);
    assert.equal(f.size, 4, "2001:db8:1:2::/64, 2001:db8:1:3::/64, 192.0.2.7, 192.0.2.8");
  });

  it("holds at most maxEntries addresses, the least recently used forgotten first", async () => {
    const { f } = make();
    for (let i = 0; i < 10; i++) await f.authenticate(`10.0.1.${i}`, "k", () => true, bad).catch(() => undefined);
    assert.equal(f.size, 4);
  });

  /** A lookup that ends when the test says so, counting how many run at once. */
  const gate = () => {
    let running = 0;
    let most = 0;
    const order: string[] = [];
    const ends = new Map<string, () => void>();
    const lookup = (name: string, outcome: "good" | "bad") => () => {
      running++;
      most = Math.max(most, running);
      order.push(name);
      return new Promise<string>((resolve, reject) => ends.set(name, () => {
        running--;
        if (outcome === "good") resolve(name);
        else reject(new UnauthenticatedError("unknown key"));
      }));
    };
    return { lookup, order, ends, get most() { return most; } };
  };
  const settle = () => new Promise((r) => setImmediate(r));

  it("within its budget, an address's lookups run at once, side by side", async () => {
    const { f } = make();
    const g = gate();
    const calls = [1, 2, 3].map((i) => f.authenticate("10.0.0.1", "k", () => true, g.lookup(`k${i}`, "good")));
    await settle();
    assert.equal(g.most, 3);
    for (const end of g.ends.values()) end();
    assert.deepEqual(await Promise.all(calls), ["k1", "k2", "k3"]);
  });

  it("over budget, an address's key-shaped lookups wait in line, one at a time, in order; a good key in the line passes; other addresses do not wait", async () => {
    const { f } = make();
    for (let i = 0; i < 4; i++) await f.authenticate("10.0.0.1", "k", () => true, bad).catch(() => undefined);
    const g = gate();
    const first = f.authenticate("10.0.0.1", "k", () => true, g.lookup("bad-1", "bad")).catch((e: unknown) => e);
    const second = f.authenticate("10.0.0.1", "k", () => true, g.lookup("bad-2", "bad")).catch((e: unknown) => e);
    const good = f.authenticate("10.0.0.1", "good", () => true, g.lookup("good", "good"));
    const other = f.authenticate("10.0.0.2", "k", () => true, g.lookup("other", "good"));
    await settle();
    assert.deepEqual([...g.order].sort(), ["bad-1", "other"], "one lookup of the address over budget at a time; the other address's at once");
    g.ends.get("other")!();
    assert.equal(await other, "other");
    g.ends.get("bad-1")!();
    assert.ok((await first) instanceof TooManyRequestsError);
    await settle();
    assert.equal(g.order.at(-1), "bad-2", "the next in line, once the one before ended");
    g.ends.get("bad-2")!();
    assert.ok((await second) instanceof TooManyRequestsError);
    await settle();
    assert.equal(g.order.at(-1), "good");
    g.ends.get("good")!();
    assert.equal(await good, "good", "a good key waits its turn and passes");
    assert.equal(g.most, 2);
    assert.equal(f.lined, 0, "the line is gone once empty");
  });

  it("a line ends with its lookups even when they throw; a verified credential skips it; a long line refuses nobody, each in turn", async () => {
    const { f } = make();
    for (let i = 0; i < 4; i++) await f.authenticate("10.0.0.1", "k", () => true, bad).catch(() => undefined);
    const turns = Array.from({ length: 500 }, () => f.lookupTurn("10.0.0.1", () => false));
    assert.ok(turns.every((t) => t instanceof Promise), "500 in line, none refused");
    assert.equal(f.lookupTurn("10.0.0.1", () => true), null, "a key found before does not wait");
    let tokenLooked = false;
    const token = f.authenticate("10.0.0.1", "token", () => true, async () => ((tokenLooked = true), "metrics"), () => true);
    await settle();
    assert.equal(tokenLooked, true, "a credential checked without a lookup does not wait behind the line");
    assert.equal(await token, "metrics");
    const ended: number[] = [];
    await Promise.all(turns.map(async (t, i) => {
      const end = await t!;
      ended.push(i);
      end();
    }));
    assert.deepEqual(ended, Array.from({ length: 500 }, (_, i) => i), "in order");
    assert.equal(f.lined, 0);
    // A lookup that throws still ends its turn: the next one runs.
    await assert.rejects(f.authenticate("10.0.0.1", "k", () => true, () => { throw new Error("store down"); }), /store down/);
    assert.equal(f.lined, 0);
    assert.equal(await f.authenticate("10.0.0.1", "good", () => true, async () => "next"), "next");
  });
});
