import { test } from "node:test";
import assert from "node:assert/strict";
import { splitText } from "./components/split-text.js";

// Split Text's chunks against LangChain's CharacterTextSplitter: the expected chunks were printed
// by langchain_text_splitters in lfx 1.13.0's venv (CharacterTextSplitter(separator, chunk_size,
// chunk_overlap, keep_separator).split_text) for these inputs.
const LANGCHAIN = [
  { text: "a\nbb\nccc\ndddd\neeeee\n\nffffff", separator: "\n", size: 10, overlap: 4, keep: false, chunks: ["a\nbb\nccc", "ccc\ndddd", "dddd\neeeee", "ffffff"] },
  { text: "one two three four five six seven eight nine ten", separator: " ", size: 12, overlap: 5, keep: false, chunks: ["one two", "two three", "three four", "four five", "five six", "six seven", "seven eight", "eight nine", "nine ten"] },
  { text: "x1||x2||x3||x4", separator: "||", size: 5, overlap: 0, keep: "start", chunks: ["x1", "||x2", "||x3", "||x4"] },
  { text: "x1||x2||x3||x4", separator: "||", size: 5, overlap: 0, keep: "end", chunks: ["x1||", "x2||", "x3||", "x4"] },
  { text: "  lead\n\n mid \n trail  ", separator: "\n", size: 8, overlap: 2, keep: false, chunks: ["lead", "mid", "trail"] },
  { text: "héllo wörld ünïcode ok", separator: " ", size: 11, overlap: 0, keep: false, chunks: ["héllo wörld", "ünïcode ok"] },
] as const;

test("Split Text cuts as LangChain's CharacterTextSplitter does (overlap, kept separators, stripping, code points)", () => {
  for (const c of LANGCHAIN) {
    assert.deepEqual(splitText(c.text, { separator: c.separator, size: c.size, overlap: c.overlap, keep: c.keep }), c.chunks, JSON.stringify(c.text));
  }
  assert.throws(() => splitText("x", { separator: "\n", size: 5, overlap: 6, keep: false }), /larger chunk overlap \(6\) than chunk size \(5\)/);
});
