import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PassWrites, type Holder } from "./pass-writes.js";

const holder = (name: string, log: string[], o: { throws?: boolean; then?: () => void } = {}): Holder => ({
  flushHeld() {
    log.push(`flush ${name}`);
    o.then?.();
    if (o.throws) throw new Error(`${name} broke`);
  },
  onFlushError(err) {
    log.push(`error ${name}: ${(err as Error).message}`);
  },
});

describe("gateway: the writes of one pass, at its end", () => {
  test("the holders of a pass are written after the pass's code, in the order they were held", async () => {
    const pass = new PassWrites();
    const log: string[] = [];
    pass.hold(holder("a", log));
    pass.hold(holder("b", log));
    log.push("end of the pass's code");
    // A promise's continuation still belongs to this pass (microtasks run before the check phase).
    await Promise.resolve();
    log.push("a microtask");
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, ["end of the pass's code", "a microtask", "flush a", "flush b"]);
  });

  test("a holder that throws is told, and the holders after it are still written", async () => {
    const pass = new PassWrites();
    const log: string[] = [];
    pass.hold(holder("a", log, { throws: true }));
    pass.hold(holder("b", log));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, ["flush a", "error a: a broke", "flush b"]);
  });

  test("a holder held while a pass is being written waits for the next one's end, and is written then", async () => {
    const pass = new PassWrites();
    const log: string[] = [];
    pass.hold(holder("a", log, { then: () => pass.hold(holder("c", log)) }));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, ["flush a"]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, ["flush a", "flush c"]);
  });
});
