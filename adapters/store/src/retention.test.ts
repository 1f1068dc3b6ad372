import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Pace } from "./retention.js";

describe("retention's pace: deployments per statement, sized to hold the event loop about 10 ms", () => {
  it("doubles while statements run short, halves when one runs long, within 1..MAX", () => {
    const pace = new Pace();
    assert.equal(pace.size, 1, "one deployment first: its runs may be many");
    pace.took(1);
    pace.took(1);
    assert.equal(pace.size, 4, "short: twice as many each time");
    pace.took(Pace.TARGET_MS);
    assert.equal(pace.size, 4, "about the target: kept");
    pace.took(3 * Pace.TARGET_MS);
    assert.equal(pace.size, 2, "long: half");
    for (let i = 0; i < 10; i++) pace.took(1_000);
    assert.equal(pace.size, 1, "never below one deployment a statement");
    for (let i = 0; i < 20; i++) pace.took(0);
    assert.equal(pace.size, Pace.MAX, "never above MAX");
  });

  it("a statement of cuts never covers more deployments than its cap, whatever the times", () => {
    const pace = new Pace(2);
    for (let i = 0; i < 10; i++) pace.took(0);
    assert.equal(pace.size, 2);
    assert.equal(new Pace(0).size, 1, "a cap below one is one");
    const zero = new Pace(0);
    zero.took(0);
    assert.equal(zero.size, 1);
  });
});
