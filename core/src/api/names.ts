/**
 * What makes a name safe to show to other people: the rules every name shared across teams
 * follows (bundle names and version tags, project, deployment, user and key names), beyond the
 * control characters and bidirectional overrides of common.ts UNSHOWABLE. A name that shows
 * nothing where it holds something, or that reads as another team's name, lets one team pass
 * its bundle off as another's in everyone's Asset Library. Pure functions on strings: this folder
 * is the API contract, shared with the web app and the CLI.
 *
 * The rules (Unicode's UTS #39 "Unicode Security Mechanisms", restriction levels, narrowed to
 * what a name needs):
 * - no invisible character: Unicode's Default_Ignorable_Code_Point (zero-width spaces and
 *   joiners, the soft hyphen, word joiner, Hangul fillers, variation selectors, tag characters)
 *   and the format characters (`Cf`: the bidirectional marks among them); the one use people
 *   have for two of them is kept, in emoji: U+200D joining two pictographs (👩‍💻) and the
 *   emoji presentation selector U+FE0F after an emoji (❤️);
 * - no private-use character (shown as whatever glyph a font puts there) and no lone surrogate
 *   (no character at all: stored as U+FFFD, so the name stored would not be the name given);
 * - no space but U+0020 (and the ideographic space CJK keyboards type, twice as wide): a
 *   no-break or thin space reads as a space and is another name; no two spaces in a row;
 * - composed characters in their one composed form (NFC): `é` as one character or as `e` and
 *   a combining accent look the same and would be two names.
 * Bundle names, which are global and name what everyone runs, follow two more (`bundleNameProblem`):
 * - no compatibility letter or digit (one that differs from its NFKC form): fullwidth letters,
 *   mathematical bold or italic letters, ligatures and superscripts read as the plain letters;
 * - letters from one script, or Latin with one other but Cyrillic, Greek and Cherokee (UTS #39
 *   "moderately restrictive"): a Cyrillic `а` in a Latin word is the classic look-alike.
 * What they leave: whole-script look-alikes (a name all in Cyrillic letters that read as Latin
 * ones) and names that differ by case; telling those apart needs the names published before
 * (UTS #39's confusable skeletons), not the name alone.
 */

/**
 * Invisible characters (see above), before the emoji exceptions are taken out; and the blank
 * Braille pattern U+2800, a symbol (`So`, so in neither property) that every font draws blank.
 */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Co}\p{Cs}\u2800]/u;
/** The emoji uses of U+200D and U+FE0F kept (see above): removed before INVISIBLE is tested. */
const EMOJI_JOINER = /(?<=\p{Extended_Pictographic}\p{Emoji_Modifier}?\u{FE0F}?)\u200D(?=\p{Extended_Pictographic})/gu;
/**
 * U+FE0F where it changes what is drawn: after an emoji drawn as text by default (❤ and ❤️ differ),
 * and in a keycap (1️⃣: a digit, # or *, U+FE0F, U+20E3). After an emoji drawn as one anyway (🔥),
 * or after a bare digit (`v2` and `v2` with U+FE0F), it changes nothing on screen: another name
 * that looks the same.
 */
