#!/usr/bin/env node
// The control plane's input check (core storable-json.ts inputProblem, run on every request body
// at the edge) against JSON.parse of the same body, the two taking turns (A B A B ...): a body of
// 300,000 tiny objects (2.6 MiB), the shape that once held the event loop 6 s at 10 MiB (the walk
// wrote every value's path). The goal: the walk costs less than the parse that built the value (ratio < 1).
// Usage: node bench/input-check.mjs [--quick]   (build first: npx tsc -b)
import { pathToFileURL } from "node:url";
import { QUICK, fmt, median, size } from "./lib/common.mjs";

export async function main() {
  const { inputProblem } = await import("@flowplane/core");
  const count = size(300_000, 10_000);
  const text = `{"flows":[${Array(count).fill('{"a":[]}').join(",")}]}`;
  const value = JSON.parse(text);
  const parse = [];
  const walk = [];
  for (let i = 0; i < size(9, 2); i++) {
    let t = performance.now();
    JSON.parse(text);
    parse.push(performance.now() - t);
    t = performance.now();
    if (inputProblem(value, "") !== null) throw new Error("the body is clean: the check found a problem");
    walk.push(performance.now() - t);
  }
  if (QUICK) console.log("[quick mode: sizes too small to mean anything]");
  const ratio = median(walk) / median(parse);
  console.log(`a ${fmt(text.length / 1048576)} MiB body of ${count} objects: JSON.parse ${fmt(median(parse))} ms, the input check ${fmt(median(walk))} ms (medians of ${parse.length}, taking turns)`);
  console.log(`  the check / the parse: ${fmt(ratio, 2)} (goal < 1) -> ${ratio < 1 ? "met" : "NOT met"}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
