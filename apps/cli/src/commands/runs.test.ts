import assert from "node:assert/strict";
import { it } from "node:test";
import type { Trace } from "@flowplane/core/api";
import { logLine, traceText } from "./runs.js";

/**
 * `flowplane trace` prints text a flow chose (its error, a component's name, the recorded inputs
 * and outputs: a model's answer among them) beside its table: an escape sequence in any of it is
 * shown, never handed to the terminal, as in the table's own cells.
 */
it("trace text shows every control character as an escape, the table's and the rest", () => {
  const ESC = "\u001b]52;c;ZWNobyBvd25lZA==\u0007";
  const trace: Trace = {
    requestId: "r1", flowId: "f1", revision: 1, engine: "native", start: "2026-01-01T00:00:00.000Z", durationMs: 5, status: "error",
    error: `failed ${ESC}`, tokens: null, input: `in ${ESC}`, output: `out ${ESC}`,
    spans: [{ componentId: "c1", componentType: "ChatOutput", name: `Chat ${ESC}`, start: "2026-01-01T00:00:00.000Z", durationMs: 5, status: "error", error: `boom ${ESC}`, tokens: null,
      inputs: { input_value: `v ${ESC}` }, outputs: { message: `m ${ESC}` } }],
  };
  const text = traceText("r1", trace, true);
  assert.ok(!text.includes("\u001b") && !text.includes("\u0007"), JSON.stringify(text));
  assert.equal(text.split("\\u{1b}]52;c;ZWNobyBvd25lZA==\\u{7}").length - 1, 8, text);
});

it("a log line's control characters are shown as escapes, so it cannot pass as another replica's", () => {
  const forged = "boom\r[r2] {\"level\":\"info\",\"msg\":\"ready\"} \u001b[2K\u001b]52;c;ZWNobyBvd25lZA==\u0007";
  const line = { replica: "r1", time: null, level: null, text: forged };
  for (const text of [logLine(line, true), logLine(line, false)]) {
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text), JSON.stringify(text));
    assert.match(text, /boom\\u\{d\}\[r2\]/);
  }
  assert.ok(logLine(line, true).startsWith("[r1] boom"));
});
