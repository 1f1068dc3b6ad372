import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { after, test } from "node:test";
import { waitFor } from "@flowplane/testkit";
import { ConnectionCap } from "../http/connection-cap.js";
import { classifyConnection, enforceRequestTimeouts } from "./connections.js";

/**
 * A worker's listener as worker.ts builds it: a net server whose connections the switch reads,
 * and an HTTP server that never listens itself and is handed the gateway's connections.
 */
function workerListener(firstLineTimeoutMs: number, enforce: boolean): Promise<{ port: number; handedOff: Socket[]; close(): void }> {
  const http = createHttpServer({ headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 50 }, (_req, res) => res.end("ok"));
  if (enforce) enforceRequestTimeouts(http);
  const handedOff: Socket[] = [];
  const tcp: NetServer = createNetServer((socket) => classifyConnection(socket, http, (s) => handedOff.push(s), { firstLineTimeoutMs }));
  return new Promise((resolve) => tcp.listen(0, "127.0.0.1", () => resolve({
    port: (tcp.address() as AddressInfo).port, handedOff,
    close: () => { tcp.close(); http.close(); for (const s of handedOff) s.destroy(); },
  })));
}

/** Opens a connection, writes `data`, and resolves with how long the server took to close it (or `null` after `waitMs`). */
function closedWithin(port: number, data: string, waitMs: number): Promise<{ ms: number | null; got: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let got = "";
    const s = connect(port, "127.0.0.1", () => { if (data) s.write(data); });
    s.on("data", (b) => { got += b.toString("latin1"); });
    s.on("error", () => {});
    const timer = setTimeout(() => { s.destroy(); resolve({ ms: null, got }); }, waitMs);
    s.once("close", () => { clearTimeout(timer); resolve({ ms: Date.now() - started, got }); });
  });
}

const listeners: { close(): void }[] = [];
after(() => { for (const l of listeners) l.close(); });

test("a connection that never sends its first request line is closed after the first-line timeout", async () => {
  const l = await workerListener(200, true);
  listeners.push(l);
  for (const data of ["", "GET /projects/p/apps/a/rou", "GET /projects/p/apps/a/routes/r HTTP/1.1\n"]) {
    const r = await closedWithin(l.port, data, 3_000);
    assert.ok(r.ms !== null, `still open after 3 s, having sent ${JSON.stringify(data)}`);
    assert.ok(r.ms >= 150, `closed too early (${r.ms} ms)`);
  }
  assert.equal(l.handedOff.length, 0);
});

test("a first request line trickled a byte at a time is closed at the first-line timeout, not kept alive by each byte", async () => {
  const l = await workerListener(300, true);
  listeners.push(l);
  const started = Date.now();
  const ms = await new Promise<number | null>((resolve) => {
    const s = connect(l.port, "127.0.0.1");
    s.on("error", () => {});
    const line = "GET /projects/p/apps/a/routes/r HTTP/1.1";
    let i = 0;
    const drip = setInterval(() => { if (i < line.length) s.write(line[i++]!); }, 100);
    const timer = setTimeout(() => { clearInterval(drip); s.destroy(); resolve(null); }, 2_500);
    s.once("close", () => { clearInterval(drip); clearTimeout(timer); resolve(Date.now() - started); });
  });
  assert.ok(ms !== null, "a byte every 100 ms kept the connection past 2.5 s with a 300 ms first-line timeout");
  assert.ok(ms < 1_500, `closed only after ${ms} ms`);
  assert.equal(l.handedOff.length, 0);
});

test("a gateway connection whose headers never end is answered 408 and closed (headersTimeout applies)", async () => {
  const l = await workerListener(60_000, true);
  listeners.push(l);
  const r = await closedWithin(l.port, "GET /projects/p/apps/a/routes/r HTTP/1.1\r\nHost: x\r\nx-acc", 3_000);
  assert.ok(r.ms !== null, "a slow header kept its connection for 3 s");
  assert.match(r.got, /^HTTP\/1\.1 408 /);
});

