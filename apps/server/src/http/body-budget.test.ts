import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TooManyRequestsError } from "@flowplane/core";
import { BodyBudget, bodyBudgetLimits, type BodyBudgetLimits } from "./body-budget.js";

const MiB = 1024 * 1024;
const limits = (o: Partial<BodyBudgetLimits> = {}): BodyBudgetLimits => ({ totalBytes: 30 * MiB, perCallerBytes: 20 * MiB, smallBytes: 64 * 1024, maxWaiting: 4, maxWaitingPerCaller: 2, maxWaitMs: 10_000, ...o });
/** Whether a promise has settled after the microtasks now queued have run. */
const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe("BodyBudget", () => {
  it("lets small bodies through without counting them, whatever is held", async () => {
    const b = new BodyBudget(limits());
    await b.take("a", 20 * MiB);
    await b.take("b", 10 * MiB);
    const small = await b.take("c", 64 * 1024);
    assert.equal(b.heldBytes, 30 * MiB);
    small();
    assert.equal(b.heldBytes, 30 * MiB);
  });

  it("holds a body that does not fit until one is released, then admits it", async () => {
    const b = new BodyBudget(limits());
    const r1 = await b.take("a", 10 * MiB);
    await b.take("b", 10 * MiB);
    await b.take("c", 10 * MiB);
    const fourth = b.take("d", 10 * MiB);
    assert.equal(await settled(fourth), false, "the fourth waits: 30 MiB are held");
    assert.equal(b.waitingCount, 1);
    r1();
    r1(); // a second release does nothing
    const r4 = await fourth;
    assert.equal(b.heldBytes, 30 * MiB);
    r4();
    assert.equal(b.heldBytes, 20 * MiB);
  });

  it("bounds one caller to its share; another caller's body passes the waiting one", async () => {
    const b = new BodyBudget(limits());
    const a1 = await b.take("a", 10 * MiB);
    await b.take("a", 10 * MiB);
    const a3 = b.take("a", 10 * MiB);
    assert.equal(await settled(a3), false, "a holds its 20 MiB share");
    const other = await b.take("b", 10 * MiB);
    assert.equal(b.heldBytes, 30 * MiB, "b's body did not wait behind a's");
    other();
    assert.equal(await settled(a3), false, "a is still at its share");
    a1();
    await a3;
  });

  it("does not let smaller bodies starve a larger one waiting for the total", async () => {
    const b = new BodyBudget(limits({ perCallerBytes: 30 * MiB }));
    const big = await b.take("a", 25 * MiB);
    const waiting = b.take("b", 10 * MiB);
    const small = b.take("c", 2 * MiB);
    assert.equal(await settled(small), false, "2 MiB would fit, but 10 MiB waits for the total before it");
    big();
    await waiting;
    await small;
    assert.equal(b.heldBytes, 12 * MiB);
  });

  it("refuses at once with 429 past the caller's waiting requests or the server's", async () => {
    const b = new BodyBudget(limits());
    await b.take("a", 20 * MiB);
    await b.take("b", 10 * MiB);
    void b.take("a", 5 * MiB).catch(() => {});
    void b.take("a", 5 * MiB).catch(() => {});
    await assert.rejects(b.take("a", 5 * MiB), (e: unknown) => e instanceof TooManyRequestsError && /for one caller/.test(e.message) && e.retryAfterSeconds === 1);
    void b.take("c", 5 * MiB).catch(() => {});
    void b.take("d", 5 * MiB).catch(() => {});
    await assert.rejects(b.take("e", 5 * MiB), (e: unknown) => e instanceof TooManyRequestsError && /retry shortly/.test(e.message));
    assert.equal(b.waitingCount, 4);
  });

  it("answers 429 to a body that waited too long, and frees its place", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const b = new BodyBudget(limits({ maxWaitMs: 5_000 }));
    await b.take("a", 20 * MiB);
    await b.take("b", 10 * MiB);
    const late = b.take("c", 5 * MiB);
    t.mock.timers.tick(5_000);
    await assert.rejects(late, (e: unknown) => e instanceof TooManyRequestsError && e.retryAfterSeconds === 5);
    assert.equal(b.waitingCount, 0);
  });

  it("forgets a waiting body whose client left, and admits the next", async () => {
    const b = new BodyBudget(limits());
    const held = await b.take("a", 20 * MiB);
    await b.take("b", 10 * MiB);
    const left = new AbortController();
    const gone = b.take("c", 10 * MiB, left.signal);
    const next = b.take("d", 10 * MiB);
    left.abort(new Error("gone"));
    await assert.rejects(gone, /gone/);
    assert.equal(b.waitingCount, 1);
    held();
    await next;
    assert.equal(b.heldBytes, 20 * MiB, "only d's body was admitted; c's was never held");
  });

  it("admits the bodies behind a waiting one that leaves, when they fit", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const b = new BodyBudget(limits({ perCallerBytes: 30 * MiB, maxWaitMs: 5_000 }));
    await b.take("a", 25 * MiB);
    const left = new AbortController();
    const big = b.take("b", 10 * MiB, left.signal);
    const small = b.take("c", 2 * MiB);
    assert.equal(await settled(small), false, "2 MiB waits behind the 10 MiB one");
    left.abort(new Error("gone"));
    await assert.rejects(big, /gone/);
    assert.equal(await settled(small), true, "2 MiB fits once nothing waits before it");
    assert.equal(b.heldBytes, 27 * MiB);
    // The same when the one before it waited too long.
    const big2 = b.take("b", 10 * MiB);
    t.mock.timers.tick(1_000);
    const small2 = b.take("d", 1 * MiB);
    assert.equal(await settled(small2), false);
    t.mock.timers.tick(4_000);
    await assert.rejects(big2, (e: unknown) => e instanceof TooManyRequestsError);
    assert.equal(await settled(small2), true, "1 MiB admitted once the 10 MiB one was refused");
    assert.equal(b.waitingCount, 0);
  });

  it("holds only what keep names from then on, and lets waiting bodies in; never more, nothing after the release", async () => {
    const b = new BodyBudget(limits());
    const a = await b.take("a", 20 * MiB);
    const other = await b.take("b", 10 * MiB);
    const waiting = b.take("a", 10 * MiB);
    assert.equal(await settled(waiting), false);
    a.keep(30 * MiB);
    assert.equal(b.heldBytes, 30 * MiB, "keep never holds more than was taken");
    a.keep(5 * MiB);
    const w = await waiting;
    assert.equal(b.heldBytes, 25 * MiB, "a holds 5 MiB, b 10, the one let in 10");
    a.keep(64 * 1024);
    assert.equal(b.heldBytes, 20 * MiB, "a small body's size holds nothing");
    a();
    a();
    a.keep(MiB);
    assert.equal(b.heldBytes, 20 * MiB, "a released hold gives back nothing more, and keeps nothing");
    w();
    other();
    assert.equal(b.heldBytes, 0);
    // The no-op release of a small body has keep too.
    (await b.take("c", 1024)).keep(10);
  });

  it("counts a body of unknown size, or larger than a caller's share, as that share", async () => {
    const b = new BodyBudget(limits());
    await b.take("a", 1024 * MiB);
    assert.equal(b.heldBytes, 20 * MiB);
  });

  it("derives its limits from the body limit: six of the largest bodies at once, two per caller", () => {
    const l = bodyBudgetLimits(10 * MiB);
    assert.deepEqual([l.totalBytes, l.perCallerBytes], [60 * MiB, 20 * MiB]);
    assert.throws(() => new BodyBudget({ ...l, perCallerBytes: l.totalBytes + 1 }));
  });
});
