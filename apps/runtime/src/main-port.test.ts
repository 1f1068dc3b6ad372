import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, copyFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturePath } from "@flowplane/testkit";
import { spawnRuntime, type RuntimeProcess } from "./test-process.js";

// What a caller without the gateway's secret can hold on the main port, as a driver starts a
// replica (FLOWPLANE_GATEWAY_SECRET set): any process on the local driver's shared loopback
// (another team's flow) can reach it.
const SECRET = "a-gateway-secret-for-the-test-0123456789";
let rt: RuntimeProcess;
let main: URL;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "fp-bundle-"));
  copyFileSync(fixturePath("simple-api-test"), join(dir, "simple-api-test.json"));
  rt = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_GATEWAY_SECRET: SECRET });
  main = new URL(await rt.waitReady());
});
after(async () => {
  assert.equal(await rt.stop(), 0);
});

/** A raw connection: its first answer's head, and when it closed (Infinity if still open after `withinMs`). */
function exchange(request: string, withinMs: number): Promise<{ head: string; closedAfter: number; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(main.port), main.hostname);
    let head = "";
    let got: () => void = () => undefined;
    const answered = new Promise<void>((r) => (got = r));
    socket.on("data", (b) => {
      head += String(b);
      if (head.includes("\r\n\r\n")) got();
    });
    socket.on("error", reject);
    socket.once("connect", () => {
      const sent = Date.now();
      socket.write(request);
      const closed = new Promise<number>((r) => socket.once("close", () => r(Date.now() - sent)));
      const limit = new Promise<number>((r) => setTimeout(() => r(Infinity), withinMs).unref());
      void answered.then(() => Promise.race([closed, limit])).then((closedAfter) => resolve({ head: head.slice(0, head.indexOf("\r\n\r\n")), closedAfter, socket }));
    });
  });
}

test("a request without the gateway's secret gets its one answer, then its connection closes: no keep-alive to renew, no announced body to wait for", async () => {
  const held = [
    // A 401 whose body is announced and never sent: Node waited for it (the keep-alive, 72 s, then again).
    "POST /flows/x/run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n",
    // A plain 401, and an open probe: each kept the connection 72 s, renewed by the next probe.
    "GET /flows HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
  ];
  const results = await Promise.all(held.map((r) => exchange(r, 3_000)));
  try {
    for (const [i, { head, closedAfter }] of results.entries()) {
      assert.match(head, /^HTTP\/1\.1 (401|200) /, held[i]);
      assert.match(head, /\r\nconnection: close/i, held[i]);
      assert.ok(closedAfter < 3_000, `closed after its answer (${held[i]?.split("\r\n")[0]}: ${closedAfter} ms)`);
    }
  } finally {
    for (const { socket } of results) socket.destroy();
  }
});

test("the gateway's requests (with the secret) keep their connection: a second one is answered on it", async () => {
  const request = `GET /flows HTTP/1.1\r\nHost: x\r\nx-flowplane-gateway-secret: ${SECRET}\r\n\r\n`;
  const { head, closedAfter, socket } = await exchange(request, 500);
  try {
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(head, /\r\nconnection: close/i);
    assert.equal(closedAfter, Infinity);
    const again = new Promise<string>((r) => socket.once("data", (b) => r(String(b))));
    socket.write(request);
    assert.match(await again, /^HTTP\/1\.1 200 /);
  } finally {
    socket.destroy();
  }
});

test("requests pipelined behind a refused one leave nothing in flight once their connection closes: a SIGTERM drains at once", async () => {
  // Node 20 queues a pipelined request's response without a socket; when the connection closes
  // before its turn (here the 401 ahead of it closes it) the response never emits 'close', and
  // the replica counted it in flight for ever: every such connection, from any process that can
  // reach the port, added to what a SIGTERM waits for, and held its request in memory.
  const dir = mkdtempSync(join(tmpdir(), "fp-bundle-"));
  copyFileSync(fixturePath("simple-api-test"), join(dir, "simple-api-test.json"));
  const own = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_GATEWAY_SECRET: SECRET, FLOWPLANE_SHUTDOWN_GRACE_MS: "3000" });
  try {
    const url = new URL(await own.waitReady());
    const socket = connect(Number(url.port), url.hostname);
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.once("connect", () => socket.write("GET /flows HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3)));
    await closed;
    // One answered request after it: the replica has handled the connection's close by then.
    assert.equal((await fetch(new URL("/flows", url), { headers: { "x-flowplane-gateway-secret": SECRET } })).status, 200);
  } finally {
    assert.equal(await own.stop(), 0);
  }
  const draining = own.output.map((l) => { try { return JSON.parse(l) as { msg?: string; inFlight?: number }; } catch { return {}; } }).find((l) => l.msg === "draining");
  assert.equal(draining?.inFlight, 0, "nothing in flight at the SIGTERM");
  assert.ok(!own.output.some((l) => l.includes("grace period over")), "the drain did not wait out its grace");
});
