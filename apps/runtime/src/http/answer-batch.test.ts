import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { rawExchange } from "@flowplane/testkit";
import { AnswerBatch, answered, endAnswer } from "./answer-batch.js";
import { send } from "./routing.js";

/** A real server on loopback whose every response the batch adopts, as the app's do. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse, batch: AnswerBatch) => void): Promise<{ url: string; port: number; server: Server }> {
  const batch = new AnswerBatch();
  const server = createServer((req, res) => {
    batch.adopt(res);
    handler(req, res, batch);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, server };
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

// When answers are many in one pass, or something goes wrong around one.

test("answers made together in one pass (one callback) are ended together, each whole to its own client", async () => {
  const N = 8;
  const held: Array<{ path: string; res: ServerResponse }> = [];
  const states: string[] = [];
  const { url, server } = await serve((req, res) => {
    held.push({ path: req.url!, res });
    if (held.length < N) return;
    // One callback answers them all: the batch's case, made deterministic.
    for (const { path, res: r } of held) send(r, 200, { path, pad: "x".repeat(path.length * 1000) });
    states.push(held.map(({ res: r }) => r.writableEnded).join());
    setImmediate(() => states.push(held.map(({ res: r }) => r.writableEnded).join()));
  });
  try {
    const paths = Array.from({ length: N }, (_, i) => `/p${i}`);
    const answers = await Promise.all(paths.map(async (p) => (await (await fetch(`${url}${p}`)).json()) as { path: string; pad: string }));
    assert.deepEqual(answers.map((a) => [a.path, a.pad.length]), paths.map((p) => [p, p.length * 1000]));
    assert.deepEqual(states, [Array(N).fill(false).join(), Array(N).fill(true).join()]);
  } finally {
    await close(server);
  }
});

test("an answer given twice through endAnswer is written once, and no error is emitted on the response", async () => {
  const errors: unknown[] = [];
  const { url, server } = await serve((_req, res) => {
    res.on("error", (e) => errors.push(e));
    res.writeHead(200, { "content-type": "text/plain", "content-length": 2 });
    endAnswer(res, "ok");
    endAnswer(res, "ok");
  });
  try {
    const r = await fetch(url);
    assert.equal(await r.text(), "ok");
    await new Promise((r2) => setTimeout(r2, 20));
    assert.deepEqual(errors, []);
  } finally {
    await close(server);
  }
});

test("a response whose end fails does not keep the other answers of its pass back", async () => {
  const held: Array<{ path: string; res: ServerResponse }> = [];
  const { url, server } = await serve((req, res) => {
    held.push({ path: req.url!, res });
    if (held.length < 2) return;
    held.sort((a, b) => (a.path === "/bad" ? -1 : b.path === "/bad" ? 1 : 0));
    for (const { path, res: r } of held) {
      send(r, 200, { path });
      // Stands for any failure of one end in the flush: it must stay that response's.
      if (path === "/bad") r.end = () => { throw new Error("end failed"); };
    }
  });
  try {
    const [bad, good] = await Promise.allSettled([fetch(`${url}/bad`).then((r) => r.json()), fetch(`${url}/good`).then((r) => r.json())]);
    assert.equal(bad.status, "rejected");
    assert.deepEqual(good.status === "fulfilled" ? good.value : good.reason, { path: "/good" });
  } finally {
    await close(server);
  }
});

test("a queued answer ended meanwhile by other code closes its connection rather than desynchronize it", async () => {
  const { port, server } = await serve((_req, res) => {
    send(res, 200, { hello: "world" });
    // What a cleanup checking res.writableEnded (not answered()) would do: a head without its body.
    if (!res.writableEnded) res.end();
  });
  try {
    const { text, closed } = await rawExchange(port, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n", 500);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    // Kept alive, the next request's answer would be read as this one's 17 bytes of body.
    assert.equal(closed, true);
  } finally {
    await close(server);
  }
});
