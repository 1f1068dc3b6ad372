import assert from "node:assert/strict";
import { test } from "node:test";
import { OpenList } from "./open-list.js";

const ids = (l: OpenList<{ id: number }>) => [...l].map((x) => x.id);

test("the open list holds what was added and not removed, whatever the order of removal", () => {
  const l = new OpenList<{ id: number }>();
  const items = [0, 1, 2, 3, 4].map((id) => ({ id }));
  for (const x of items) l.add(x);
  assert.deepEqual(ids(l), [4, 3, 2, 1, 0]);
  l.delete(items[2]!); // middle
  l.delete(items[4]!); // head
  l.delete(items[0]!); // tail
  assert.deepEqual(ids(l), [3, 1]);
  assert.equal(l.size, 2);
  l.add(items[2]!); // added again after its removal
  assert.deepEqual(ids(l), [2, 3, 1]);
  for (const x of items) l.delete(x);
  assert.deepEqual(ids(l), []);
  assert.equal(l.size, 0);
});

test("removing an item not in the list, or twice, and adding one twice change nothing", () => {
  const l = new OpenList<{ id: number }>();
  const a = { id: 1 };
  const b = { id: 2 };
  l.delete(a);
  l.add(a);
  l.add(a);
  l.add(b);
  l.delete(b);
  l.delete(b);
  assert.deepEqual(ids(l), [1]);
  assert.equal(l.size, 1);
});

test("an item removed keeps no reference to the others (nothing finished is kept alive through it)", () => {
  const l = new OpenList<{ id: number }>();
  const [a, b, c] = [{ id: 1 }, { id: 2 }, { id: 3 }];
  l.add(a);
  l.add(b);
  l.add(c);
  l.delete(b);
  assert.deepEqual(Object.getOwnPropertySymbols(b).map((s) => (b as Record<symbol, unknown>)[s]).filter((v) => v !== undefined), []);
  assert.deepEqual(ids(l), [3, 1]);
});

test("each item can be removed while the list is walked", () => {
  const l = new OpenList<{ id: number }>();
  for (let id = 0; id < 4; id++) l.add({ id });
  const seen: number[] = [];
  for (const x of l) {
    seen.push(x.id);
    l.delete(x);
  }
  assert.deepEqual(seen, [3, 2, 1, 0]);
  assert.equal(l.size, 0);
});
