import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, maxHeaderSize, type IncomingMessage, type Server as HttpServer } from "node:http";
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { waitFor } from "@flowplane/testkit";
import { ConnectionCap } from "../http/connection-cap.js";
import { CLIENT_ADDRESS_HEADER, MAX_CLIENT_HEAD, readClientHead } from "./client-header.js";
import { classifyConnection, enforceRequestTimeouts } from "./connections.js";
import type { ProxiedClient } from "./proxy-protocol.js";

/**
 * The workers' side of nginx's hand-over (client-header.ts): nginx connects to the workers' Unix
 * socket once per call and names the client in CLIENT_ADDRESS_HEADER. A worker's listener as
 * worker.ts builds it behind nginx, on a real Unix socket, with the gateway's HTTP server; what
 * would go to the control plane is recorded (the whole hand-over: client-header.e2e.test.ts).
 */
const dir = mkdtempSync(join(tmpdir(), "flowplane-client-header-"));
const open: { close(): void }[] = [];
after(() => {
  for (const o of open) o.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What a server saw of a request: the socket's client and the headers as they arrived. */
const seen = (req: IncomingMessage) => JSON.stringify({ address: req.socket.remoteAddress, family: req.socket.remoteFamily, port: req.socket.remotePort ?? null, url: req.url, raw: req.rawHeaders });

interface HandedOff { head: Buffer; client: ProxiedClient | undefined; socketAddress: string | undefined }
let socketCount = 0;
async function nginxSocket(o: { firstLineTimeoutMs?: number; cap?: ConnectionCap } = {}): Promise<{ path: string; handedOff: HandedOff[]; served: () => number }> {
  let served = 0;
  const answer = (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    served++;
    res.end(seen(req));
  };
  const gateway: HttpServer = createHttpServer(answer);
  enforceRequestTimeouts(gateway);
  const handedOff: HandedOff[] = [];
  const path = join(dir, `node-${++socketCount}.sock`);
  // The socket's handle would go to the control plane (worker.ts); its reads here are stopped for good.
  const tcp: NetServer = createNetServer((socket) => classifyConnection(socket, gateway, (s, head, client, sent) => {
    handedOff.push({ head, client, socketAddress: s.remoteAddress });
    sent();
    s.destroy();
  }, { clientAddressHeader: true, ...o }));
  await new Promise<void>((resolve) => tcp.listen(path, resolve));
  open.push({ close: () => { tcp.close(); gateway.close(); gateway.closeAllConnections(); } });
  return { path, handedOff, served: () => served };
}

/** Writes `chunks` (each after the last was written; `gapMs` apart) and resolves with all that came back once the server closed, or `null` as `got` after `waitMs`. */
function exchange(path: string, chunks: (string | Buffer)[], o: { gapMs?: number; waitMs?: number } = {}): Promise<{ got: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let got = "";
    const s: Socket = connect(path, () => {
      let i = 0;
      const next = () => { if (i < chunks.length && !s.destroyed) s.write(chunks[i++]!, () => (o.gapMs ? setTimeout(next, o.gapMs) : next())); };
      next();
    });
    s.on("data", (b) => { got += b.toString("latin1"); });
    s.on("error", () => {});
    const timer = setTimeout(() => { s.destroy(); resolve({ got, closed: false, ms: Date.now() - started }); }, o.waitMs ?? 3_000);
    s.once("close", () => { clearTimeout(timer); resolve({ got, closed: true, ms: Date.now() - started }); });
  });
}

const GATEWAY = "/projects/p/apps/a/routes/r/flows";
const request = (target: string, headers: string[]) => `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers.map((h) => `${h}\r\n`).join("")}connection: close\r\n\r\n`;
const body = (got: string) => JSON.parse(got.slice(got.indexOf("\r\n\r\n") + 4)) as { address?: string; family?: string; port: number | null; url: string; raw: string[] };
const names = (raw: string[]) => raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());

test("a gateway call: the gateway sees the header's client as the socket's, and not the header", async () => {
  const l = await nginxSocket();
  for (const address of ["203.0.113.7", "2001:db8::1", "::ffff:198.51.100.2"]) {
    const r = await exchange(l.path, [request(GATEWAY, ["x-api-key-ish: 1", `${CLIENT_ADDRESS_HEADER}: ${address}`, "accept: */*"])]);
    assert.match(r.got, /^HTTP\/1\.1 200 /, address);
    const b = body(r.got);
    assert.equal(b.address, address);
    assert.equal(b.family, address.includes(":") ? "IPv6" : "IPv4");
    assert.equal(b.port, null, "nginx names no port: none is made up");
    assert.equal(b.url, GATEWAY);
    assert.deepEqual(names(b.raw), ["host", "x-api-key-ish", "accept", "connection"], "the header is gone, every other one kept in order");
  }
  assert.equal(l.handedOff.length, 0);
});

