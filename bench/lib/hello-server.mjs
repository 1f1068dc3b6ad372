// The comparison for bench/runtime.mjs: a bare `node:http` server that reads the request and
// answers a small JSON body. It prints its URL the way the runtime does, so both are started,
// timed and stopped the same way. Usage: node bench/lib/hello-server.mjs (port 0, loopback).
import { createServer } from "node:http";

const body = JSON.stringify({ result: "hello" });
const server = createServer((req, res) => {
  req.resume();
  req.once("end", () => res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body));
});
server.keepAliveTimeout = 72_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
