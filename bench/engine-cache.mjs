#!/usr/bin/env node
// Why the native engine's run of the echo flow costs several times more CPU inside a replica than
// in a loop (issue #16, the runtime's rate at c16): the same NativeEngine.run of the same flow,
// timed in this process in two ways taking turns over rounds: hot (back to back: its code, its
// objects and V8's feedback stay in the CPU's caches) and cold (each run after an 8 MiB copy that
// evicts them, as a server's system calls, its HTTP code and the load generator sharing the cores
// do between two runs). Each run is timed alone, the copy before it untimed.
// The runtime benchmark's "floor with the engine's run" shows the server figure.
// Usage: node bench/engine-cache.mjs [--quick]   (after npx tsc -b; no server, no network)
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { QUICK, fmt, median, root, size } from "./lib/common.mjs";

export async function main() {
  const { parseFlow } = await import(pathToFileURL(`${root}core/dist/replica.js`).href);
  const { NativeEngine } = await import(pathToFileURL(`${root}adapters/engine-native/dist/index.js`).href);
  const flow = parseFlow(JSON.parse(readFileSync(`${root}../shared/fixtures/langflow/simple-chat-no-llm.json`, "utf8")));
  const engine = new NativeEngine();
  await engine.load([flow], {});
  const request = { inputValue: "bench", inputType: "chat", outputType: "chat" };
  const src = Buffer.alloc(8 << 20, 1);
  const dst = Buffer.alloc(8 << 20);
  const n = size(20_000, 500);
  const rounds = size(5, 1);
  /** Mean µs of a run, each run timed alone (`before` runs first, untimed). */
  const timed = async (before) => {
    let total = 0n;
    for (let i = 0; i < n; i++) {
      before?.();
      const t0 = process.hrtime.bigint();
      await engine.run(flow.id, request);
      total += process.hrtime.bigint() - t0;
    }
    return Number(total) / 1000 / n;
  };
  await timed(); // warm-up: JIT, inline caches
  const hot = [];
  const cold = [];
  for (let r = 0; r < rounds; r++) {
    hot.push(await timed());
    cold.push(await timed(() => src.copy(dst)));
  }
  if (QUICK) console.log("[quick mode: sizes too small to mean anything]");
  console.log(`NativeEngine.run of the echo flow, ${rounds} round(s) of ${n} runs each way, taking turns:`);
  console.log(`  hot (back to back): ${fmt(median(hot), 1)} us a run (rounds ${hot.map((x) => x.toFixed(1)).join(", ")})`);
  console.log(`  cold (after evicting the CPU's caches): ${fmt(median(cold), 1)} us a run (rounds ${cold.map((x) => x.toFixed(1)).join(", ")})`);
  console.log(`  cold / hot: ${fmt(median(cold) / median(hot), 1)}x: a run's cost in a server is set by how much code and memory it touches, not by its instructions alone`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