test("a complete request on a kept connection is still served, its first line arriving in pieces", async () => {
  const l = await workerListener(1_000, true);
  listeners.push(l);
  const got = await new Promise<string>((resolve) => {
    let text = "";
    const s = connect(l.port, "127.0.0.1", () => {
      s.write("GET /projects/p/apps/a/routes/r");
      setTimeout(() => s.write(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 100);
    });
    s.on("data", (b) => { text += b.toString("latin1"); });
    s.once("close", () => resolve(text));
  });
  assert.match(got, /^HTTP\/1\.1 200 /);
  assert.match(got, /ok$/);
});

test("without enforceRequestTimeouts, a server that never listens applies no headersTimeout (why worker.ts calls it)", async () => {
  const l = await workerListener(60_000, false);
  listeners.push(l);
  const r = await closedWithin(l.port, "GET /projects/p/apps/a/routes/r HTTP/1.1\r\nHost: x\r\nx-acc", 1_000);
  assert.equal(r.ms, null);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A connection handed over to the control plane must leave every byte after the head in the
 * kernel, for the process it is passed to: the worker's copy of the socket is closed unread.
 * The handle waits in the IPC channel's queue while other handles are under way (20 concurrent
 * POSTs through a worker: a third of them hung with their body lost), and meanwhile the paused
 * stream's own machinery (`maybeReadMore`, a `read(0)`) had started the handle again.
 */
test("a handed-off connection reads nothing more, even when its stream asks to fill its buffer", async () => {
  const gateway = createHttpServer();
  let handed!: (v: { socket: Socket; head: Buffer }) => void;
  const got = new Promise<{ socket: Socket; head: Buffer }>((resolve) => (handed = resolve));
  const server = createNetServer((socket) => classifyConnection(socket, gateway, (s, head) => handed({ socket: s, head })));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  const client = connect(port, "127.0.0.1");
  try {
    client.write("POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n");
    const { socket, head } = await got;
    // What Readable does on its own for a paused stream under its high-water mark.
    socket.read(0);
    await sleep(20);
    client.write('{"name":"x"}\n');
    await sleep(200);
    assert.match(head.toString("latin1"), /^POST \/api\/v1\/projects HTTP\/1.1\r\n/);
    assert.equal(socket.bytesRead, head.length, "the worker read past the head: those bytes would be lost with its copy of the socket");
    assert.equal(socket.readableLength, 0);
    socket.destroy();
  } finally {
    client.destroy();
    server.close();
  }
});

/**
 * Behind flowplane's HAProxy every connection comes from loopback, and its PROXY line names the
 * client: the listener's bound on connections counts by that client's address (connection-cap.ts).
 */
test("behind HAProxy, the bound per address counts the client the PROXY line names", async () => {
  const gateway = createHttpServer((_req, res) => res.end("served"));
  enforceRequestTimeouts(gateway);
  const cap = new ConnectionCap({ total: 100, perAddress: 2 });
  const server = createNetServer((socket) => classifyConnection(socket, gateway, (s) => s.destroy(), { proxied: true, cap }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  const open: Socket[] = [];
  /** One request on a new connection from `client` (a PROXY line naming it); what came back, the connection kept open. */
  const call = (client: string) => new Promise<string>((resolve) => {
    const s = connect(port, "127.0.0.1", () => s.write(`PROXY TCP4 ${client} 127.0.0.1 40000 8080\r\nGET /projects/p/apps/a/routes/r/x HTTP/1.1\r\nHost: x\r\n\r\n`));
    open.push(s);
    let got = "";
    s.on("data", (b) => {
      got += b.toString("latin1");
      if (/\r\n\r\n[\s\S]*(served|\})$/.test(got)) resolve(got);
    });
    s.on("error", () => {});
    s.once("close", () => resolve(got));
  });
  try {
    assert.match(await call("203.0.113.7"), /^HTTP\/1\.1 200 [\s\S]*served$/);
    assert.match(await call("203.0.113.7"), /^HTTP\/1\.1 200 [\s\S]*served$/);
    const refused = await call("203.0.113.7");
    assert.match(refused, /^HTTP\/1\.1 429 Too Many Requests\r\n/);
    assert.match(refused, /"code":"too_many_connections"/);
    assert.match(await call("203.0.113.8"), /^HTTP\/1\.1 200 [\s\S]*served$/, "another client behind the same HAProxy");
    assert.equal(cap.count("203.0.113.7"), 2);
    open[0]!.destroy();
    await waitFor(() => cap.count("203.0.113.7") === 1, { message: "the closed connection released" });
    assert.match(await call("203.0.113.7"), /^HTTP\/1\.1 200 [\s\S]*served$/);
  } finally {
    for (const s of open) s.destroy();
    server.close();
    gateway.close();
  }
});
