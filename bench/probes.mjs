#!/usr/bin/env node
// Probe latency under load: /ready on the runtime's probe port (a listener of its own, on the
// main thread since session 19) and on its main port (the runs' listener), one after the other, while a separate process keeps N flow runs in
// flight (no-LLM flow, concurrency 16, 64, 256). The probes come from this process, the load
// from another, so neither measures the other's event loop.
// Usage: node bench/probes.mjs [seconds-per-port]   (build first: npx tsc -b)
import { fork, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { stopChildrenOnSignal } from "@flowplane/testkit";

// Stopped by a signal, it stops the runtime and the load process it started first.
stopChildrenOnSignal();

const self = fileURLToPath(import.meta.url);
const root = fileURLToPath(new URL("..", import.meta.url));
const fixture = `${root}../shared/fixtures/langflow/simple-chat-no-llm.json`;

/** The load process: `concurrency` callers running the flow until told to stop; reports its run count. */
async function load(url, flowId, concurrency) {
  let stop = false;
  let runs = 0;
  process.on("message", () => { stop = true; });
  const body = JSON.stringify({ input_value: "x".repeat(1000) });
  const caller = async () => {
    while (!stop) {
      const r = await fetch(`${url}/flows/${flowId}/run`, { method: "POST", headers: { "content-type": "application/json" }, body });
      await r.arrayBuffer();
      runs++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  process.send(runs, () => process.exit(0));
}

async function probeFor(url, ms) {
  const lat = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t = performance.now();
    const r = await fetch(`${url}/ready`);
    await r.arrayBuffer();
    lat.push(performance.now() - t);
    await new Promise((res) => setTimeout(res, 50));
  }
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
  return `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${lat.at(-1).toFixed(1)} ms (${lat.length} probes)`;
}

export async function main() {
  const seconds = Number(process.argv[2]) || 5;
  const child = spawn(process.execPath, [`${root}apps/runtime/dist/main.js`], {
    env: { PATH: process.env.PATH, FLOWPLANE_BUNDLE_PATH: fixture, FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_PROBE_PORT: "0", FLOWPLANE_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const [url, probeUrl] = await new Promise((resolve, reject) => {
    child.stdout.on("data", (c) => {
      if (out.length < 8192) out += c;
      const m = /"url":"([^"]+)"[^\n]*"msg":"listening"/.exec(out);
      const p = /"url":"([^"]+)"[^\n]*"msg":"probes listening"/.exec(out);
      if (m && p) resolve([m[1], p[1]]);
    });
    child.once("exit", (code) => reject(new Error(`runtime exited ${code}`)));
  });
  try {
    // Bounded: a runtime that fails to load its bundle (after it listened) is said, not waited for.
    const deadline = Date.now() + 30_000;
    while ((await fetch(`${url}/ready`).catch(() => null))?.status !== 200) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the runtime never got ready (exit code ${child.exitCode})`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const flowId = (await (await fetch(`${url}/flows`)).json())[0].id;
    for (const concurrency of [16, 64, 256]) {
      const loader = fork(self, ["--load", url, flowId, String(concurrency)]);
      await new Promise((r) => setTimeout(r, 500));
      const probe = await probeFor(probeUrl, seconds * 1000);
      const mainPort = await probeFor(url, seconds * 1000);
      const runs = await new Promise((r) => { loader.once("message", r); loader.send("stop"); });
      console.log(`concurrency ${concurrency} (${runs} runs): probe port ${probe}; main port ${mainPort}`);
    }
  } finally {
    child.kill("SIGTERM");
  }
}

if (process.argv[2] === "--load") await load(process.argv[3], process.argv[4], Number(process.argv[5]));
else if (process.argv[1] === self) await main();
