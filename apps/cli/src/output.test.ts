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

  it("a character drawn as nothing is written out, so a look-alike name reads as another", () => {
    const out = table(["NAME"], [["support-bot"], ["support-bot\u200b"], ["sup\u00adport-bot\u{e0041}"]]);
    assert.deepEqual(out.split("\n"), ["NAME", "support-bot", "support-bot\\u{200b}", "sup\\u{ad}port-bot\\u{e0041}"]);
    assert.equal(keyValues([["Bundle", "support-bot\ufeff@v1"]]), "Bundle: support-bot\\u{feff}@v1");
  });

  it("emoji keep their joiners and selectors; the same characters elsewhere are written out", () => {
    const shown = table(["NAME"], [["\u{1F469}\u200D\u{1F4BB} dev \u2764\uFE0F"], ["bill\u200Ding"], ["rag-v2\uFE0F"]]).split("\n");
    assert.deepEqual(shown, ["NAME", "\u{1F469}\u200D\u{1F4BB} dev \u2764\uFE0F", "bill\\u{200d}ing", "rag-v2\\u{fe0f}"]);
  });

  it("a value keeps its newlines and tabs, nothing else", () => {
    const out = keyValues([["Description", "line one\n\tline two \u001b[2J"]]);
    assert.equal(out, "Description: line one\n             \tline two \\u{1b}[2J");
  });

  it("a later line of a value is indented under the first, never read as a key of its own", () => {
    const out = keyValues([["Description", "Support bot\nAccess:      project (support)"], ["Access", "global"]]);
    assert.deepEqual(out.split("\n"), ["Description: Support bot", "             Access:      project (support)", "Access:      global"]);
  });
});
