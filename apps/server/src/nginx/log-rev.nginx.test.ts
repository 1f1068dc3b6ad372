import assert from "node:assert/strict";
import { request } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { memoryLogger } from "@flowplane/logging";
import type { FastCall, FastCount } from "../fast-path/state.js";
import { parseFastCount, parseFastLine } from "../haproxy/log-line.js";
import { LogSink } from "../haproxy/log-sink.js";
import { call, routeEntry, sha256hex, SKIP_WITHOUT_NGINX, startTestNginx, type TestNginx } from "./test-nginx.js";

const until = async (what: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; !what() && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
};

/**
 * The log line's revision is the one on the answer (lua-log.ts); on nginx's own error answer,
 * which names none, the route's. A replica that began its head (naming a revision) and then
 * failed must not put its revision in the log when the client got nginx's error answer. The same
 * for a call that is counted rather than logged (not a run's path): its count names the route's.
 */
describe("nginx log: the revision of a call nginx answered with its own error page", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  let nginx: TestNginx;
  let sink: LogSink;
  let raw: Server;
  const sockets = new Set<Socket>();
  const calls: FastCall[] = [];
  const counts: FastCount[] = [];
  const key = "fp_" + "k".repeat(43);

  before(async () => {
    sink = await LogSink.start({ log: memoryLogger().log, onLine: (l) => {
      const c = parseFastLine(l);
      if (c) return void calls.push(c);
      const n = parseFastCount(l);
      if (n) counts.push(n);
    } });
    // A replica that writes part of a head naming revision 9, then: closes (/close), stalls (/stall) or sends a bad header line (/bad).
    raw = createServer((s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
      s.once("data", (d) => {
        const target = d.toString("latin1").split(" ")[1] ?? "";
        s.write("HTTP/1.1 200 OK\r\nx-flowplane-revision: 9\r\n");
        if (target.startsWith("/close")) setTimeout(() => s.destroy(), 20);
        else if (target.startsWith("/bad")) s.write("bad\0header: x\r\n\r\nok");
        // /stall: nothing more
      });
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    const address = `127.0.0.1:${(raw.address() as { port: number }).port}`;
    nginx = await startTestNginx({ logSink: { port: sink.port, token: sink.token } });
    const res = await nginx.program.send({
      routes: { set: [routeEntry("r1", [address], { revision: 3, timeoutMs: 1_000 })] },
      keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1", ttlMs: 4_000 }] },
    });
    assert.deepEqual(res.errors, []);
  });
  after(async () => {
    await nginx?.stop();
    for (const s of sockets) s.destroy();
    await new Promise((r) => raw?.close(r));
    await sink?.close();
  });

  for (const [path, status] of [["/close", 502], ["/stall", 504], ["/bad", 502]] as const) {
    it(`${path}: nginx's ${status}, and the route's revision in the log`, async () => {
      // A run's path (a line of its own), then the same failure on a path that is counted.
      const res = await call(nginx.port, `/projects/p1/apps/a1/routes/r1${path}/run`, { headers: { "x-access-key": key } });
      assert.equal(res.status, status);
      assert.equal(res.headers["x-flowplane-revision"], undefined, "nginx's own error answer names no revision");
      const id = String(res.headers["x-request-id"]);
      await until(() => calls.some((c) => c.requestId === id), 5_000);
      const c = calls.find((x) => x.requestId === id);
      assert.ok(c, "logged");
      assert.equal(c.revision, 3, "the route's revision (the answer named none), not the replica's half-sent 9");
      counts.length = 0;
      assert.equal((await call(nginx.port, `/projects/p1/apps/a1/routes/r1${path}`, { headers: { "x-access-key": key } })).status, status);
      await until(() => counts.length > 0, 5_000);
      assert.deepEqual(counts.map((n) => [n.routeId, n.status, n.revision, n.calls]), [["r1", status, 3, 1]], "counted with the route's revision");
    });
  }
});

describe("nginx log: a client that leaves while the replica's head is half-sent", { timeout: 60_000, skip: SKIP_WITHOUT_NGINX }, () => {
  it("499 logged with the route's revision", async () => {
    const calls: FastCall[] = [];
    const sink = await LogSink.start({ log: memoryLogger().log, onLine: (l) => { const c = parseFastLine(l); if (c) calls.push(c); } });
    const sockets = new Set<Socket>();
    const raw = createServer((s) => { sockets.add(s); s.on("error", () => undefined); s.once("data", () => s.write("HTTP/1.1 200 OK\r\nx-flowplane-revision: 9\r\n")); });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    const nginx = await startTestNginx({ logSink: { port: sink.port, token: sink.token } });
    const key = "fp_" + "k".repeat(43);
    await nginx.program.send({ routes: { set: [routeEntry("r1", [`127.0.0.1:${(raw.address() as { port: number }).port}`], { revision: 3, timeoutMs: 10_000 })] }, keys: { set: [{ key: `${sha256hex(key)}/p1`, userId: "u1", keyId: "k1", ttlMs: 4_000 }] } });
    const req = request({ host: "127.0.0.1", port: nginx.port, path: "/projects/p1/apps/a1/routes/r1/stall/run", headers: { "x-access-key": key }, agent: false });
    req.on("error", () => undefined);
    req.end();
    await new Promise((r) => setTimeout(r, 300));
    req.destroy();
    await until(() => calls.length > 0, 5_000);
    try {
      assert.equal(calls[0]?.status, 499);
      assert.equal(calls[0]?.revision, 3);
    } finally {
      await nginx.stop(); for (const s of sockets) s.destroy(); raw.close(); await sink.close();
    }
  });
});
