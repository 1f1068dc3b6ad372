// The answer batch through the whole app (startHost with a stand-in engine, as host-fatal.test.ts
// does): what answering at the end of the pass must keep.
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { test } from "node:test";
import { memoryLogger } from "@flowplane/logging";
import { rawExchange } from "@flowplane/testkit";
import { readConfig } from "../config.js";
import { startHost, type RuntimeHost } from "../host.js";
import { oneFlowBundle, standInEngine } from "../test-engine.js";

const SECRET = "answer-batch-secret";
const H = `x-flowplane-gateway-secret: ${SECRET}\r\n`;

async function host(): Promise<RuntimeHost> {
  const dir = oneFlowBundle("fp-batch-");
  const engine = standInEngine();
  const h = await startHost({
    config: readConfig({ FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_DRAIN_DELAY_MS: "0", FLOWPLANE_GATEWAY_SECRET: SECRET }),
    log: memoryLogger("info").log,
    createEngine: () => engine,
  });
  await h.loaded;
  return h;
}

const statusLines = (text: string) => text.split(/(?=HTTP\/1\.1 \d{3} )/).map((r) => r.split("\r\n")[0]);

test("pipelined requests in one write are all answered in order, HEAD without a body, none after a 401's close", async () => {
  const h = await host();
  try {
    const req = (method: string, path: string, headers = H) => `${method} ${path} HTTP/1.1\r\nHost: a\r\n${headers}\r\n`;
    const { text, closed } = await rawExchange(Number(new URL(h.url).port), req("GET", "/nope") + req("HEAD", "/ready") + req("GET", "/ready") + req("GET", "/flows", "") + req("GET", "/health"));
    assert.deepEqual(statusLines(text), ["HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 401 Unauthorized"]);
    // The HEAD's Content-Length is the GET's, and no body follows its head: the GET's starts right after it.
    const [, headOfHead, afterHead] = /^HTTP\/1\.1 404[^]*?(HTTP\/1\.1 200 OK\r\n[^]*?\r\n\r\n)(.*)/s.exec(text)!;
    const ready = JSON.stringify({ status: "ready", flows: 1 });
    assert.match(headOfHead!, new RegExp(`content-length: ${ready.length}\r\n`));
    assert.ok(afterHead!.startsWith("HTTP/1.1 200 OK\r\n"));
    assert.ok(afterHead!.includes(`\r\n\r\n${ready}HTTP/1.1 401`));
    assert.equal(closed, true);
    for (let i = 0; i < 20 && h.state.inFlight !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(h.state.inFlight, 0);
  } finally {
    await h.shutdown();
  }
});

test("a drain and close in the pass an answer was queued in: the answer goes whole, then the connection closes", async () => {
  const h = await host();
  // Before the request's handler runs: an immediate queued ahead of the batch's, so it runs after
  // the answer was queued and before it is ended (a SIGTERM handled in that pass).
  let closing: Promise<void> | undefined;
  const onStart = () => setImmediate(() => {
    h.state.draining = true;
    h.app.drain();
    closing = h.app.close();
  });
  subscribe("http.server.request.start", onStart);
  try {
    const { text, closed } = await rawExchange(Number(new URL(h.url).port), `GET /flows HTTP/1.1\r\nHost: a\r\n${H}\r\n`);
    unsubscribe("http.server.request.start", onStart);
    assert.deepEqual(statusLines(text), ["HTTP/1.1 200 OK"]);
    const [head, body] = text.split("\r\n\r\n");
    assert.equal(Buffer.byteLength(body!), Number(/content-length: (\d+)/i.exec(head!)![1]));
    assert.equal(closed, true);
    await closing;
    assert.equal(h.state.inFlight, 0);
  } finally {
    unsubscribe("http.server.request.start", onStart);
    await h.shutdown();
  }
});
