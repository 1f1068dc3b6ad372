import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { PROBE_STATUS, type ProbeWorkerData } from "./shared.js";

/**
 * The probe listener, on a thread of its own: it answers `/health` and `/ready` from the
 * state the main thread publishes in shared memory, so a long synchronous flow run or a
 * crowd of in-flight runs on the main thread never makes a probe wait (see probe-server.ts).
 */
const { host, port, status, heartbeat, stallMs } = workerData as ProbeWorkerData;
const state = new Int32Array(status);
const beat = new BigInt64Array(heartbeat);

const server = createServer((req, res) => {
  const path = (req.url ?? "").split("?")[0];
  const send = (code: number, body: unknown) => {
    // With its length, so the driver's kept-alive probe connection reads it without chunk framing.
    const text = JSON.stringify(body);
    res.writeHead(code, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(text) }).end(req.method === "HEAD" ? undefined : text);
  };
  if (req.method !== "GET" && req.method !== "HEAD") return send(405, { error: { code: "method_not_allowed", message: "GET only", details: null } });
  if (path === "/health") {
    // Alive unless the main thread has not ticked for stallMs: busy is fine, stuck is not.
    const silentMs = Date.now() - Number(Atomics.load(beat, 0));
    return silentMs > stallMs ? send(503, { status: "stalled", silentMs }) : send(200, { status: "ok" });
  }
  if (path === "/ready") {
    const s = Atomics.load(state, 0);
    const name = PROBE_STATUS[s] ?? "loading";
    return send(name === "ready" ? 200 : 503, { status: name, flows: Atomics.load(state, 1) });
  }
  return send(404, { error: { code: "not_found", message: "the probe listener serves /health and /ready", details: null } });
});
server.keepAliveTimeout = 5_000;
server.listen(port, host, () => parentPort?.postMessage({ port: (server.address() as AddressInfo).port }));
server.on("error", (err) => parentPort?.postMessage({ error: err.message }));
parentPort?.on("message", (m) => {
  if (m === "close") server.close(() => parentPort?.close());
});
