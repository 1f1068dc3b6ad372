import assert from "node:assert/strict";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { RELAY_CLIENT_HEADER, RELAY_PORT_HEADER, RELAY_SECRET_HEADER } from "../http/relayed-client.js";
import { ControlPlanePassThrough } from "./fallback.js";

/**
 * The pass-through of a worker (fallback.ts) between real node:http servers on loopback: a
 * "control plane" that holds `/hold` requests open (as a log follow does) and answers `/quick`
 * at once, and a "worker" server whose every request is passed through.
 */
describe("ControlPlanePassThrough", { timeout: 30_000 }, () => {
  let origin: Server;
  let front: Server;
  let pass: ControlPlanePassThrough;
  const held = new Set<ServerResponse>();
  let seen: IncomingMessage["headers"] | undefined;

  const listen = (s: Server) => new Promise<number>((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port)));
  let frontPort = 0;

  before(async () => {
    origin = createServer((req, res) => {
      seen = req.headers;
      if (req.url === "/hold") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(": held\n\n");
        held.add(res);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
    const originPort = await listen(origin);
    pass = new ControlPlanePassThrough(`http://127.0.0.1:${originPort}`, "relay-secret");
    front = createServer((req, res) => pass.handle(req, res));
    frontPort = await listen(front);
  });
  after(async () => {
    for (const res of held) res.end();
    await pass.close().catch(() => undefined);
    front.closeAllConnections();
    origin.closeAllConnections();
    await Promise.all([new Promise((r) => front.close(r)), new Promise((r) => origin.close(r))]);
  });

  /** A GET through the worker, each on its own connection (as clients whose connection the worker kept); resolves at the answer's head. */
  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: frontPort, path, agent: false, headers }, resolve);
      req.on("error", reject);
      req.end();
    });

  it("a request is not queued behind long-held ones, however many (each is one client connection)", async () => {
    // More held requests than a pool of 16 connections would take: every one reaches the control plane.
    const streams = await Promise.race([
      Promise.all(Array.from({ length: 40 }, () => get("/hold"))),
      new Promise<null>((r) => setTimeout(() => r(null), 10_000).unref()),
    ]);
    assert.ok(streams, `only ${held.size} of 40 held requests reached the control plane`);
    const quick = await Promise.race([
      get("/quick"),
      new Promise<null>((r) => setTimeout(() => r(null), 5_000).unref()),
    ]);
    assert.ok(quick, "the quick request waited behind the held ones");
    assert.equal(quick.statusCode, 200);
    // Answered with Connection: close, so the client's next request goes to the control plane directly.
    assert.equal(quick.headers.connection, "close");
    quick.resume();
    for (const s of streams) s.destroy();
  });

  it("relays one request per client connection: a pipelined flood opens no more connections to the control plane", async () => {
    const before = held.size;
    const s = connect(frontPort, "127.0.0.1");
    s.on("error", () => undefined);
    s.write("GET /hold HTTP/1.1\r\nhost: x\r\n\r\n".repeat(50));
    const first = await new Promise<string>((resolve) => s.once("data", (b: Buffer) => resolve(b.toString("latin1"))));
    assert.match(first, /^HTTP\/1\.1 200 /);
    // Time for any other of the 50 to have reached the control plane.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(held.size - before, 1);
    s.destroy();
  });

  it("passes the client's address and the worker listener's port beside the relay secret, never a client's own claim of any", async () => {
    const res = await get("/quick", { [RELAY_SECRET_HEADER]: "guess", [RELAY_CLIENT_HEADER]: "10.9.9.9", [RELAY_PORT_HEADER]: "1" });
    res.resume();
    assert.equal(seen?.[RELAY_SECRET_HEADER], "relay-secret");
    assert.equal(seen?.[RELAY_CLIENT_HEADER], "127.0.0.1");
    assert.equal(seen?.[RELAY_PORT_HEADER], String((front.address() as AddressInfo).port));
  });
});
