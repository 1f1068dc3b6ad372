import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_JSON_DEPTH, inputProblem } from "./input-hygiene.js";

/** The best of three timings of `f`, in ms (a shared machine's noise only ever adds). */
function best(f: () => unknown): number {
  let min = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    f();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

describe("inputProblem", () => {
  it("names the first bad string, key or too-deep value by its path", () => {
    assert.equal(inputProblem({ a: [1, { b: "ok" }], c: "x" }, ""), null);
    assert.equal(inputProblem({ a: [1, { b: "x\u0000" }] }, "")?.field, "a[1].b");
    assert.equal(inputProblem({ a: { ["k\u0000"]: 1 } }, "")?.field, "a.k\\u0000");
    assert.equal(inputProblem("\ud800", "name")?.field, "name");
    let deep: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH - 1; i++) deep = [deep]; // with the object around it: MAX_JSON_DEPTH levels
    assert.equal(inputProblem({ x: deep }, ""), null);
    const p = inputProblem({ x: [deep] }, "");
    assert.match(p?.message ?? "", /nests deeper than 64 levels at x(\[0\]){63}; no flow/);
  });

  /**
   * A 10 MiB body of three million empty objects (`[{},{},...]`) held the control plane's event
   * loop 6 s and grew it by 800 MiB: every value's path was written and every child stacked at
   * once. Now the walk costs less than parsing the body did (it was 4.5 times as much).
   */
  it("walks a body of many tiny values in less time than JSON.parse took to build it", () => {
    const text = `{"flows":[${Array(300_000).fill('{"a":[]}').join(",")}]}`;
    const value = JSON.parse(text) as unknown;
    const parse = best(() => JSON.parse(text));
    const walk = best(() => assert.equal(inputProblem(value, ""), null));
    assert.ok(walk < parse, `the walk took ${walk.toFixed(0)} ms, the parse ${parse.toFixed(0)} ms`);
  });
});
