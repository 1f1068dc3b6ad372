import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { langflowTimestamp } from "@flowplane/core/replica";
import { langflowTimestampNow } from "./values.js";

test("a message's timestamp is lfx's format of the clock's millisecond, across seconds, minutes, days and years", () => {
  mock.timers.enable({ apis: ["Date"], now: 0 });
  try {
    const instants = [
      Date.UTC(2025, 2, 3, 17, 20, 18, 123), Date.UTC(2025, 2, 3, 17, 20, 18, 7), Date.UTC(2025, 2, 3, 17, 20, 18, 45),
      Date.UTC(2025, 2, 3, 17, 20, 18, 999), Date.UTC(2025, 2, 3, 17, 20, 19, 0), Date.UTC(2025, 2, 3, 17, 21, 0, 100),
      Date.UTC(2025, 11, 31, 23, 59, 59, 999), Date.UTC(2026, 0, 1, 0, 0, 0, 0), Date.UTC(2026, 0, 1, 0, 0, 0, 10),
      // Years toISOString writes with six digits and a sign (mock timers take no time before 1970).
      Date.UTC(10000, 0, 1, 0, 0, 0, 123), 8.64e15,
    ];
    for (const at of instants) {
      mock.timers.setTime(at);
      assert.equal(langflowTimestampNow(), langflowTimestamp(new Date(at)), new Date(at).toISOString());
      assert.equal(langflowTimestampNow(), langflowTimestamp(new Date(at)), "asked again within the same millisecond");
    }
    // Back in time (a clock set back) within one second and across one.
    for (const at of [Date.UTC(2026, 0, 1, 0, 0, 0, 5), Date.UTC(2025, 2, 3, 17, 20, 18, 500)]) {
      mock.timers.setTime(at);
      assert.equal(langflowTimestampNow(), langflowTimestamp(new Date(at)));
    }
  } finally {
    mock.timers.reset();
  }
});
