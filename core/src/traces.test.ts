import assert from "node:assert/strict";
import { test } from "node:test";
import { MIN_TRACE_BYTES, traceBytes, type RunTrace } from "./traces.js";

const trace = (error: string | null): RunTrace =>
  ({ requestId: "r-1", flowId: "f", revision: 1, engine: "native", start: "2026-12-03T00:00:00.000Z", durationMs: 1, status: "ok", error, tokens: null, spans: [] }) as unknown as RunTrace;

test("a trace counts its JSON plus a row's overhead, and at least 4 KiB: a budget bounds the rows a deployment keeps", () => {
  assert.equal(traceBytes(trace(null)), MIN_TRACE_BYTES, "the smallest trace counts the floor");
  const big = trace("x".repeat(10_000));
  assert.equal(traceBytes(big), Buffer.byteLength(JSON.stringify(big)) + 200);
  assert.equal(Math.floor(256 * 1024 * 1024 / traceBytes(trace(null))), 65_536, "rows kept at the default budget, at most");
});
