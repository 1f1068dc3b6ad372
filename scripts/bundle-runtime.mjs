#!/usr/bin/env node
// Bundles the runtime replica (apps/runtime/dist/main.js and what it imports: core, the engines,
// the logger, pino) with rolldown into apps/runtime/dist/bundle/, which
// apps/runtime/bin/flowplane-runtime.js runs when it is fresh. A replica then loads a handful of
// files instead of about a hundred modules of tsc's output: Node 20 spends more than a
// millisecond per ES module it resolves, reads and links, which every replica's cold start paid
// (docs/contracts.md, "Runtime"). Code-split at the dynamic imports, so what a replica loads
// lazily (the lfx engine, the MCP SDK and zod, provider SDKs, pg) stays out of its start.
// Usage: node scripts/bundle-runtime.mjs   (after tsc -b; scripts/build.mjs runs it when stale)
import { rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "rolldown";

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "apps/runtime/dist");
const dir = join(dist, "bundle");
rmSync(dir, { recursive: true, force: true }); // chunk names carry hashes: no stale chunk stays behind
await build({
  input: { main: join(dist, "main.js") },
  platform: "node",
  logLevel: "warn",
  output: { dir, format: "esm", entryFileNames: "[name].js", chunkFileNames: "chunks/[name]-[hash].js" },
});
