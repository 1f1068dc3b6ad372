#!/usr/bin/env node
// Runtime benchmark over the built dist: cold start (spawn to /ready 200), runs/s and p50/p99
// latency of a no-LLM flow at concurrency 1, 16, 64, and RSS after warm-up.
// Usage: node bench/runtime.mjs [requests-per-level]   (build first: npx tsc -b)
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const fixture = `${root}../shared/fixtures/langflow/simple-chat-no-llm.json`;
const perLevel = Number(process.argv[2] ?? 2000);

async function start() {
  const t0 = performance.now();
  const child = spawn(process.execPath, [`${root}apps/runtime/dist/main.js`], {
    env: { PATH: process.env.PATH, FLOWPLANE_BUNDLE_PATH: fixture, FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "inherit"] // stdout is read for the listening line and otherwise discarded,
  });
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (c) => {
      if (buf.length > 4096) return; // only the first lines matter
      buf += c;
      const m = /"url":"([^"]+)"/.exec(buf);
      if (m) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`runtime exited ${code}`)));
  });
  while ((await fetch(`${url}/ready`).catch(() => null))?.status !== 200) await new Promise((r) => setTimeout(r, 5));
  return { child, url, coldMs: performance.now() - t0 };
}

async function level(url, flowId, concurrency, total) {
  const lat = [];
  let next = 0;
  const body = JSON.stringify({ input_value: "bench" });
  const worker = async () => {
    while (next++ < total) {
      const t = performance.now();
      const res = await fetch(`${url}/flows/${flowId}/run`, { method: "POST", headers: { "content-type": "application/json" }, body });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      lat.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
  return { concurrency, requests: lat.length, runsPerSec: Math.round(lat.length / secs), p50ms: q(0.5), p99ms: q(0.99) };
}

const { child, url, coldMs } = await start().catch(async () => {
  throw new Error("could not start the runtime; run `npx tsc -b` first");
});
const flows = await (await fetch(`${url}/flows`)).json();
const flowId = flows[0].id;
console.log(`cold start (spawn -> /ready 200): ${coldMs.toFixed(0)} ms`);
await level(url, flowId, 8, 500); // warm-up
const rows = [];
for (const c of [1, 16, 64]) rows.push(await level(url, flowId, c, perLevel));
console.table(rows);
const rss = await new Promise((resolve) => {
  const ps = spawn("ps", ["-o", "rss=", "-p", String(child.pid)]);
  let out = "";
  ps.stdout.on("data", (c) => (out += c));
  ps.on("close", () => resolve(Number(out.trim()) / 1024));
});
console.log(`RSS after warm-up: ${rss.toFixed(1)} MiB`);
child.kill("SIGTERM");
