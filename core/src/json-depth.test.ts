import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_JSON_DEPTH, tooDeepAt } from "./json-depth.js";

const nested = (n: number, leaf: unknown = 1): unknown => {
  let v = leaf;
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { k: v };
  return v;
};

describe("tooDeepAt: JSON nested deeper than the recursive code behind a boundary can read", () => {
  it("takes MAX_JSON_DEPTH levels and refuses one more, naming the path", () => {
    assert.equal(tooDeepAt(nested(MAX_JSON_DEPTH)), null);
    const at = tooDeepAt(nested(MAX_JSON_DEPTH + 1), "tweaks");
    assert.ok(at?.startsWith("tweaks."), String(at));
    assert.equal(at!.split(/\.|\[/).length - 1, MAX_JSON_DEPTH);
  });

  it("walks any depth without recursion (100,000 levels) and ignores scalars", () => {
    assert.match(tooDeepAt(JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`)) ?? "", /^\[0\]/);
    for (const v of [null, 1, "x", true, undefined]) assert.equal(tooDeepAt(v), null);
  });

  it("finds the deep branch beside wide shallow ones, and shortens long keys in the path", () => {
    const long = "k".repeat(10_000);
    const value = { a: Array.from({ length: 100_000 }, () => ({})), [long]: { b: nested(MAX_JSON_DEPTH) } };
    const at = tooDeepAt(value)!;
    assert.ok(at.startsWith(`${"k".repeat(64)}….b`), at.slice(0, 80));
    assert.ok(at.length < 1000);
  });
});
