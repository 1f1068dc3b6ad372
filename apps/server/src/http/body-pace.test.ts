import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { enforceBodyPace } from "./body-pace.js";
import { answerClientError } from "./client-errors.js";

/**
 * A real node:http server on loopback, as the workers run theirs (no whole-request bound, the
 * one clientError answer), held to a short pace: 0.4 s for any body, then 2,000 bytes buy a
 * second. Clients are raw sockets, so the bytes and their timing are exactly the test's.
 */
const BIG = 4 * 1024 * 1024;

describe("request bodies held to a pace (body-pace.ts)", () => {
  let server: Server;
  let port: number;
  let stop: () => void;
  before(async () => {
    server = createServer({ requestTimeout: 0 }, (req, res) => {
      if (req.url === "/big") return void res.writeHead(200, { "content-length": BIG }).end(Buffer.alloc(BIG, "a"));
      let bytes = 0;
      req.on("data", (c: Buffer) => (bytes += c.length));
      req.on("end", () => {
        const wait = Number(req.headers["x-think-ms"] ?? 0);
        const body = `got ${bytes}`;
        setTimeout(() => res.writeHead(200, { "content-type": "text/plain", "content-length": body.length }).end(body), wait);
      });
    });
    server.on("clientError", answerClientError);
    stop = enforceBodyPace(server, { graceMs: 400, bytesPerSecond: 2000, checkEveryMs: 50 });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** Sends `head`, then each of `chunks` after `everyMs`; resolves with all the server answered and when the connection ended. */
  const exchange = (head: string, chunks: string[], everyMs: number) =>
    new Promise<{ text: string; ms: number }>((resolve, reject) => {
      const t0 = Date.now();
      const socket = connect(port, "127.0.0.1");
      let text = "";
      let i = 0;
      const timer = setInterval(() => {
        if (i < chunks.length && !socket.destroyed) socket.write(chunks[i++]!);
        else clearInterval(timer);
      }, everyMs);
      socket.on("data", (c) => (text += c.toString()));
      socket.on("error", () => undefined);
      socket.on("close", () => {
        clearInterval(timer);
        resolve({ text, ms: Date.now() - t0 });
      });
      socket.write(head);
      // Bounded: a connection still open after 10 s fails the test.
      setTimeout(() => {
        socket.destroy();
        reject(new Error(`still open after 10 s: ${text}`));
      }, 10_000).unref();
    });
  const post = (length: number, extra = "") => `POST /upload HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: ${length}\r\nconnection: close\r\n${extra}\r\n`;

  it("a body that keeps coming is served, however long past the grace it takes", async () => {
    // 150 bytes every 40 ms (3,750 bytes/s, above the pace) for about 1.6 s: four times the grace.
    const chunks = Array.from({ length: 40 }, () => "x".repeat(150));
    const { text, ms } = await exchange(post(6000), chunks, 40);
    assert.match(text, /^HTTP\/1.1 200 /);
    assert.match(text, /got 6000$/);
    assert.ok(ms > 1200, `it took ${ms} ms, past the grace`);
  });

  it("a body sent a byte at a time is answered 408 in the one error shape and its connection closed", async () => {
    const chunks = Array.from({ length: 100 }, () => "x");
    const { text, ms } = await exchange(post(100), chunks, 150);
    assert.match(text, /^HTTP\/1.1 408 /);
    assert.match(text, /x-flowplane-error: request_timeout/);
    assert.match(text, /"code":"request_timeout"/);
    // The grace, the few bytes' worth of time they bought, and a check's period.
    assert.ok(ms >= 400 && ms < 2000, `closed after ${ms} ms`);
  });

  it("a body that stops coming is answered 408 too", async () => {
    const { text } = await exchange(post(5000), ["y".repeat(1000)], 10);
    assert.match(text, /^HTTP\/1.1 408 /);
  });

  it("a handler that takes long after the whole body arrived is not cut, nor is a request without a body", async () => {
    const withBody = await exchange(post(10, "x-think-ms: 1500\r\n"), ["0123456789"], 10);
    assert.match(withBody.text, /^HTTP\/1.1 200 [\s\S]*got 10$/);
    const noBody = await exchange("GET /slow HTTP/1.1\r\nhost: x\r\nx-think-ms: 1500\r\nconnection: close\r\n\r\n", [], 10);
    assert.match(noBody.text, /^HTTP\/1.1 200 /);
  });

  it("a step of the wall clock (NTP, a resumed VM) does not cut a body under way", async () => {
    const realNow = Date.now;
    const stepped = setTimeout(() => (Date.now = () => realNow() + 3_600_000), 100);
    try {
      const { text } = await exchange(post(1500), Array.from({ length: 10 }, () => "x".repeat(150)), 40);
      assert.match(text, /^HTTP\/1.1 200 [\s\S]*got 1500$/);
    } finally {
      clearTimeout(stepped);
      Date.now = realNow;
    }
  });

  it("a pipelined body waiting behind an earlier answer is not cut, nor is that answer", async () => {
    // The server stops reading while the answer before goes out (Node pauses a pipelining
    // connection whose answers are not taken yet): that time is not the body's.
    const body = Buffer.alloc(1024 * 1024, "b");
    const got = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      const parts: Buffer[] = [];
      // A reader on a slow link: about 2 MB/s, so the 4 MiB answer takes some 2 s, five times the grace.
      socket.on("data", (c: Buffer) => {
        parts.push(c);
        socket.pause();
        setTimeout(() => socket.resume(), 30);
      });
      socket.on("error", () => undefined);
      socket.on("close", () => resolve(Buffer.concat(parts).toString("latin1")));
      socket.write(`GET /big HTTP/1.1\r\nhost: x\r\n\r\n${post(body.length)}`);
      socket.write(body);
      setTimeout(() => {
        socket.destroy();
        reject(new Error("still open after 10 s"));
      }, 10_000).unref();
    });
    const second = got.indexOf("HTTP/1.1", 1);
    assert.match(got, /^HTTP\/1.1 200 /);
    assert.ok(second > BIG, `the first answer was cut: ${got.length} bytes in all`);
    assert.match(got.slice(second), /^HTTP\/1.1 200 [\s\S]*got 1048576$/);
  });

  it("a chunked body is held to the same pace", async () => {
    const head = "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    const { text } = await exchange(head, Array.from({ length: 50 }, () => "1\r\nz\r\n"), 150);
    assert.match(text, /^HTTP\/1.1 408 /);
  });
});
