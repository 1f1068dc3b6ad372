// A second comparison for bench/runtime.mjs: a `node:http` server doing only what any
// replica must do for a run request, and nothing of a flow: the gateway's secret checked (its
// SHA-256 compared in constant time, as the runtime does), the JSON body read and parsed, a JSON
// answer of the same shape and size as the echo run's. Its rate is the ceiling of any runtime
// built on node:http on this machine.
// With FLOWPLANE_BUNDLE_PATH (one flow export), a third one: the same, with the native engine's
// run of that flow in between, called as a library (no runtime HTTP layer: no routing, no request
// checks, no run deadline, no traces): the ceiling of a runtime whose own HTTP layer cost nothing.
// Both answer as the runtime does since session 53: each answer ended at the end of the event
// loop's pass it was made in, with the runtime's own AnswerBatch (apps/runtime/src/http/answer-batch.ts).
// Usage: node bench/lib/run-floor-server.mjs (port 0, loopback; FLOWPLANE_GATEWAY_SECRET).
import { createServer } from "node:http";
import { hash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { AnswerBatch, endAnswer } from "../../apps/runtime/dist/http/answer-batch.js";

// As the runtime checks it (core's gatewaySecretChecker): digests as Buffers of their own, never a
// Buffer.from(text) per request, whose slices of Node's shared pool are promoted and kept.
const expected = hash("sha256", process.env.FLOWPLANE_GATEWAY_SECRET ?? "", "buffer");
const batch = new AnswerBatch();
const answer = (res, status, value) => {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  endAnswer(res, body);
};
/** The engine's run of the flow for an input, or null without FLOWPLANE_BUNDLE_PATH. */
const run = await (async () => {
  if (!process.env.FLOWPLANE_BUNDLE_PATH) return null;
  // From the replica's subset of core, as the runtime's bundle has it: core's whole index (zod and
  // the API's schemas) is code a replica never loads, and loading it alone made every request of
  // this server cost about a quarter more CPU (docs/performance.md, session 51).
  const { parseFlow } = await import("@flowplane/core/replica");
  const { NativeEngine } = await import("@flowplane/engine-native");
  const flow = parseFlow(JSON.parse(readFileSync(process.env.FLOWPLANE_BUNDLE_PATH, "utf8")));
  const engine = new NativeEngine();
  await engine.load([flow], {});
  return async (input) => (await engine.run(flow.id, { inputValue: input, inputType: "chat", outputType: "chat" })).chat;
})();
const server = createServer((req, res) => {
  batch.adopt(res);
  const given = req.headers["x-flowplane-gateway-secret"];
  if (typeof given !== "string" || !timingSafeEqual(hash("sha256", given, "buffer"), expected)) {
    req.resume();
    return answer(res, 401, { error: { code: "unauthenticated" } });
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.once("end", run === null
    ? () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const input = text ? JSON.parse(text) : {};
      answer(res, 200, { result: input.input_value ?? "", success: true, logs: "", type: "message", component: "Chat Output" });
    }
    : async () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const chat = await run((text ? JSON.parse(text) : {}).input_value ?? "");
      answer(res, 200, { result: chat?.text ?? "", success: true, logs: "", type: "message", component: chat?.componentDisplayName ?? "" });
    });
});
server.keepAliveTimeout = 72_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
