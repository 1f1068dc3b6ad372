import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { after, test } from "node:test";
import { waitFor } from "@flowplane/testkit";
import { answerClientError } from "../http/client-errors.js";
import { ConnectionCap } from "../http/connection-cap.js";
import { classifyConnection, enforceRequestTimeouts } from "./connections.js";
import { readProxyLine } from "./proxy-protocol.js";

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
  // A line cut after its CR: the LF may still come (a line ended by a bare LF is the parser's to refuse, below).
  for (const data of ["", "GET /projects/p/apps/a/rou", "GET /projects/p/apps/a/routes/r HTTP/1.1\r"]) {
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

/**
 * A worker's listener as worker.ts builds it, its HTTP server answering what its parser refuses
 * in the one error shape; a handed-over connection is recorded with the head read for it (the
 * control plane's own parser then answers it: data-plane.e2e.test.ts).
 */
async function answeringListener(): Promise<{ port: number; handedOff: { head: string }[]; handed: Promise<void>[]; close(): void }> {
  const http = createHttpServer((req, res) => {
    let n = 0;
    req.on("data", (b: Buffer) => (n += b.length));
    req.on("end", () => res.end(`ok ${req.method} ${req.url} ${n}`));
  });
  enforceRequestTimeouts(http);
  http.on("clientError", answerClientError);
  http.on("upgrade", (_req, socket: Socket) => socket.end("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nupgraded"));
  const handedOff: { head: string }[] = [];
  const waiting: (() => void)[] = [];
  const handed: Promise<void>[] = [];
  for (let i = 0; i < 32; i++) handed.push(new Promise<void>((r) => waiting.push(r)));
  const open = new Set<Socket>();
  const tcp = createNetServer((socket) => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
    classifyConnection(socket, http, (s, head, _client, sent) => {
      handedOff.push({ head: head.toString("latin1") });
      sent();
      s.destroy();
      waiting[handedOff.length - 1]?.();
    }, { firstLineTimeoutMs: 60_000 });
  });
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  const l = { port: (tcp.address() as AddressInfo).port, handedOff, handed, close: () => { tcp.close(); http.close(); for (const s of open) s.destroy(); } };
  listeners.push(l);
  return l;
}

/** Writes `chunks` `gapMs` apart; resolves with what came back once the server closed, or with `closed: false` after 5 s. */
function send(port: number, chunks: string[], gapMs = 50): Promise<{ got: string; closed: boolean }> {
  return new Promise((resolve) => {
    let got = "";
    const s = connect(port, "127.0.0.1", () => {
      let i = 0;
      const next = () => { if (i < chunks.length && !s.destroyed) s.write(chunks[i++]!, () => setTimeout(next, gapMs)); };
      next();
    });
    s.on("data", (b: Buffer) => { got += b.toString("latin1"); });
    s.on("error", () => {});
    s.setTimeout(5_000, () => { s.destroy(); resolve({ got, closed: false }); });
    s.once("close", () => resolve({ got, closed: true }));
  });
}

const GW = "/projects/p/apps/a/routes/r/flows";
/** Heads whose lines end in a bare LF or a lone CR, whole or in pieces: llhttp refuses every one (400). */
const brokenHeads = (target: string): [string, string[]][] => [
  ["bare LF throughout", [`GET ${target} HTTP/1.1\nHost: x\nx-access-key: K\n\n`]],
  ["bare LF, in two packets", [`GET ${target} HTTP/1.1\n`, "Host: x\n\n"]],
  ["bare LF after the request line, CRLF after", [`GET ${target} HTTP/1.1\nHost: x\r\n\r\n`]],
  ["CRLF after the request line, a bare LF in the headers", [`GET ${target} HTTP/1.1\r\nHost: x\na: b\r\n\r\n`]],
  ["CRLF, then a bare LF ending the head", [`GET ${target} HTTP/1.1\r\nHost: x\r\n\n`]],
  ["lone CR line ends", [`GET ${target} HTTP/1.1\rHost: x\r\r`]],
  ["lone CR, the packet ending on it", [`GET ${target} HTTP/1.1\r`, "Host: x\r\r"]],
];

