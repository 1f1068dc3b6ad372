import assert from "node:assert/strict";
import { test } from "node:test";
import { MessageStore } from "./memory-store.js";
import { Message } from "./values.js";

const msg = (sessionId: string, text: string) => new Message({ text, sessionId });
const texts = (list: Message[]) => list.map((m) => m.text);

test("a session keeps its last maxPerSession messages, oldest first, however many were added", () => {
  const store = new MessageStore({ maxPerSession: 3, maxSessions: 10 });
  for (let i = 1; i <= 20; i++) store.add(msg("s", `m${i}`));
  assert.deepEqual(texts(store.list("s")), ["m18", "m19", "m20"]);
  assert.deepEqual(texts(store.all()), ["m18", "m19", "m20"]);
  assert.deepEqual(store.list("none"), []);
});

test("a snapshot is the history as it was when taken: later messages and trims do not change it", () => {
  const store = new MessageStore({ maxPerSession: 3, maxSessions: 10 });
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
  const store = new MessageStore({ maxPerSession: 3, maxSessions: 2 });
  store.add(msg("a", "1"));
  store.add(msg("b", "1"));
  store.add(msg("a", "2"));
  store.add(msg("c", "1"));
  assert.deepEqual(store.list("b"), []);
  assert.deepEqual(texts(store.list("a")), ["1", "2"]);
});

test("a session keeps only its newest messages that fit its characters, a message too large for it none", () => {
  // Each message counts its text and 256 characters more.
  const store = new MessageStore({ maxSessionChars: 3 * (256 + 100) });
  for (let i = 1; i <= 5; i++) store.add(msg("s", String(i).repeat(100)));
  assert.deepEqual(texts(store.list("s")).map((t) => t[0]), ["3", "4", "5"]);
  assert.equal(store.size, 3 * 356);
  const before = store.snapshot("s");
  store.add(msg("s", "x".repeat(2000)));
  assert.deepEqual(store.list("s"), [], "a message larger than the session's bound is not kept, nor what came before it");
  assert.equal(store.size, 0);
  assert.deepEqual(texts(before()).map((t) => t[0]), ["3", "4", "5"], "a snapshot taken before is unchanged");
  store.add(msg("s", "y"));
  assert.deepEqual(texts(store.list("s")), ["y"]);
});

test("all sessions together keep to maxChars: the least recently used go first, never the one just added to", () => {
  const store = new MessageStore({ maxSessionChars: 1000, maxChars: 2000 });
  store.add(msg("a", "a".repeat(600))); // 856 counted
  store.add(msg("b", "b".repeat(600))); // 856: 1712 in all
  store.add(msg("c", "c".repeat(300))); // 556: 2268, past 2000: a, the least recently used, goes
  assert.deepEqual(store.list("a"), []);
  assert.deepEqual([store.list("b").length, store.list("c").length], [1, 1]);
  assert.equal(store.size, 1412);
  store.add(msg("c", "c".repeat(700))); // 956 more: c holds 1512, past its 1000: its older message goes
  assert.deepEqual(texts(store.list("c")).map((t) => t.length), [700]);
  assert.equal(store.size, 856 + 956);
});
