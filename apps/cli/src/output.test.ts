import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keyValues, table } from "./output.js";

/** Strings other teams chose reach a terminal only as text: no escape sequence, no forged row, no reversed name. */
describe("CLI output: control characters are shown, never acted on", () => {
  it("a table cell is one line of visible text", () => {
    const out = table(["NAME", "STATUS"], [["\u001b]0;pwned\u0007x", "ok"], ["two\nlines", "\u202eevil"]]);
    assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    assert.equal(out.split("\n").length, 3, "one line per row");
    assert.match(out, /\\u\{1b\}\]0;pwned\\u\{7\}x/);
    assert.match(out, /\\u\{202e\}evil/);
  });

  it("a value keeps its newlines and tabs, nothing else", () => {
    const out = keyValues([["Description", "line one\n\tline two \u001b[2J"]]);
    assert.equal(out, "Description: line one\n\tline two \\u{1b}[2J");
  });
});
