import assert from "node:assert/strict";
import { test } from "node:test";
import { TtlCache } from "./ttl-cache.js";

function setup(o: { ttlMs?: number; maxEntries?: number } = {}) {
  let now = 0;
  let loads = 0;
  const cache = new TtlCache<string>({ ttlMs: o.ttlMs ?? 1000, maxEntries: o.maxEntries ?? 100, now: () => now });
  const load = (v: string) => () => { loads++; return Promise.resolve(v); };
  return { cache, load, advance: (ms: number) => { now += ms; }, loads: () => loads };
}

test("a value is served from the cache until its TTL, then loaded again", async () => {
  const s = setup();
  assert.equal(await s.cache.get("k", s.load("v1")), "v1");
  s.advance(999);
  assert.equal(await s.cache.get("k", s.load("v2")), "v1");
  s.advance(1);
  assert.equal(await s.cache.get("k", s.load("v3")), "v3");
  assert.equal(s.loads(), 2);
});

test("concurrent misses share one load", async () => {
  const s = setup();
  const all = await Promise.all(Array.from({ length: 10 }, () => s.cache.get("k", s.load("v"))));
  assert.deepEqual(new Set(all), new Set(["v"]));
  assert.equal(s.loads(), 1);
});

test("a failed load is not cached", async () => {
  const s = setup();
  await assert.rejects(s.cache.get("k", () => Promise.reject(new Error("db down"))));
  assert.equal(await s.cache.get("k", s.load("v")), "v");
});

test("the size stays bounded, dropping the oldest entries", async () => {
  const s = setup({ maxEntries: 3 });
  for (const k of ["a", "b", "c", "d"]) await s.cache.get(k, s.load(k));
  assert.equal(s.cache.size, 3);
  await s.cache.get("a", s.load("a2"));
  assert.equal(s.loads(), 5, "a was evicted and loaded again");
  await s.cache.get("d", s.load("d2"));
  assert.equal(s.loads(), 5, "d was kept");
});
