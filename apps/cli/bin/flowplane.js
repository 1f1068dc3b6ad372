#!/usr/bin/env node
// The installed `flowplane` command. A committed, executable file rather than dist/main.js
// itself: npm links bins at install time, before the build has produced dist/.
//
// It runs dist/bundle/ (the CLI bundled by scripts/build.mjs, which starts faster) when that is
// newer than the last TypeScript build of the CLI and of core, else dist/main.js: after a
// `tsc -b` alone the bundle is stale, and stale code must never run. (Installed as a package,
// without the tsbuildinfo files, the bundle is always used.)
import { statSync } from "node:fs";

const mtime = (path) => statSync(new URL(path, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? 0;
const bundle = mtime("../dist/bundle/main.js");
const fresh = bundle > 0 && bundle >= Math.max(mtime("../tsconfig.tsbuildinfo"), mtime("../../../core/tsconfig.tsbuildinfo"));
await import(fresh ? "../dist/bundle/main.js" : "../dist/main.js");