test("an API call is handed over with the client's address and without the header (supervisor-side: client-header.e2e.test.ts)", async () => {
  const l = await nginxSocket();
  const r = await exchange(l.path, [`POST /api/v1/projects HTTP/1.1\r\nHost: x\r\n${CLIENT_ADDRESS_HEADER}: 198.51.100.9\r\ncontent-length: 5\r\nconnection: close\r\n\r\n`], { waitMs: 300 });
  assert.equal(r.got, "", "nothing answered here: the control plane would");
  assert.equal(l.handedOff.length, 1);
  const [h] = l.handedOff;
  assert.deepEqual(h!.client, { address: "198.51.100.9" }, "what the handoff message names");
  assert.equal(h!.socketAddress, "198.51.100.9");
  assert.equal(h!.head.toString("latin1"), "POST /api/v1/projects HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\n", "the head the control plane parses");
  assert.equal(l.served(), 0);
});

test("a head arriving one byte at a time is read whole, then served", async () => {
  const l = await nginxSocket();
  const bytes = [...Buffer.from(request(GATEWAY, [`${CLIENT_ADDRESS_HEADER}: 192.0.2.44`]))].map((b) => Buffer.from([b]));
  const r = await exchange(l.path, bytes, { gapMs: 1 });
  assert.match(r.got, /^HTTP\/1\.1 200 /);
  assert.equal(body(r.got).address, "192.0.2.44");
  assert.deepEqual(names(body(r.got).raw), ["host", "connection"]);
});

test("a connection without exactly one header holding an IP literal is closed unanswered: only nginx reaches this socket", async () => {
  const l = await nginxSocket();
  const refused: Record<string, string[]> = {
    "no header": [],
    "two headers": [`${CLIENT_ADDRESS_HEADER}: 192.0.2.1`, `${CLIENT_ADDRESS_HEADER}: 192.0.2.1`],
    "two, spelt otherwise": [`${CLIENT_ADDRESS_HEADER}: 192.0.2.1`, "X-Flowplane-Client-Address : 192.0.2.2"],
    "an address and port": [`${CLIENT_ADDRESS_HEADER}: 192.0.2.1:5000`],
    "IPv6 in brackets": [`${CLIENT_ADDRESS_HEADER}: [2001:db8::1]`],
    "a name": [`${CLIENT_ADDRESS_HEADER}: localhost`],
    "empty": [`${CLIENT_ADDRESS_HEADER}:`],
    "a list": [`${CLIENT_ADDRESS_HEADER}: 192.0.2.1, 192.0.2.2`],
    "a folded line after it": [`${CLIENT_ADDRESS_HEADER}: 192.0.2.1`, " 192.0.2.2"],
  };
  for (const [what, headers] of Object.entries(refused)) {
    for (const target of [GATEWAY, "/api/v1/me"]) {
      const r = await exchange(l.path, [request(target, headers)]);
      assert.ok(r.closed, `${what} (${target}): still open`);
      assert.equal(r.got, "", `${what} (${target}): answered`);
    }
  }
  assert.equal(l.served(), 0);
  assert.equal(l.handedOff.length, 0);
});

test("a head past node:http's limit is answered 431 in the one error shape, as the workers' HTTP server answers it, and closed", async () => {
  const l = await nginxSocket();
  const filler = (n: number) => `x-filler: ${"a".repeat(n)}`;
  // Within the limit (with nginx's line on top): served.
  const fits = request(GATEWAY, [filler(maxHeaderSize - 200), `${CLIENT_ADDRESS_HEADER}: 192.0.2.1`]);
  assert.ok(Buffer.byteLength(fits) <= MAX_CLIENT_HEAD);
  assert.match((await exchange(l.path, [fits])).got, /^HTTP\/1\.1 200 /);
  for (const [what, head] of [
    ["ended past the limit", request(GATEWAY, [filler(MAX_CLIENT_HEAD), `${CLIENT_ADDRESS_HEADER}: 192.0.2.1`])],
    ["never ending", `GET ${GATEWAY} HTTP/1.1\r\n${CLIENT_ADDRESS_HEADER}: 192.0.2.1\r\n${filler(MAX_CLIENT_HEAD)}`],
  ] as const) {
    const r = await exchange(l.path, [head]);
    assert.ok(r.closed, what);
    assert.match(r.got, /^HTTP\/1\.1 431 /, what);
    assert.match(r.got, /"code":"headers_too_large"/, what);
  }
  assert.equal(l.served(), 1);
  assert.equal(l.handedOff.length, 0);
});

