import assert from "node:assert/strict";
import { test } from "node:test";
import { DomainError } from "@flowplane/core";
import { FollowSlots } from "./follow-slots.js";

test("a caller gets its share of follows, then 429; a release gives the slot back once", () => {
  const slots = new FollowSlots({ perCaller: 2, total: 10 });
  const a1 = slots.acquire("key-a");
  slots.acquire("key-a");
  assert.throws(() => slots.acquire("key-a"), (e: unknown) => e instanceof DomainError && e.code === "too_many_requests" && /at most 2/.test(e.message));
  const b = slots.acquire("key-b"); // another caller is not affected
  a1();
  a1(); // twice: still one slot back, not two
  slots.acquire("key-a");
  assert.throws(() => slots.acquire("key-a"));
  assert.equal(slots.size, 3);
  b();
  assert.equal(slots.size, 2);
});

test("the total bounds every caller together", () => {
  const slots = new FollowSlots({ perCaller: 5, total: 3 });
  slots.acquire("a");
  slots.acquire("b");
  const c = slots.acquire("c");
  assert.throws(() => slots.acquire("d"), (e: unknown) => e instanceof DomainError && e.code === "too_many_requests" && /server already holds 3/.test(e.message));
  c();
  slots.acquire("d");
});
