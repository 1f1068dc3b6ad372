import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { AnswerBatch, answered } from "./answer-batch.js";
import { send } from "./routing.js";

/** A real server on loopback whose every response the batch adopts, as the app's do. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse, batch: AnswerBatch) => void): Promise<{ url: string; server: Server }> {
  const batch = new AnswerBatch();
  const server = createServer((req, res) => {
    batch.adopt(res);
    handler(req, res, batch);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const close = (server: Server) => new Promise((r) => server.close(r));

test("an adopted response's answer is given at once, ended when the pass is over, and arrives whole", async () => {
  const seen: string[] = [];
  const { url, server } = await serve((_req, res) => {
    send(res, 201, { hello: "world" });
    seen.push(`queued answered=${answered(res)} ended=${res.writableEnded} headersSent=${res.headersSent}`);
    setImmediate(() => seen.push(`next check phase ended=${res.writableEnded}`));
  });
  try {
    const r = await fetch(url);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("content-length"), String(JSON.stringify({ hello: "world" }).length));
    assert.deepEqual(await r.json(), { hello: "world" });
    // Queued behind the batch's release (setImmediate runs in order): ended by then.
    assert.deepEqual(seen, ["queued answered=true ended=false headersSent=true", "next check phase ended=true"]);
  } finally {
    await close(server);
  }
});

test("a second answer on a response already answered in the batch is ignored, as one already ended is", async () => {
  const { url, server } = await serve((_req, res) => {
    send(res, 200, { first: true });
    // Before the batch's end ran: writeHead again would throw ERR_HTTP_HEADERS_SENT.
    send(res, 500, { second: true });
  });
  try {
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { first: true });
  } finally {
    await close(server);
  }
});

test("a response not adopted (the probe listener's, a test's) is ended at once", async () => {
  const server = createServer((_req, res) => {
    send(res, 200, "plain", "text/plain");
    assert.equal(res.writableEnded, true);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    assert.equal(await r.text(), "plain");
  } finally {
    await close(server);
  }
});

test("an answer queued for a client that left is dropped; the server goes on answering", async () => {
  let destroyed = false;
  const { url, server } = await serve((req, res) => {
    if (req.url === "/gone") {
      send(res, 200, { late: true });
      // The client leaves between the answer and the batch's end.
      res.destroy();
      destroyed = true;
      return;
    }
    send(res, 200, { ok: true });
  });
  try {
    await assert.rejects(fetch(`${url}/gone`));
    assert.ok(destroyed);
    const r = await fetch(`${url}/after`);
    assert.deepEqual(await r.json(), { ok: true });
  } finally {
    await close(server);
  }
});
