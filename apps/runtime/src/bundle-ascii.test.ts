import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

// V8 keeps every loaded module's source in the heap for as long as the process runs: one byte per
// character while every character is Latin-1, two bytes per character as soon as one is not. The
// runtime's code has a few (…, —, → in strings and comments), which made each source it loads at
// start twice its size: about 0.9 MiB more per replica (issue #16's memory goal).
// scripts/bundle-runtime.mjs writes the bundle in ASCII (the simplest rule that keeps it one
// byte); this checks what it wrote (`npm test` bundles before it tests).
test("every file of the runtime's bundle is ASCII, so V8 holds its sources at one byte per character", () => {
  const dir = fileURLToPath(new URL("./bundle/", import.meta.url));
  const files = [join(dir, "main.js"), ...readdirSync(join(dir, "chunks")).map((f) => join(dir, "chunks", f))].filter((f) => f.endsWith(".js"));
  assert.ok(files.length > 5, `the bundle has its chunks (${files.length} files)`);
  const wide = files.flatMap((f) => {
    const bytes = readFileSync(f);
    const at = bytes.findIndex((b) => b > 0x7f);
    return at < 0 ? [] : [`${f} at byte ${at}`];
  });
  assert.deepEqual(wide, []);
});
