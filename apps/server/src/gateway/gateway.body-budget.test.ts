import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { waitFor } from "@flowplane/testkit";
import { BodyBudget } from "../http/body-budget.js";
import { PROJECT, APP, principal, route, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";

/**
 * The gateway reads each body whole before it forwards it: the body budget bounds how many bytes
 * of bodies one worker holds at once, and one caller's share of them. Raw sockets, so the test
 * controls when each body's bytes arrive and sees whether `100 Continue` was written.
 */
const KiB = 1024;
const BODY = 200 * KiB;

interface Sent { socket: Socket; text: () => string; status: () => number | undefined }
const sockets: Socket[] = [];
/** A raw connection to `url` that writes `head` (and then `body`, if any): what came back so far, and the final status. */
async function send(url: string, head: string, body?: string | Buffer): Promise<Sent> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  sockets.push(socket);
  await new Promise((r) => socket.once("connect", r));
  let text = "";
  socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
  socket.on("error", () => {});
  socket.write(head);
  if (body !== undefined && body.length > 0) socket.write(body);
  const status = () => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])).find((s) => s !== 100);
  return { socket, text: () => text, status };
}
/** A POST declaring a BODY-byte body, of which the first `sendBytes` are sent. */
const post = (url: string, path: string, key: string, sendBytes: number, expectContinue: boolean) =>
  send(url, `POST ${path} HTTP/1.1\r\nhost: gw\r\nx-access-key: ${key}\r\ncontent-type: application/json\r\ncontent-length: ${BODY}\r\n${expectContinue ? "expect: 100-continue\r\n" : ""}\r\n`, Buffer.alloc(sendBytes, 0x20));

describe("gateway: the body budget", () => {
  let g: TestGateway;
  let up: Upstream;
  // Two bodies at once in all, one per caller; one waiting per caller.
  const budget = new BodyBudget({ totalBytes: 2 * BODY, perCallerBytes: BODY, smallBytes: 64 * KiB, maxWaiting: 8, maxWaitingPerCaller: 1, maxWaitMs: 20_000 });
  const path = `/projects/${PROJECT}/apps/${APP}/routes/r1/echo`;
  before(async () => {
    g = await startGateway({ bodyLimit: 1024 * KiB, bodyBudget: budget });
    up = await startUpstream((_req, res, body) => res.end(`got ${body.length}`));
    g.keys.set("ka", principal("ua"));
    g.keys.set("kb", principal("ub"));
    g.routes.set("r1", route("r1", { resourceName: "dep" }));
    g.endpoints.set("dep", [up.url]);
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await g?.close();
    await up?.close();
  });

  test("a caller's second body waits unread for its first; a third is refused 429; another caller passes; all room given back", async () => {
    const first = await post(g.url, path, "ka", 1000, false);
    await waitFor(() => budget.heldBytes === BODY, { timeoutMs: 5_000, message: "the first body holds its room" });
    const second = await post(g.url, path, "ka", 0, true);
    await waitFor(() => budget.waitingCount === 1, { timeoutMs: 5_000, message: "the second waits" });
    assert.equal(second.text(), "", "no 100 Continue while the caller's share is held");
    const third = await post(g.url, path, "ka", 0, true);
    await waitFor(() => third.status() !== undefined, { timeoutMs: 5_000, message: "the third is answered at once" });
    assert.equal(third.status(), 429);
    assert.match(third.text(), /retry-after: 1/i);
    assert.match(third.text(), /rate_limited/);
    assert.match(await g.metrics.registry.metrics(), /flowplane_gateway_rate_limited_total\{reason="body-budget"\} 1\n/, "counted as every gateway 429 is");

    const other = await post(g.url, path, "kb", BODY, false);
    await waitFor(() => other.status() !== undefined, { timeoutMs: 5_000, message: "the other caller is answered" });
    assert.equal(other.status(), 200);
    assert.match(other.text(), new RegExp(`got ${BODY}`));

    first.socket.write(Buffer.alloc(BODY - 1000, 0x20));
    await waitFor(() => first.status() !== undefined, { timeoutMs: 5_000, message: "the first is answered" });
    assert.equal(first.status(), 200);
    await waitFor(() => second.text().startsWith("HTTP/1.1 100"), { timeoutMs: 5_000, message: "the second gets its Continue" });
    second.socket.write(Buffer.alloc(BODY, 0x20));
    await waitFor(() => second.status() !== undefined, { timeoutMs: 5_000, message: "the second is answered" });
    assert.equal(second.status(), 200);
    await waitFor(() => budget.heldBytes === 0 && budget.waitingCount === 0, { timeoutMs: 5_000, message: "every room given back" });
  });

  test("a client that leaves while its body is read, or while it waits, gives its room back", async () => {
    const reading = await post(g.url, path, "ka", 1000, false);
    await waitFor(() => budget.heldBytes === BODY, { timeoutMs: 5_000, message: "the body holds its room" });
    const waiting = await post(g.url, path, "ka", 0, true);
    await waitFor(() => budget.waitingCount === 1, { timeoutMs: 5_000, message: "the second waits" });
    waiting.socket.destroy();
    await waitFor(() => budget.waitingCount === 0, { timeoutMs: 5_000, message: "the waiting one is forgotten" });
    reading.socket.destroy();
    await waitFor(() => budget.heldBytes === 0, { timeoutMs: 5_000, message: "the reading one's room is given back" });
  });
  test("a chunked body counts as the whole share while it is read, then only its real size while its answer streams", async () => {
    // A replica that streams its answer until the test ends it (a long run, a chat's tokens).
    const ends: (() => void)[] = [];
    const slow = await startUpstream((_req, res, body) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write(`got ${body.length}\n`);
      ends.push(() => res.end("done"));
    });
    try {
      g.routes.set("r2", route("r2", { resourceName: "slow" }));
      g.endpoints.set("slow", [slow.url]);
      const chunked = (bytes: number) => send(g.url,
        `POST /projects/${PROJECT}/apps/${APP}/routes/r2/run HTTP/1.1\r\nhost: gw\r\nx-access-key: ka\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`,
        `${bytes.toString(16)}\r\n${" ".repeat(bytes)}\r\n0\r\n\r\n`);
      // Three small chunked calls from one caller at once: each would otherwise hold the
      // caller's whole share (its size unknown) until its answer ended, so the second waited.
      const calls = [await chunked(100), await chunked(100), await chunked(100)];
      await waitFor(() => calls.every((c) => /got 100/.test(c.text())), { timeoutMs: 5_000, message: "every call is streaming its answer" });
      assert.equal(budget.heldBytes, 0, "small bodies, once read, hold nothing");
      // A larger one keeps what it really holds.
      const big = await chunked(100 * KiB);
      await waitFor(() => new RegExp(`got ${100 * KiB}`).test(big.text()), { timeoutMs: 5_000, message: "the larger call streams too" });
      assert.equal(budget.heldBytes, 100 * KiB);
      for (const end of ends) end();
      await waitFor(() => budget.heldBytes === 0 && budget.waitingCount === 0, { timeoutMs: 5_000, message: "every room given back" });
    } finally {
      await slow.close();
    }
  });
});
