#!/usr/bin/env node
// The CLI's start-up: `flowplane --version` (nothing but the version), `flowplane --help` (the
// whole command tree) and `flowplane bundles list` against a running server (one command's
// module, the API contract, one HTTP call), each a fresh process as a user runs it, interleaved
// with `node -e 0` (Node's own start-up on this machine, the floor) so that a burst of load from
// other work hits all alike. Prints medians in ms and as ratios against `node -e 0`.
// `bundles list` is compared with the floor of any API call too: a `node` process that only
// fetches the same endpoint (Node loads its HTTP client, undici, on first use; the server answers).
// `bundles list` also runs from tsc's output (dist/main.js, one file per module) to show what the
// bundle the bin runs (dist/bundle/, scripts/build.mjs) saves.
// Usage: node bench/cli.mjs [rounds]   (build first: npm run build; after `tsc -b` alone the bin runs dist/main.js)
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startServer } from "@flowplane/testkit";
import { fmt, interleaved, med, ratio, root, size } from "./lib/common.mjs";

const BIN = join(root, "apps/cli/bin/flowplane.js");

/** Runs one process to its end; resolves with its wall time in ms (fails on a non-zero exit). */
function timed(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const proc = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    proc.stderr.on("data", (c) => (err += c));
    proc.once("error", reject);
    proc.once("exit", (code) => (code === 0 ? resolve({ ms: performance.now() - t0 }) : reject(new Error(`${args.join(" ")} exited ${code}: ${err.slice(-500)}`))));
  });
}

export async function main() {
  const rounds = Number(process.argv.find((a) => /^\d+$/.test(a))) || size(15, 2);
  const dir = await mkdtemp(join(tmpdir(), "flowplane-bench-cli-"));
  const server = await startServer(dir);
  try {
    // The CLI on a localhost server with no key configured reads the admin key from the data folder,
    // and asks the server to prove it holds it first (one more loopback POST and an HMAC: about 9 ms
    // in session 47, against the same command with FLOWPLANE_ACCESS_KEY; apps/cli/README.md).
    const env = { PATH: process.env.PATH, HOME: dir, FLOWPLANE_SERVER: server.url, FLOWPLANE_DATA_DIR: dir };
    const key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    const fetchOnly = `const r = await fetch(${JSON.stringify(`${server.url}/api/v1/bundles`)}, { headers: { "x-access-key": process.env.KEY } }); if (!r.ok) process.exit(1); await r.text();`;
    const targets = [
      { name: "node -e 0", args: ["-e", "0"] },
      { name: "node: fetch only", args: ["--input-type=module", "-e", fetchOnly] },
      { name: "flowplane --version", args: [BIN, "--version"] },
      { name: "flowplane --help", args: [BIN, "--help"] },
      { name: "flowplane bundles list", args: [BIN, "bundles", "list"] },
      { name: "  same, unbundled", args: [join(root, "apps/cli/dist/main.js"), "bundles", "list"] },
    ];
    await timed(targets.find((t) => t.name === "flowplane bundles list").args, env); // once before measuring: the server's first answer warms its caches
    const results = await interleaved(targets, rounds, (t) => timed(t.args, { ...env, KEY: key }));
    const floor = med(results["node -e 0"], "ms");
    console.log(`CLI start-up, median of ${rounds} interleaved rounds (each a new process):`);
    const fetchFloor = med(results["node: fetch only"], "ms");
    for (const t of targets) {
      const ms = med(results[t.name], "ms");
      const vsFetch = t.name.includes("bundles list") ? `, ${ratio(ms, fetchFloor)} of fetch only` : "";
      console.log(`  ${t.name.padEnd(24)} ${fmt(ms).padStart(6)} ms  ${ratio(ms, floor).padStart(6)} of node -e 0${vsFetch}`);
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
