#!/usr/bin/env node
// The `flowplane-runtime` command, as drivers and the container image start a replica. A
// committed, executable file rather than dist/main.js itself: npm links bins at install time,
// before the build has produced dist/.
//
// It runs dist/bundle/ (the runtime bundled by scripts/bundle-runtime.mjs: a few files instead of
// about a hundred modules, a shorter cold start) when that is newer than the last TypeScript
// build of the runtime and of every package bundled into it, else dist/main.js: after a `tsc -b`
// alone the bundle is stale, and stale code must never run.
import { bundleIsFresh } from "./bundle-fresh.js";

await import(bundleIsFresh() ? "../dist/bundle/main.js" : "../dist/main.js");
