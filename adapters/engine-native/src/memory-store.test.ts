import assert from "node:assert/strict";
import { test } from "node:test";
import { MessageStore } from "./memory-store.js";
import { Message } from "./values.js";

const msg = (sessionId: string, text: string) => new Message({ text, sessionId });
const texts = (list: Message[]) => list.map((m) => m.text);

test("a session keeps its last maxPerSession messages, oldest first, however many were added", () => {
  const store = new MessageStore(3, 10);
  for (let i = 1; i <= 20; i++) store.add(msg("s", `m${i}`));
  assert.deepEqual(texts(store.list("s")), ["m18", "m19", "m20"]);
  assert.deepEqual(texts(store.all()), ["m18", "m19", "m20"]);
  assert.deepEqual(store.list("none"), []);
});

test("a snapshot is the history as it was when taken: later messages and trims do not change it", () => {
  const store = new MessageStore(3, 10);
  for (let i = 1; i <= 4; i++) store.add(msg("s", `m${i}`));
  const before = store.snapshot("s");
  for (let i = 5; i <= 12; i++) store.add(msg("s", `m${i}`));
  assert.deepEqual(texts(before()), ["m2", "m3", "m4"]);
  assert.equal(before(), before(), "copied once, at the first read");
  assert.deepEqual(texts(store.snapshot("s")()), ["m10", "m11", "m12"]);
  const empty = store.snapshot("new");
  store.add(msg("new", "x"));
  assert.deepEqual(empty(), []);
});

test("the least recently used session goes when there are more than maxSessions", () => {
  const store = new MessageStore(3, 2);
  store.add(msg("a", "1"));
  store.add(msg("b", "1"));
  store.add(msg("a", "2"));
  store.add(msg("c", "1"));
  assert.deepEqual(store.list("b"), []);
  assert.deepEqual(texts(store.list("a")), ["1", "2"]);
});
