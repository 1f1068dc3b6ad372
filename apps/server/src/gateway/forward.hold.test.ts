import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { describe, test } from "node:test";
import type { Dispatcher } from "undici";
import type { Exchange } from "./exchange.js";
import { Attempt, HOLD_MAX } from "./forward.js";
import { PassWrites } from "./pass-writes.js";

/** A client response that takes `room` bytes, then says it is full (write returns false). */
function fakeResponse(room: number) {
  const res = Object.assign(new EventEmitter(), {
    destroyed: false, written: [] as Buffer[], ended: false,
    writeHead() { return res; },
    write(chunk: Buffer) { res.written.push(chunk); return res.written.reduce((n, b) => n + b.length, 0) < room; },
    end(chunk?: Buffer) { if (chunk) res.written.push(chunk); res.ended = true; return res; },
    destroy() { res.destroyed = true; return res; },
  });
  return res;
}

function fakeController() {
  const c = { paused: false, aborted: false, pause() { c.paused = true; }, resume() { c.paused = false; }, abort() { c.aborted = true; } };
  return c as typeof c & Dispatcher.DispatchController;
}

function attempt(room: number) {
  const res = fakeResponse(room);
  const ex = { res, requestId: "r", route: {} } as unknown as Exchange;
  const a = new Attempt(ex, new PassWrites(), () => undefined);
  const c = fakeController();
  a.onRequestStart(c);
  a.onResponseStart(c, 200, {});
  return { a, c, res: res as typeof res & ServerResponse };
}

describe("gateway: what one answer holds until the end of its pass", () => {
  test("undici's 32 reads of one poll (2 MiB) are not all held: past HOLD_MAX the answer is written, and a full client pauses the replica's connection in that pass", () => {
    const { a, c, res } = attempt(128 * 1024);
    const read = Buffer.alloc(16 * 1024, 0x61);
    let delivered = 0;
    // One pass: undici hands over chunk after chunk while the controller is not paused.
    while (!c.paused && delivered < 2 * 1024 * 1024) {
      a.onResponseData(c, read);
      delivered += read.length;
    }
    const written = res.written.reduce((n, b) => n + b.length, 0);
    assert.ok(delivered - written < HOLD_MAX, `held ${delivered - written} bytes`);
    assert.ok(c.paused, "the full client paused the replica's connection");
    assert.ok(delivered <= 128 * 1024 + HOLD_MAX, `${delivered} bytes taken in one pass`);
  });

  test("small pieces are still held to the end of the pass, then written whole and in order", async () => {
    const { a, c, res } = attempt(1 << 20);
    a.onResponseData(c, Buffer.from("one|"));
    a.onResponseData(c, Buffer.from("two|"));
    a.onResponseEnd();
    assert.equal(res.written.length, 0);
    await new Promise((r) => setImmediate(r));
    assert.equal(Buffer.concat(res.written).toString(), "one|two|");
    assert.ok(res.ended);
  });

  test("a replica failing in the pass its first bytes came in: those bytes are written before the answer is cut, as without the hold", () => {
    const { a, c, res } = attempt(1 << 20);
    a.onResponseData(c, Buffer.from("half an answer"));
    a.onResponseError(c, new Error("the replica's connection broke"));
    assert.equal(Buffer.concat(res.written).toString(), "half an answer");
    assert.ok(res.destroyed, "the answer is cut");
    assert.ok(!res.ended, "never ended as if whole");
  });
});
