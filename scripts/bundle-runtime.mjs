#!/usr/bin/env node
// Bundles the runtime replica (apps/runtime/dist/main.js and what it imports: core, the engines,
// the logger, pino) with rolldown into apps/runtime/dist/bundle/, which
// apps/runtime/bin/flowplane-runtime.js runs when it is fresh. A replica then loads a handful of
// files instead of about a hundred modules of tsc's output: Node 20 spends more than a
// millisecond per ES module it resolves, reads and links, which every replica's cold start paid
// (docs/contracts.md, "Runtime"). Code-split at the dynamic imports, so what a replica loads
// lazily (the lfx engine, the MCP SDK and zod, provider SDKs, pg) stays out of its start.
//
// Written in ASCII: V8 holds each loaded module's source for the life of the process, at one byte
// per character only while all of it is Latin-1; one `…` in a comment made a whole chunk two bytes
// per character (about 0.9 MiB more per replica at start, more once a model's SDK loads). The
// code is escaped by rolldown (`charset`), comments other than licences are dropped, and the
// licences kept (their authors' names) are escaped by `asciiLicences`: in a comment an escape is
// only text, so nothing runs differently.
// Usage: node scripts/bundle-runtime.mjs   (after tsc -b; scripts/build.mjs runs it when stale)
import { rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "rolldown";
import { parseSync } from "rolldown/utils";

/**
 * Licence comments (`/*! ... *\/`, `@license`, `@preserve`) with their non-ASCII characters written
 * as `\u{...}`. The comments are the parser's, not a pattern's: `/*` also occurs in strings, and
 * rolldown leaves a tagged template's text as written (its `.raw` is what the tag reads), so a
 * pattern running from a string's `/*!` to the next `*\/` rewrote the template in between.
 */
const asciiLicences = {
  name: "ascii-licences",
  renderChunk(code, chunk) {
    const wide = parseSync(chunk.fileName, code).comments
      .filter((c) => /^!|@license|@preserve/.test(c.value) && /[^\x00-\x7f]/.test(c.value));
    if (wide.length === 0) return null;
    let out = "";
    let at = 0;
    for (const c of wide) {
      out += code.slice(at, c.start) + code.slice(c.start, c.end).replace(/[^\x00-\x7f]/gu, (ch) => `\\u{${ch.codePointAt(0).toString(16)}}`);
      at = c.end;
    }
    return out + code.slice(at);
  },
};

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "apps/runtime/dist");
const dir = join(dist, "bundle");
rmSync(dir, { recursive: true, force: true }); // chunk names carry hashes: no stale chunk stays behind
await build({
  input: { main: join(dist, "main.js") },
  platform: "node",
  logLevel: "warn",
  plugins: [asciiLicences],
  output: { dir, format: "esm", charset: "ascii", comments: { legal: true, annotation: false, jsdoc: false }, entryFileNames: "[name].js", chunkFileNames: "chunks/[name]-[hash].js" },
});
