import assert from "node:assert/strict";
import { it } from "node:test";
import { mergeChunks, toLogLine } from "./log-lines.js";

it("probe lines are left out, but not a line that only quotes a caller's text naming a probe", () => {
  const json = (o: Record<string, unknown>) => JSON.stringify({ level: "info", time: "2026-01-01T00:00:00.000Z", ...o });
  // The platform's probes: the runtime's request line, an engine's access line, a raw access line.
  assert.equal(toLogLine("r1", json({ path: "/ready", msg: "request" })), null);
  assert.equal(toLogLine("r1", json({ line: 'INFO: 127.0.0.1:40000 - "GET /health HTTP/1.1" 200 OK', msg: "lfx" })), null);
  assert.equal(toLogLine("r1", '127.0.0.1 - - "GET /ready HTTP/1.1" 200'), null);
  // A failed run whose error echoes the caller's input: kept, whatever the input said.
  const failed = json({ level: "error", requestId: "req-1", error: "the model API answered 401: (body {\"content\":\"GET /health\"})", msg: "request failed" });
  assert.deepEqual(toLogLine("r1", failed), { replica: "r1", time: "2026-01-01T00:00:00.000Z", level: "error", text: failed });
});

it("a request id keeps the lines whose own requestId is that id, not another run's line that mentions it", () => {
  const json = (o: Record<string, unknown>) => JSON.stringify({ level: "error", time: "2026-01-01T00:00:00.000Z", ...o });
  const mine = json({ requestId: "req-1", msg: "request failed" });
  // Another run whose input quoted req-1 (its error echoes it), and a prefix of another id.
  const quoting = json({ requestId: "req-2", error: "unknown run req-1", msg: "request failed" });
  const longer = json({ requestId: "req-10", msg: "request failed" });
  const text = "plain text naming req-1";
  // The Kubernetes path hands the same lines (their timestamps cut off): one filter for both drivers.
  const chunks = [{ replica: "r1", lines: [mine, quoting, longer, text], cursor: "c" }, { replica: "r2", lines: [quoting], cursor: "c" }];
  assert.deepEqual(mergeChunks(chunks, "req-1").map((l) => l.text), [mine]);
  assert.equal(mergeChunks(chunks).length, 5, "no filter without a request id");
});
