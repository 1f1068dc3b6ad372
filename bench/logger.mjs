#!/usr/bin/env node
// The logger's cost per line (adapters/logging): flowplane's logger (its redaction of core's
// REDACTED_KEYS, the url key parameter) against pino with no redaction at all and against pino
// with the wildcard redaction paths it used before (`key`, `*.key`, `*.*.key` for every key),
// on two lines: the gateway's access line (flat, no secret) and a nested line with secrets.
// Lines go to a stream that drops them. Targets interleaved over rounds; medians, µs per line.
//
// Usage: npx tsc -b && node bench/logger.mjs [--quick]
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { QUICK, interleaved, median, root, size } from "./lib/common.mjs";

export async function main() {
  const imp = (p) => import(pathToFileURL(`${root}${p}`).href);
  const { createLogger } = await imp("adapters/logging/dist/index.js");
  const { REDACTED, REDACTED_KEYS } = await imp("core/dist/index.js");
  // pino as the logging adapter resolves it (its dependency, not the root package's).
  const { pino, stdTimeFunctions } = await import(pathToFileURL(createRequire(`${root}adapters/logging/package.json`).resolve("pino")).href);
  const sink = { write() {} };
  const seg = (k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`);
  const wildcardPaths = REDACTED_KEYS.flatMap((k) => { const s = seg(k); return [s.startsWith(".") ? s.slice(1) : s, `*${s}`, `*.*${s}`]; });
  const base = { timestamp: stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } };
  const loggers = {
    flowplane: createLogger({ level: "info", stream: sink }),
    "pino, no redaction": pino({ level: "info", ...base }, sink),
    "pino, wildcard redact paths (before)": pino({ level: "info", ...base, redact: { paths: wildcardPaths, censor: REDACTED } }, sink),
  };
  const access = { requestId: "0f8e2a7c-1b4d-4c1e-9a55-3f1f0f6b2d11", routeId: "r-1234", deploymentId: "d-5678", userId: "u-1", method: "POST", status: 200, durationMs: 12.34, upstream: "http://127.0.0.1:40123", attempts: 1, completed: true };
  const nested = { deploymentId: "d-5678", replica: "r1", upstream: { headers: { authorization: "Bearer sk-x", "content-type": "application/json" } }, attempt: { n: 1, token: "t" }, err: Object.assign(new Error("boom"), { code: "E" }) };
  const n = size(20_000, 2_000);
  const rounds = size(5, 1);
  console.log(`µs per line (median of ${rounds} rounds of ${n} lines)${QUICK ? " [quick]" : ""}`);
  for (const [name, fields] of [["access line", access], ["nested line with secrets", nested]]) {
    const results = await interleaved(Object.keys(loggers).map((name) => ({ name })), rounds, async ({ name: target }) => {
      const log = loggers[target];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) log.info(fields, "gateway request");
      return Number(process.hrtime.bigint() - t0) / 1000 / n;
    });
    for (const [target, xs] of Object.entries(results)) console.log(`  ${name.padEnd(26)} ${target.padEnd(40)} ${median(xs).toFixed(2)}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
