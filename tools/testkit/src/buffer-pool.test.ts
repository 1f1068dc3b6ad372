import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { poolBytesTakenBy } from "./buffer-pool.js";

describe("poolBytesTakenBy: what a function takes from Node's shared Buffer pool", () => {
  it("is 0 for a function that takes nothing, and what a short Buffer from text takes otherwise", () => {
    assert.equal(poolBytesTakenBy(() => undefined), 0);
    assert.equal(poolBytesTakenBy(() => Buffer.alloc(16)), 0, "Buffer.alloc has a store of its own");
    assert.equal(poolBytesTakenBy(() => Buffer.from("0123456789")), 16, "10 bytes, aligned to 8");
  });

  it("sees through a rotation of the pool: the first probe taking its last slot", () => {
    // Fills the current pool up to its last 8-byte slot, which the next short Buffer takes.
    const toLastSlot = () => {
      for (let i = 0; i < 2_000; i++) if (Buffer.from("x").byteOffset === Buffer.poolSize - 16) return true;
      return false;
    };
    assert.ok(toLastSlot());
    assert.equal(poolBytesTakenBy(() => Buffer.from("0123456789")), 16);
    assert.ok(toLastSlot());
    assert.equal(poolBytesTakenBy(() => undefined), 0);
  });
});