test("a head with bare LF (or lone CR) line ends on a gateway path: the worker's parser refuses it at once, 400 in the one error shape, then closes", async () => {
  const l = await answeringListener();
  for (const [what, chunks] of brokenHeads(GW)) {
    const r = await send(l.port, chunks);
    assert.ok(r.closed, `${what}: no answer and still open after 5 s (${JSON.stringify(r.got)})`);
    assert.match(r.got, /^HTTP\/1\.1 400 Bad Request\r\n/, what);
    assert.match(r.got, /\r\nconnection: close\r\n/, what);
    assert.match(r.got, /"code":"malformed_request"/, what);
  }
  assert.equal(l.handedOff.length, 0);
});

test("a head with bare LF (or lone CR) line ends on an API path is handed over at once, with the bytes read (the control plane's parser answers it)", async () => {
  const l = await answeringListener();
  const heads = brokenHeads("/api/v1/me");
  for (const [i, [what, chunks]] of heads.entries()) {
    const c = connect(l.port, "127.0.0.1");
    c.on("error", () => {});
    try {
      const writes = chunks.map((chunk, at) => setTimeout(() => c.write(chunk), at * 50));
      const timer = new Promise<"late">((r) => setTimeout(() => r("late"), 5_000).unref());
      assert.notEqual(await Promise.race([l.handed[i]!, timer]), "late", `${what}: not handed over within 5 s`);
      for (const w of writes) clearTimeout(w);
      // Handed over as soon as the request line has ended: the rest stays in the kernel for the control plane.
      const head = l.handedOff[i]!.head;
      assert.ok(head.startsWith(chunks[0]!) && chunks.join("").startsWith(head), `${what}: ${JSON.stringify(head)}`);
    } finally {
      c.destroy();
    }
  }
});

test("valid heads are still served as before: CRLF, a body, pipelined requests, an upgrade, an empty line first", async () => {
  const l = await answeringListener();
  const post = `POST ${GW} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`;
  const piped = await send(l.port, [`${post}GET ${GW}?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
  assert.match(piped.got, /^HTTP\/1\.1 200 [\s\S]*ok POST \/projects\/p\/apps\/a\/routes\/r\/flows 5HTTP\/1\.1 200 [\s\S]*ok GET \/projects\/p\/apps\/a\/routes\/r\/flows\?2 0$/);
  const upgraded = await send(l.port, [`GET ${GW} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n`]);
  assert.match(upgraded.got, /^HTTP\/1\.1 101 [\s\S]*upgraded$/);
  const split = await send(l.port, [`GET ${GW} HTTP/1.1\r`, "\nHost: x\r\nConnection: close\r\n\r\n"]);
  assert.match(split.got, /^HTTP\/1\.1 200 [\s\S]*ok GET/, "a CRLF split between two packets");
  // An empty line before the request line (RFC 9112 2.2: a server should ignore it, and Node does): not the gateway's to judge; handed over as before.
  const c = connect(l.port, "127.0.0.1");
  c.on("error", () => {});
  try {
    c.write(`\r\nGET ${GW} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await l.handed[0];
    assert.equal(l.handedOff[0]!.head, `\r\nGET ${GW} HTTP/1.1\r\nHost: x\r\n\r\n`);
  } finally {
    c.destroy();
  }
});

test("behind HAProxy, a PROXY line ended by a bare LF (or a lone CR) is refused at once, not held to the first-line deadline", async () => {
  assert.equal(readProxyLine(Buffer.from("PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\n")), null);
  assert.equal(readProxyLine(Buffer.from("PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\rG")), null);
  assert.equal(readProxyLine(Buffer.from("PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\r")), "incomplete");
  const gateway = createHttpServer((_req, res) => res.end("served"));
  enforceRequestTimeouts(gateway);
  const server = createNetServer((socket) => classifyConnection(socket, gateway, (s) => s.destroy(), { proxied: true, firstLineTimeoutMs: 60_000 }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as AddressInfo).port;
    const r = await send(port, ["PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\n"]);
    assert.ok(r.closed, "a bare-LF PROXY line held its connection for 5 s");
    assert.equal(r.got, "");
    const ok = await send(port, [`PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\r\nGET ${GW} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
    assert.match(ok.got, /^HTTP\/1\.1 200 [\s\S]*served$/);
  } finally {
    server.close();
    gateway.close();
  }
});
