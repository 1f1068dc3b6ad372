import { nameProblem } from "@flowplane/core/api";

/**
 * Names that read as another one. Bundle names are chosen by whoever publishes them, and a
 * global bundle is listed to everyone: `support-bot` followed by a zero-width space, or with a
 * Cyrillic `ѕ`, is another bundle that the Asset Library showed exactly as the support team's,
 * with the same Deploy button (and the deployer's credentials go to its flows). The server keeps
 * the names apart; these helpers let the lists say that two differ where the eye cannot tell.
 */

/**
 * Characters that draw nothing or next to nothing: format characters (zero-width space and
 * joiners, the word joiner, the byte order mark, the soft hyphen, bidirectional marks, tag
 * characters), variation selectors, the combining grapheme joiner, and the fillers that fonts
 * draw blank (Hangul fillers, the blank Braille pattern).
 */
const INVISIBLE = /[\p{Cf}\u034f\u115f\u1160\u180e\u2800\u3164\uffa0\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/gu;

/** Letters of other scripts drawn like Latin ones (lowercase, after NFKC), and dashes drawn like `-`. */
const CONFUSABLE: Record<string, string> = {
  "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x",
  "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ɩ": "i",
  "α": "a", "ο": "o", "ν": "v", "ι": "i", "κ": "k", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ϲ": "c",
  "0": "o", "1": "l", "|": "l",
  "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-", "\ufe58": "-", "\ufe63": "-", "\uff0d": "-",
};

/**
 * True when `name` breaks the rules publish now keeps (core's names.ts: a character that draws
 * nothing, a space that passes for another, a letter spelt decomposed): a name published before
 * those rules. The emoji a name may hold (👩‍💻, ❤️) are not flagged.
 */
export function hasInvisible(name: string): boolean {
  return nameProblem("name", name) !== null;
}

/**
 * `name` with every character outside printable ASCII written as `\u{...}`: how a flagged name
 * is told apart from the one it looks like (`support-bot\u{200b}`, `\u{455}upport-bot`).
 */
export function writtenOut(name: string): string {
  return Array.from(name, (c) => (/^[\x20-\x7e]$/.test(c) ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`)).join("");
}

/**
 * What a name looks like: without its invisible characters and accents, in lowercase, with
 * letters and dashes drawn alike made one (`rn` reads as `m`). Two names with the same
 * skeleton can pass for each other.
 */
function skeleton(name: string): string {
  const plain = name.normalize("NFKD").replace(INVISIBLE, "").replace(/\p{M}/gu, "").normalize("NFKC").toLowerCase();
  return Array.from(plain, (c) => CONFUSABLE[c] ?? c).join("").replace(/rn/g, "m").replace(/\s+/g, " ");
}

/** For each of `names`, the other names it can pass for (absent when none). */
export function lookalikes(names: readonly string[]): Map<string, string[]> {
  const bySkeleton = new Map<string, string[]>();
  for (const n of names) {
    const k = skeleton(n);
    bySkeleton.set(k, [...(bySkeleton.get(k) ?? []), n]);
  }
  const out = new Map<string, string[]>();
  for (const group of bySkeleton.values()) {
    if (group.length < 2) continue;
    for (const n of group) out.set(n, group.filter((o) => o !== n));
  }
  return out;
}
