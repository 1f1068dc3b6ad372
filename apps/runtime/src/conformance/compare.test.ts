import { test } from "node:test";
import assert from "node:assert/strict";
import { eventSequence, explain, resultText, shapeDifferences, type KnownDifference } from "./compare.js";

// The conformance suite's comparison rules: shapes not values, paths a glob can name.
test("shapes compare keys and JSON types recursively, not values; array items merge", () => {
  assert.deepEqual(shapeDifferences("w", { a: "x", n: [{ k: 1 }, { j: null }] }, { a: "y", n: [{ k: 2, j: null }] }), []);
  const d = shapeDifferences("w", { a: "x", b: 1, l: [{ k: "s" }] }, { a: null, c: 2, l: [{ k: 3 }] });
  assert.deepEqual(
    d.map((x) => `${x.path} ${x.kind}`),
    ["a type", "b only-native", "l[].k type", "c only-lfx"],
  );
  assert.deepEqual(shapeDifferences("w", { l: [] }, { l: [{ k: 1 }] }), [], "an empty list says nothing about item shape");
});

test("known differences match by flow, where and path globs, and kind", () => {
  const known: KnownDifference[] = [{ flow: "f", where: "Chat*", path: "*.run_id", kind: "only-lfx", reason: "r" }];
  const d = { where: "ChatOutput-1", path: "results.message.run_id", kind: "only-lfx" as const };
  assert.equal(explain(known, "f", d)?.reason, "r");
  assert.equal(explain(known, "g", d), undefined);
  assert.equal(explain(known, "f", { ...d, kind: "only-native" }), undefined);
  assert.equal(explain(known, "f", { ...d, path: "results.message.run_idx" }), undefined, "the glob is anchored");
});

test("a caller's text: a message's text, else a text output log; token runs count once", () => {
  assert.equal(resultText({ results: { message: { text: "hi" } } }), "hi");
  assert.equal(resultText({ results: {}, outputs: { a: { message: "", type: "unknown" }, b: { message: "t", type: "text" } } }), "t");
  assert.equal(resultText({ results: {}, outputs: { a: { message: [], type: "array" } } }), null);
  assert.deepEqual(eventSequence([{ event: "add_message" }, { event: "token" }, { event: "token" }, { event: "end" }]), ["add_message", "token*", "end"]);
});
