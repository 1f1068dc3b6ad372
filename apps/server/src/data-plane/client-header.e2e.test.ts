import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createLogger } from "@flowplane/logging";
import { CORS_OFF } from "../gateway/cors.js";
import { CLIENT_ADDRESS_HEADER } from "./client-header.js";
import { DataPlane } from "./supervisor.js";

/**
 * nginx's hand-over as the server would run it (a real worker process, forked by DataPlane with
 * `behindProxy.clientAddress: "header"`): a call on the workers' Unix socket with
 * CLIENT_ADDRESS_HEADER; an API path's connection is passed, handle and head, to this process
 * (the control plane), which serves it with the client's address and without the header.
 */
describe("behind nginx: the client-address header on a real worker (e2e)", { timeout: 60_000 }, () => {
  let dir: string;
  let dataPlane: DataPlane;
  const servers: Server[] = [];
  const seen: IncomingMessage[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-nginx-workers-"));
    const controlPlane = () => {
      const s = createHttpServer((req, res) => {
        seen.push(req);
        res.end(JSON.stringify({ address: req.socket.remoteAddress, raw: req.rawHeaders }));
      });
      servers.push(s);
      return s;
    };
    const limits = { total: 100, perAddress: 100 };
    dataPlane = await DataPlane.start({
      workers: 1, log: createLogger({ level: "silent" }), servers: { public: controlPlane(), private: controlPlane() },
      // No route or key is known: a gateway call is the worker's refusal.
      sources: { resolveRoute: () => Promise.resolve(null), authenticate: () => Promise.resolve(null), endpoints: () => [], gatewaySecret: () => "s" },
      settings: {
        behindProxy: { path: join(dir, "node.sock"), clientAddress: "header" },
        host: "127.0.0.1", ports: { public: 0, private: 0 }, controlPlane: { public: "http://127.0.0.1:1", private: "http://127.0.0.1:1" }, relaySecret: "r",
        bodyLimit: 1 << 20, bodyTimeoutMs: 300_000, connections: { public: limits, private: limits }, share: 1, idle: false, runs: false,
        cors: CORS_OFF, routeCacheTtlMs: 1_000, lookupTimeoutMs: 5_000, logLevel: "silent",
      },
    });
  });
  after(async () => {
    await dataPlane?.close();
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** One request on a new connection to the workers' socket, as nginx sends it; all that came back. */
  const call = (head: string, body = "") => new Promise<string>((resolve) => {
    let got = "";
    const s = connect(join(dir, "node.sock"), () => s.write(head + body));
    s.on("data", (b) => (got += b.toString("latin1")));
    s.on("error", () => {});
    s.once("close", () => resolve(got));
  });

  test("an API call reaches the control plane with the client's address, its body whole, and without the header", async () => {
    const got = await call(`POST /api/v1/projects HTTP/1.1\r\nHost: x\r\n${CLIENT_ADDRESS_HEADER}: 2001:db8::7\r\ncontent-length: 5\r\nconnection: close\r\n\r\n`, "hello");
    assert.match(got, /^HTTP\/1\.1 200 /);
    const b = JSON.parse(got.slice(got.indexOf("\r\n\r\n") + 4)) as { address: string; raw: string[] };
    assert.equal(b.address, "2001:db8::7");
    assert.deepEqual(b.raw.filter((_, i) => i % 2 === 0), ["Host", "content-length", "connection"]);
    assert.equal(seen.length, 1);
  });

  test("a gateway call stays in the worker (its 401: no key), and a connection without the header is closed unanswered", async () => {
    const gateway = await call(`GET /projects/p/apps/a/routes/r/x HTTP/1.1\r\nHost: x\r\n${CLIENT_ADDRESS_HEADER}: 192.0.2.5\r\nconnection: close\r\n\r\n`);
    assert.match(gateway, /^HTTP\/1\.1 401 [\s\S]*"code":"unauthenticated"/);
    assert.equal(await call("GET /api/v1/me HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n"), "");
    assert.equal(seen.length, 1, "nothing more reached the control plane");
  });
});