const EMOJI_PRESENTATION = /(?<=(?![0-9#*])(?!\p{Emoji_Presentation})\p{Emoji})\u{FE0F}|(?<=[0-9#*])\u{FE0F}(?=\u20E3)/gu;
/**
 * A subdivision flag (England, Scotland, Wales): the black flag, tag characters spelling the
 * region, the cancel tag. The one use of tag characters, removed before INVISIBLE is tested.
 */
const FLAG_TAGS = /(?<=\u{1F3F4})[\u{E0020}-\u{E007E}]+\u{E007F}/gu;
/** Every use of an otherwise invisible character the rules keep: nameProblem and emojiMarks read this one list. */
const EMOJI_KEPT = [EMOJI_JOINER, EMOJI_PRESENTATION, FLAG_TAGS] as const;
/** Two spaces in a row: a web page draws them as one. */
const SPACES = /  /;
/**
 * White space other than U+0020 and the ideographic space U+3000 (what Japanese and Chinese
 * keyboards type, drawn twice as wide: not a space that passes for another). Tabs and newlines
 * are UNSHOWABLE already.
 */
const OTHER_SPACE = /[^\S \u3000]/u;

/**
 * The offsets (UTF-16) in `s` of the characters the emoji rules keep (a joiner between two
 * pictographs, a presentation selector that changes the picture, a flag's tags): a printer that
 * writes invisible characters out (the CLI's) leaves these drawn, so 👩‍💻 stays one picture.
 */
export function emojiMarks(s: string): Set<number> {
  const out = new Set<number>();
  if (!/[\u200D\uFE0F\u{E0020}-\u{E007F}]/u.test(s)) return out;
  for (const re of EMOJI_KEPT) {
    for (const m of s.matchAll(re)) for (let i = 0; i < m[0].length; i++) out.add(m.index + i);
  }
  return out;
}

/** The character a problem is about, as people can read it: `U+200B`. */
const codePoint = (c: string) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;

/** Why `s` is not a name others can read for what it is, or null. `what`: the field, for the message. */
export function nameProblem(what: string, s: string): string | null {
  const visible = EMOJI_KEPT.reduce((t, re) => t.replace(re, ""), s);
  const hidden = INVISIBLE.exec(visible);
  if (hidden) return `${what} must not contain invisible or private-use characters (${codePoint(hidden[0])})`;
  const space = OTHER_SPACE.exec(s);
  if (space) return `${what} must use the plain space (U+0020, or the ideographic U+3000) only, not ${codePoint(space[0])}`;
  if (SPACES.test(s)) return `${what} must not hold two spaces in a row: a web page shows them as one, so the name reads as another`;
  if (s.normalize("NFC") !== s) return `${what} must be in Unicode's composed form (NFC): a character and its combining marks as one character, as keyboards type them`;
  return null;
}

/**
 * Scripts told apart for the mixed-script rule, by Unicode's Script_Extensions. Letters of a
 * script not listed count as one "other" script of their own, so they may not mix with any.
 */
const SCRIPTS = [
  "Latin", "Greek", "Cyrillic", "Armenian", "Hebrew", "Arabic", "Syriac", "Thaana", "Nko", "Devanagari", "Bengali", "Gurmukhi",
  "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada", "Malayalam", "Sinhala", "Thai", "Lao", "Tibetan", "Myanmar", "Georgian",
  "Hangul", "Ethiopic", "Cherokee", "Canadian_Aboriginal", "Khmer", "Mongolian", "Hiragana", "Katakana", "Bopomofo", "Han",
  "Yi", "Tifinagh", "Coptic", "Lisu", "Vai", "Adlam", "Osage", "Runic", "Ogham", "Gothic", "Javanese", "Balinese", "Sundanese",
] as const;
const SCRIPT_TESTS = SCRIPTS.map((name) => [name, new RegExp(`\\p{Script_Extensions=${name}}`, "u")] as const);
const COMMON = /[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]/u;
/** UTS #39's augmented sets: the scripts written together as one (Japanese, Chinese with Bopomofo, Korean). */
const WRITTEN_TOGETHER: Record<string, readonly string[]> = { Han: ["Jpan", "Hanb", "Kore"], Hiragana: ["Jpan"], Katakana: ["Jpan"], Bopomofo: ["Hanb"], Hangul: ["Kore"] };

/** The scripts a character belongs to (augmented), or null for Common and Inherited ones (digits, punctuation, marks). */
function scriptsOf(c: string): Set<string> | null {
  const found = new Set<string>();
  for (const [name, test] of SCRIPT_TESTS) {
    if (!test.test(c)) continue;
    found.add(name);
    for (const joint of WRITTEN_TOGETHER[name] ?? []) found.add(joint);
  }
  if (found.size > 0) return found;
  return COMMON.test(c) ? null : new Set(["other"]);
}

/** The scripts every character of `chars` belongs to (UTS #39's resolved script set); null: no character has a script. */
function resolved(chars: readonly string[]): Set<string> | null {
  let set: Set<string> | undefined;
  for (const c of chars) {
    const own = scriptsOf(c);
    if (own === null) continue;
    const before: Set<string> | undefined = set;
    set = before === undefined ? own : new Set([...before].filter((s) => own.has(s)));
  }
  return set ?? null;
}

/** The scripts a name's characters come from, for the message: `Latin and Cyrillic`. */
function scriptNames(chars: readonly string[]): string {
  const names = new Set<string>();
  for (const c of chars) {
    const own = scriptsOf(c);
    if (own !== null) names.add(SCRIPTS.find((s) => own.has(s)) ?? "another script");
  }
  return [...names].join(" and ");
}

const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;
/** Scripts with letters drawn like Latin ones (UTS #39 keeps them from mixing with Latin). */
const LATIN_LOOKALIKES = ["Cyrillic", "Greek", "Cherokee"];

/** nameProblem, and the two rules of a global name (see above). */
export function bundleNameProblem(what: string, s: string): string | null {
  const basic = nameProblem(what, s);
  if (basic !== null) return basic;
  // Letters and digits only: full-width punctuation (`（`, `：`, as CJK keyboards type it), `™`
  // or `℃` read as what they are.
  const odd = [...s].find((c) => LETTER_OR_DIGIT.test(c) && c.normalize("NFKC") !== c);
  if (odd !== undefined) return `${what} must not contain compatibility characters (${codePoint(odd)} reads as "${odd.normalize("NFKC")}"): write the plain character`;
  const chars = [...s];
  const all = resolved(chars);
  if (all === null || all.size > 0) return null;
  // Latin beside one other script (UTS #39 "moderately restrictive"): beside Han and kana,
  // Bopomofo or Hangul as Japanese, Chinese and Korean names are written, or beside any one
  // script but the three whose letters pass for Latin ones (Cyrillic, Greek, Cherokee).
  const rest = resolved(chars.filter((c) => !scriptsOf(c)?.has("Latin")));
  if (rest !== null && rest.size > 0 && !LATIN_LOOKALIKES.some((script) => rest.has(script))) return null;
  return `${what} mixes letters of ${scriptNames(chars)}: letters of these scripts can pass for each other, so a name uses one of them`;
}