test("a connection that sends nothing, or a head that never ends, is closed at the first-line deadline", async () => {
  const l = await nginxSocket({ firstLineTimeoutMs: 200 });
  for (const data of ["", `GET ${GATEWAY} HTTP/1.1\r\n${CLIENT_ADDRESS_HEADER}: 192.0.2.1\r\nHost: x\r\n`]) {
    const r = await exchange(l.path, data ? [data] : [], { waitMs: 3_000 });
    assert.ok(r.closed, `still open after 3 s, having sent ${JSON.stringify(data)}`);
    assert.ok(r.ms >= 150, `closed too early (${r.ms} ms)`);
    assert.equal(r.got, "");
  }
  assert.equal(l.served(), 0);
});

test("the bound per address counts the client the header names, not the socket's peer", async () => {
  const cap = new ConnectionCap({ total: 100, perAddress: 1 });
  const l = await nginxSocket({ cap });
  const held: Socket[] = [];
  /** A gateway call kept open (no `connection: close`): what came back once its answer is whole. */
  const call = (address: string) => new Promise<string>((resolve) => {
    const s = connect(l.path, () => s.write(`GET ${GATEWAY} HTTP/1.1\r\nHost: x\r\n${CLIENT_ADDRESS_HEADER}: ${address}\r\n\r\n`));
    held.push(s);
    let got = "";
    s.on("data", (b) => {
      got += b.toString("latin1");
      if (/\r\n\r\n[\s\S]*\}$/.test(got)) resolve(got);
    });
    s.on("error", () => {});
    s.once("close", () => resolve(got));
  });
  try {
    assert.match(await call("203.0.113.7"), /^HTTP\/1\.1 200 /);
    assert.match(await call("203.0.113.7"), /^HTTP\/1\.1 429 [\s\S]*"code":"too_many_connections"/);
    assert.match(await call("203.0.113.8"), /^HTTP\/1\.1 200 /, "another client behind the same nginx");
    assert.equal(cap.count("203.0.113.7"), 1);
    held[0]!.destroy();
    await waitFor(() => cap.count("203.0.113.7") === 0, { message: "the closed connection released" });
  } finally {
    for (const s of held) s.destroy();
  }
});

test("readClientHead: what follows the head is kept byte for byte; a bare LF or CR in the head is refused", () => {
  const tail = Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0xe9]);
  const got = readClientHead(Buffer.concat([Buffer.from(`GET / HTTP/1.1\r\n${CLIENT_ADDRESS_HEADER}:\t192.0.2.1 \r\nx-latin1: caf\xe9\r\n\r\n`, "latin1"), tail]));
  assert.ok(got && typeof got === "object");
  assert.deepEqual(got.client, { address: "192.0.2.1" });
  assert.deepEqual(got.head, Buffer.concat([Buffer.from("GET / HTTP/1.1\r\nx-latin1: caf\xe9\r\n\r\n", "latin1"), tail]));
  assert.equal(readClientHead(Buffer.from(`GET / HTTP/1.1\r\nfoo: a\n${CLIENT_ADDRESS_HEADER}: 192.0.2.1\r\n\r\n`)), null);
  assert.equal(readClientHead(Buffer.from(`GET / HTTP/1.1\r\nfoo: a\r${CLIENT_ADDRESS_HEADER}: 192.0.2.1\r\n\r\n`)), null);
  assert.equal(readClientHead(Buffer.from(`GET / HTTP/1.1\r\n${CLIENT_ADDRESS_HEADER}: 192.0.2.1\r\n`)), "incomplete");
});

test("a head with bare LF (or lone CR) line ends is closed unanswered at once, not held to the first-line deadline: nginx never sends one", async () => {
  const l = await nginxSocket({ firstLineTimeoutMs: 60_000 });
  for (const chunks of [
    [`GET ${GATEWAY} HTTP/1.1\nHost: x\n${CLIENT_ADDRESS_HEADER}: 192.0.2.1\n\n`],
    [`GET /api/v1/me HTTP/1.1\n`, `${CLIENT_ADDRESS_HEADER}: 192.0.2.1\n\n`],
    [`GET ${GATEWAY} HTTP/1.1\r\n${CLIENT_ADDRESS_HEADER}: 192.0.2.1\rHost: x\r`],
  ]) {
    const r = await exchange(l.path, chunks, { gapMs: 50, waitMs: 5_000 });
    assert.ok(r.closed, `still open after 5 s, having sent ${JSON.stringify(chunks)}`);
    assert.equal(r.got, "");
  }
  assert.equal(l.served(), 0);
  assert.equal(l.handedOff.length, 0);
});

test("readClientHead: a bare LF or lone CR is refused before the head has ended too; a CR last may still be a CRLF's", () => {
  assert.equal(readClientHead(Buffer.from(`GET / HTTP/1.1\n${CLIENT_ADDRESS_HEADER}: 192.0.2.1\n`)), null);
  assert.equal(readClientHead(Buffer.from("GET / HTTP/1.1\rHost: x")), null);
  assert.equal(readClientHead(Buffer.from("GET / HTTP/1.1\r")), "incomplete");
  assert.equal(readClientHead(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n")), "incomplete");
});
