import assert from "node:assert/strict";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { ReadyProbe } from "./ready-probe.js";

/** Real servers on loopback: the probe's answers, its one kept-alive connection, a server that never answers. */
describe("ReadyProbe: /ready over one kept-alive connection", () => {
  const servers: { close(): void }[] = [];
  after(() => { for (const s of servers) s.close(); });

  async function http(handler: Parameters<typeof createHttpServer>[1]): Promise<{ port: number; connections: () => number; server: Server }> {
    let connections = 0;
    const server = createHttpServer(handler);
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    servers.push({ close: () => { server.closeAllConnections(); server.close(); } });
    return { port: (server.address() as AddressInfo).port, connections: () => connections, server };
  }

  it("reads answers with a length and in chunks, on one connection, 200 ready and anything else not", async () => {
    let status = 200;
    let chunked = false;
    const s = await http((req, res) => {
      assert.equal(req.url, "/ready");
      const body = JSON.stringify({ status: status === 200 ? "ready" : "loading", flows: 1 });
      if (chunked) res.writeHead(status, { "content-type": "application/json" }).end(body);
      else res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
    });
    const probe = new ReadyProbe(s.port);
    try {
      for (const c of [false, true, false]) {
        chunked = c;
        status = 200;
        assert.equal(await probe.check(2000), true);
        status = 503;
        assert.equal(await probe.check(2000), false);
      }
      assert.equal(s.connections(), 1, "six probes, one connection");
    } finally {
      probe.close();
    }
  });

  it("opens a new connection when the server closed the idle one, without a failed probe", async () => {
    const s = await http((_req, res) => res.writeHead(200, { "content-length": 2 }).end("{}"));
    const probe = new ReadyProbe(s.port);
    try {
      for (let i = 0; i < 5; i++) {
        assert.equal(await probe.check(2000), true);
        // The replica ends the idle connection (its keep-alive timeout), just before the next probe.
        s.server.closeIdleConnections();
      }
      assert.equal(await probe.check(2000), true);
      assert.equal(s.connections(), 6);
    } finally {
      probe.close();
    }
  });

  it("fails a probe that gets no answer in time (a hung replica), and one that cannot connect", async () => {
    const held: Socket[] = [];
    const tcp = createTcpServer((socket) => held.push(socket)); // accepts, reads nothing, answers nothing
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    servers.push({ close: () => { for (const s of held) s.destroy(); tcp.close(); } });
    const hung = new ReadyProbe((tcp.address() as AddressInfo).port);
    const started = Date.now();
    assert.equal(await hung.check(300), false);
    assert.ok(Date.now() - started >= 250, "it waited for its timeout");
    hung.close();
    // A port nothing listens on: refused, a failed probe at once.
    const spare = createTcpServer();
    await new Promise<void>((r) => spare.listen(0, "127.0.0.1", r));
    const port = (spare.address() as AddressInfo).port;
    await new Promise((r) => spare.close(r));
    const refused = new ReadyProbe(port);
    assert.equal(await refused.check(2000), false);
    refused.close();
  });
});
