import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bundleNameSchema, versionTagSchema } from "./bundles.js";
import { shownName } from "./common.js";
import { bundleNameProblem, nameProblem } from "./names.js";

/** Names people read for what they are: nothing invisible, one spelling, no look-alike letters in a global name. */
describe("names others read", () => {
  const FINE = ["Support bot", "Résumé helper", "客服机器人", "日本語ボット v2", "한국어 bot", "Приветбот", "Ελληνικά", "🚀 launcher", "👩‍💻 dev helper", "👍🏽 votes", "❤️ fans", "1️⃣ first", "Café-2024_rc.1", "équipe.v2 数据"];
  it("leaves every script, emoji (joined, with presentation selectors and skin tones) and punctuation alone", () => {
    for (const s of FINE) {
      assert.equal(nameProblem("name", s), null, s);
      assert.equal(bundleNameProblem("name", s), null, s);
    }
  });

  const INVISIBLE: [string, string][] = [
    ["bill\u200Bing", "U+200B"], // zero-width space
    ["bill\u00ADing", "U+00AD"], // soft hyphen
    ["bill\u2060ing", "U+2060"], // word joiner
    ["bill\u200Ding", "U+200D"], // a joiner between letters: no emoji sequence
    ["bill\uFE0Fing", "U+FE0F"], // a presentation selector after a letter
    ["billing\u200E", "U+200E"], // left-to-right mark
    ["\u3164billing", "U+3164"], // Hangul filler
    ["billing\u{E0041}", "U+E0041"], // a tag character
    ["\uE000billing", "U+E000"], // private use
    ["bill\uD800ing", "U+D800"], // a lone surrogate
    ["\uFEFFbilling", "U+FEFF"], // byte order mark
  ];
  it("refuses invisible, private-use and surrogate characters, naming the code point", () => {
    for (const [s, cp] of INVISIBLE) {
      const problem = nameProblem("name", s);
      assert.ok(problem?.includes(cp), `${JSON.stringify(s)}: ${problem}`);
    }
  });

  it("refuses what draws like nothing though no property calls it invisible: the blank Braille pattern, a selector that changes nothing, a second space", () => {
    for (const [s, cp] of [["billing\u2800", "U+2800"], ["2024\u2800", "U+2800"], ["rag-v2\uFE0F", "U+FE0F"], ["rag \u{1F525}\uFE0F", "U+FE0F"], ["1\uFE0F bot", "U+FE0F"]] as const) {
      assert.ok(nameProblem("name", s)?.includes(cp), `${JSON.stringify(s)}: ${nameProblem("name", s)}`);
      assert.ok(bundleNameProblem("name", s)?.includes(cp), `${JSON.stringify(s)} as a bundle name`);
    }
    assert.match(nameProblem("name", "rag  bot") ?? "", /two spaces/);
    // What stays: the selector where it changes the picture, a keycap, a flag, joined emoji.
    for (const s of ["\u2764\uFE0F fans", "#\uFE0F\u20E3 tags", "\u{1F3F3}\uFE0F\u200D\u{1F308} pride", "\u{1F441}\uFE0F\u200D\u{1F5E8}\uFE0F", "\u{1F1EF}\u{1F1F5} bot", "\u{1F469}\u{1F3FD}\u200D\u{1F4BB} dev"]) {
      assert.equal(bundleNameProblem("name", s), null, s);
    }
  });

  it("does not run the rules on a name longer than its maximum (a megabyte of name held the API's event loop for seconds)", () => {
    const issues = (r: { success: boolean; error?: { issues: { message: string }[] } }) => (r.success ? [] : r.error!.issues.map((i) => i.message));
    // An invisible character after the limit: only the length is reported, so the rules never ran.
    assert.deepEqual(issues(bundleNameSchema.safeParse("a".repeat(100) + "\u200B")), ["name must be at most 64 characters"]);
    assert.deepEqual(issues(versionTagSchema.safeParse("a".repeat(200) + "\u200B")), ["versionTag must be at most 128 characters"]);
    assert.deepEqual(issues(shownName("name", 64).safeParse("a".repeat(100) + "\u200B")), ["name must be at most 64 characters"]);
  });

  it("refuses spaces other than U+0020 and decomposed characters", () => {
    assert.match(nameProblem("name", "my\u00A0bundle") ?? "", /U\+00A0/);
    assert.equal(nameProblem("name", "my\u3000bundle"), null, "the ideographic space CJK keyboards type");
    assert.match(nameProblem("name", "my\u2009bundle") ?? "", /U\+2009/);
    assert.match(nameProblem("name", "cafe\u0301") ?? "", /NFC/);
    assert.equal(nameProblem("name", "caf\u00E9"), null);
  });

  it("refuses, in a bundle name, compatibility characters and letters of mixed scripts", () => {
    assert.match(bundleNameProblem("name", "ｂｉｌｌｉｎｇ") ?? "", /U\+FF42 reads as "b"/);
    assert.match(bundleNameProblem("name", "𝐛illing") ?? "", /compatibility/);
    assert.match(bundleNameProblem("name", "ﬁnance") ?? "", /compatibility/);
    assert.match(bundleNameProblem("name", "p\u0430ypal") ?? "", /Latin and Cyrillic/); // Cyrillic а
    assert.match(bundleNameProblem("name", "\u0391pple") ?? "", /Greek and Latin/); // Greek Alpha
    assert.equal(bundleNameProblem("name", "report عربي"), null, "Latin beside one script whose letters do not pass for Latin");
    assert.equal(bundleNameProblem("name", "RAG हिंदी"), null);
    assert.match(bundleNameProblem("name", "report عربي हिंदी") ?? "", /mixes/, "but not beside two");
    assert.equal(bundleNameProblem("name", "データ（テスト）"), null, "full-width punctuation, as CJK keyboards type it");
    assert.equal(bundleNameProblem("name", "Acme™ 25℃"), null);
    assert.equal(bundleNameProblem("name", "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} team"), null, "the England flag's tag characters");
    assert.match(bundleNameProblem("name", "team\u{E0067}\u{E007F}") ?? "", /U\+E0067/, "tag characters elsewhere");
    assert.match(bundleNameProblem("name", "ボット Бот") ?? "", /mixes/, "Japanese with Cyrillic");
    // The same characters in other names (deployments, projects, tags) are only checked for invisible ones.
    assert.equal(nameProblem("name", "p\u0430ypal"), null);
  });

  it("applies through the API's schemas: bundle names, version tags and shown names", () => {
    const issues = (r: { success: boolean; error?: { issues: { message: string }[] } }) => (r.success ? [] : r.error!.issues.map((i) => i.message));
    assert.match(issues(bundleNameSchema.safeParse("p\u0430ypal")).join(), /Latin and Cyrillic/);
    assert.match(issues(bundleNameSchema.safeParse("bill\u200Bing")).join(), /U\+200B/);
    assert.match(issues(versionTagSchema.safeParse("v1\u200B")).join(), /U\+200B/);
    assert.equal(versionTagSchema.safeParse("v１").success, true, "a tag only names a version of a bundle whose name is checked");
    assert.match(issues(bundleNameSchema.safeParse("\u202eevil")).join(), /bidirectional/, "one message for an UNSHOWABLE character");
    assert.equal(issues(bundleNameSchema.safeParse("\u202eevil")).length, 1);
    const name = shownName("displayName", 64);
    assert.equal(name.parse(" cafe\u0301 "), "caf\u00E9", "stored composed, as keyboards type it");
    assert.match(issues(name.safeParse("team\u200Bx")).join(), /U\+200B/);
    assert.match(issues(name.safeParse("team\u00A0x")).join(), /U\+00A0/);
    assert.equal(name.parse("p\u0430ypal team"), "p\u0430ypal team", "mixed scripts are fine in a deployment's own name");
  });
});
