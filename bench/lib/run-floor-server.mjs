// A second comparison for bench/runtime.mjs: a bare `node:http` server doing only what any
// replica must do for a run request, and nothing of a flow: the gateway's secret checked (its
// SHA-256 compared in constant time, as the runtime does), the JSON body read and parsed, a JSON
// answer of the same shape and size as the echo run's. Its rate is the ceiling of any runtime
// built on node:http on this machine. Usage: node bench/lib/run-floor-server.mjs (port 0,
// loopback; FLOWPLANE_GATEWAY_SECRET).
import { createServer } from "node:http";
import { hash, timingSafeEqual } from "node:crypto";

const expected = Buffer.from(hash("sha256", process.env.FLOWPLANE_GATEWAY_SECRET ?? ""), "hex");
const answer = (res, status, value) => {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) }).end(body);
};
const server = createServer((req, res) => {
  const given = req.headers["x-flowplane-gateway-secret"];
  if (typeof given !== "string" || !timingSafeEqual(Buffer.from(hash("sha256", given), "hex"), expected)) {
    req.resume();
    return answer(res, 401, { error: { code: "unauthenticated" } });
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.once("end", () => {
    const text = Buffer.concat(chunks).toString("utf8");
    const input = text ? JSON.parse(text) : {};
    answer(res, 200, { result: input.input_value ?? "", success: true, logs: "", type: "message", component: "Chat Output" });
  });
});
server.keepAliveTimeout = 72_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
