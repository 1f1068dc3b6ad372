import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { it } from "node:test";
import { answerClientError, answerConnect } from "./client-errors.js";

/** Sends `first`, then `second` on the same connection 100 ms later; resolves with all the server wrote. */
function exchange(server: Server, first: string, second: string): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const c = connect((server.address() as AddressInfo).port, "127.0.0.1", () => {
      c.write(first);
      setTimeout(() => c.write(second), 100);
    });
    c.on("data", (b: Buffer) => (got += b.toString("latin1")));
    c.on("error", () => {});
    c.once("close", () => resolve(got));
  });
}

it("a request the parser refuses is answered in the one error shape, and the connection closed", async () => {
  const server = createServer((_req, res) => res.end("ok")).on("clientError", answerClientError);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const got = await exchange(server, "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "");
    assert.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(got, /"code":"malformed_request"/);
  } finally {
    server.close();
  }
});

it("a refused pipelined request writes nothing into the answer to the one before it, still under way", async () => {
  // The first answer has sent its headers and half its body when the second request fails to parse.
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "20" });
    res.write("0123456789");
    setTimeout(() => res.end("abcdefghij"), 300);
  }).on("clientError", answerClientError);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const got = await exchange(server, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(got, /HTTP\/1\.1 400/, "a 400 was written into the body of the answer under way");
  } finally {
    server.close();
  }
});

it("CONNECT is answered 405 in the one error shape, not closed unanswered", async () => {
  const server = createServer((_req, res) => res.end("ok")).on("connect", answerConnect);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const got = await exchange(server, "CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n", "");
    assert.match(got, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    assert.match(got, /\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE\r\n/);
    assert.match(got, /"code":"method_not_allowed"/);
  } finally {
    server.close();
  }
});
