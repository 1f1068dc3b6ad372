import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_JSON_DEPTH, inputProblem } from "./input-hygiene.js";

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
   * once. What that costs now, against JSON.parse of the same body, is `npm run bench --
   * input-check`'s (a timing is no test's); here, that such a body is walked to its end: a bad
   * value after 300,000 good ones is found, and named by its path.
   */
  it("walks a body of many tiny values to its end, and names a bad one after them by its path", () => {
    const good = Array(300_000).fill('{"a":[]}').join(",");
    assert.equal(inputProblem(JSON.parse(`{"flows":[${good}]}`) as unknown, ""), null);
    assert.equal(inputProblem(JSON.parse(`{"flows":[${good},{"a":["\\u0000"]}]}`) as unknown, "")?.field, "flows[300000].a[0]");
  });
});
