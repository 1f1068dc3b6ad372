#!/usr/bin/env node
// Runs every compiled test file (`dist/**/*.test.js` in each workspace) with node's test runner.
// Usage: node scripts/test.mjs [substring ...]   (only files whose path contains one of them)
// Build first (`npm test` does). Kubernetes tests live in `*.k8s.test.js` and run only via `npm run test:k8s`.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawn } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const k8s = args.includes("--k8s");
const filters = args.filter((a) => !a.startsWith("--"));
const roots = ["core", "adapters", "apps", "tools"].map((d) => join(root, d));

function* walk(dir) {
  let entries;
  try { entries = readdirSync(dir); } catch { return; }
  for (const e of entries) {
    if (e === "node_modules") continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.includes("/dist/") && p.endsWith(".test.js")) yield p;
  }
}

const files = roots.flatMap((r) => [...walk(r)])
  .filter((f) => f.endsWith(".k8s.test.js") === k8s)
  .filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)))
  .sort();
if (files.length === 0) {
  console.error("no test files found: run `npm run build` first");
  process.exit(1);
}
const concurrency = process.env.FLOWPLANE_TEST_CONCURRENCY ?? "2";
// TAP as it goes, and every failure again at the end (test-failures-reporter.mjs): CI shows a log's tail.
const reporters = ["--test-reporter=tap", "--test-reporter-destination=stdout", `--test-reporter=${join(root, "scripts/test-failures-reporter.mjs")}`, "--test-reporter-destination=stdout"];
const child = spawn(process.execPath, ["--enable-source-maps", "--test", `--test-concurrency=${concurrency}`, ...reporters, ...files], { stdio: "inherit" });
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
