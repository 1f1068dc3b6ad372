import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { loadFixture, waitFor } from "@flowplane/testkit";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";
import { inlinePreparer, type VersionPreparer } from "../services/version-preparer.js";
import { BodyBudget } from "./body-budget.js";

const MiB = 1024 * 1024;

/** A publish body of a little over `mib` MiB: copies of a real export, each with its own id. */
function publishBody(name: string, mib: number): Buffer {
  const flow = loadFixture("vector-store-rag") as Record<string, unknown>;
  const flows: unknown[] = [];
  let body = "";
  for (let i = 0; Buffer.byteLength(body) < mib * MiB; i++) {
    flows.push({ ...flow, id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, name: `rag ${i}` });
    body = JSON.stringify({ name, versionTag: "1", accessLevel: "global", flows });
  }
  return Buffer.from(body);
}

interface Sent {
  socket: Socket;
  /** Everything the server wrote so far. */
  received: () => string;
  /** The final answer's status once it came (not a 100 Continue). */
  status: () => number | undefined;
}

/** A raw HTTP/1.1 POST: headers and the first `sendBytes` bytes of `body`; the rest with `socket.write`. */
const sockets: Socket[] = [];
async function post(port: number, path: string, key: string, body: Buffer, sendBytes: number, expectContinue = false): Promise<Sent> {
  const socket = connect(port, "127.0.0.1");
  sockets.push(socket);
  await new Promise((r) => socket.once("connect", r));
  let text = "";
  socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
  socket.on("error", () => {});
  socket.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-access-key: ${key}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n${expectContinue ? "expect: 100-continue\r\n" : ""}\r\n`);
  if (sendBytes > 0) socket.write(body.subarray(0, sendBytes));
  const status = () => {
    const finals = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])).filter((s) => s !== 100);
    return finals[0];
  };
  return { socket, received: () => text, status };
}

const quiet = () => new Promise((r) => setTimeout(r, 300));

describe("the API's body budget (a real listener)", () => {
  let t: TestControlPlane;
  let port: number;
  // Room for two bodies of 1.5 MiB at once, one per caller; one waiting per caller.
  const budget = new BodyBudget({ totalBytes: 3.5 * MiB, perCallerBytes: 2 * MiB, smallBytes: 64 * 1024, maxWaiting: 8, maxWaitingPerCaller: 1, maxWaitMs: 20_000 });
  let other: string;
  // Publishes named "held-*" wait in their handler until the test lets them go.
  let letGo: (() => void) | undefined;
  const handling: string[] = [];
  const prepare: VersionPreparer = async (input, createdBy, bytes) => {
    const name = (input as { name?: string }).name ?? "";
    handling.push(name);
    if (name.startsWith("held-")) await new Promise<void>((r) => (letGo = r));
    return inlinePreparer(input, createdBy, bytes);
  };
  before(async () => {
    t = await startTestControlPlane({ bodyBudget: budget, prepareVersion: prepare });
    other = (await t.user("other")).key;
    await t.cp.app.listen({ port: 0, host: "127.0.0.1" });
    port = (t.cp.app.server.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await t.close();
  });

  it("a caller's second large body waits, unread, until its first is answered; a third is refused 429; another caller is not held back", async () => {
    const a = publishBody("budget-a", 1.5);
    const b = publishBody("budget-b", 1.5);
    // The first body is sent in part only: its room is held while it is read.
    const first = await post(port, "/api/v1/bundles", t.ownerKey, a, 1000);
    await waitFor(() => budget.heldBytes > 0, { timeoutMs: 5_000, message: "the first body holds its room" });
    const second = await post(port, "/api/v1/bundles", t.ownerKey, b, 0, true);
    await quiet();
    assert.equal(second.received(), "", "no 100 Continue and no answer while the caller's share is held");
    assert.equal(budget.waitingCount, 1);

    const third = await post(port, "/api/v1/bundles", t.ownerKey, b, 0, true);
    await waitFor(() => third.status() !== undefined, { timeoutMs: 5_000, message: "the third is answered at once" });
    assert.equal(third.status(), 429);
    assert.match(third.received(), /retry-after: 1/i);
    assert.match(third.received(), /"code":"too_many_requests"/);

    // Another caller's small-enough body fits beside the first: it does not wait behind the caller's own.
    const mine = await post(port, "/api/v1/bundles", other, Buffer.from(JSON.stringify({ name: "x", versionTag: "1", accessLevel: "global", flows: [], description: "y".repeat(MiB) })), Infinity);
    await waitFor(() => mine.status() !== undefined, { timeoutMs: 10_000, message: "the other caller is answered" });
    assert.notEqual(mine.status(), 429);

    first.socket.write(a.subarray(1000));
    await waitFor(() => first.status() !== undefined, { timeoutMs: 60_000, message: "the first publish is answered" });
    assert.equal(first.status(), 201, first.received().slice(0, 400));
    // Room again: the second gets its 100 Continue, sends its body, is answered.
    await waitFor(() => second.received().startsWith("HTTP/1.1 100"), { timeoutMs: 10_000, message: "the second gets its Continue" });
    second.socket.write(b);
    await waitFor(() => second.status() !== undefined, { timeoutMs: 60_000, message: "the second publish is answered" });
    assert.equal(second.status(), 201, second.received().slice(0, 400));
    for (const s of [first, second, third, mine]) s.socket.destroy();
    await waitFor(() => budget.heldBytes === 0 && budget.waitingCount === 0, { timeoutMs: 5_000, message: "every room given back" });
  });

  it("gives the room back when a client leaves while its body is read or while it waits", async () => {
    const a = publishBody("budget-c", 1.5);
    const reading = await post(port, "/api/v1/bundles", t.ownerKey, a, 1000);
    await waitFor(() => budget.heldBytes > 0, { timeoutMs: 5_000, message: "the body holds its room" });
    const waiting = await post(port, "/api/v1/bundles", t.ownerKey, a, 0, true);
    await waitFor(() => budget.waitingCount === 1, { timeoutMs: 5_000, message: "the second waits" });
    waiting.socket.destroy();
    await waitFor(() => budget.waitingCount === 0, { timeoutMs: 5_000, message: "the waiting one is forgotten" });
    reading.socket.destroy();
    await waitFor(() => budget.heldBytes === 0, { timeoutMs: 5_000, message: "the room of the body being read is given back" });
    // And the caller's next large body is served at once.
    const next = await post(port, "/api/v1/bundles", t.ownerKey, publishBody("budget-d", 1.5), Infinity);
    await waitFor(() => next.status() !== undefined, { timeoutMs: 60_000, message: "the next publish is answered" });
    assert.equal(next.status(), 201);
    next.socket.destroy();
  });

  it("keeps the room of a body whose client left while its handler runs, until the handler is done", async () => {
    const body = publishBody("held-1", 1.5);
    const sent = await post(port, "/api/v1/bundles", t.ownerKey, body, Infinity);
    await waitFor(() => handling.includes("held-1"), { timeoutMs: 10_000, message: "the handler runs" });
    sent.socket.destroy();
    await waitFor(async () => (await new Promise<number>((r) => t.cp.app.server.getConnections((_e, n) => r(n)))) === 0, { timeoutMs: 5_000, message: "the server saw the client leave" });
    await quiet();
    assert.ok(budget.heldBytes >= 1.5 * MiB, "what the handler holds is still counted");
    letGo?.();
    await waitFor(() => budget.heldBytes === 0, { timeoutMs: 10_000, message: "given back once the handler is done" });
  });
  it("gives back the room of a body pipelined behind a slow answer when the client hangs up (its answer never gets the connection)", async () => {
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    await new Promise((r) => socket.once("connect", r));
    socket.on("error", () => {});
    // A publish its handler holds (small: not counted), then, pipelined behind it, a large body
    // refused before any handler runs (415 here; a malformed JSON, a 404 or a 413 mid-stream alike).
    const slow = JSON.stringify({ name: "held-2", versionTag: "1", accessLevel: "global", flows: [] });
    socket.write(`POST /api/v1/bundles HTTP/1.1\r\nhost: x\r\nx-access-key: ${t.ownerKey}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(slow)}\r\n\r\n${slow}`);
    await waitFor(() => handling.includes("held-2"), { timeoutMs: 10_000, message: "the slow publish's handler runs" });
    socket.write(`POST /api/v1/bundles HTTP/1.1\r\nhost: x\r\nx-access-key: ${t.ownerKey}\r\ncontent-type: text/plain\r\ncontent-length: ${1.5 * MiB}\r\n\r\n`);
    await waitFor(() => budget.heldBytes === 1.5 * MiB, { timeoutMs: 5_000, message: "the pipelined body holds its room" });
    socket.destroy();
    await waitFor(async () => (await new Promise<number>((r) => t.cp.app.server.getConnections((_e, n) => r(n)))) === 0, { timeoutMs: 5_000, message: "the server saw the client leave" });
    letGo?.();
    await waitFor(() => budget.heldBytes === 0, { timeoutMs: 5_000, message: "the pipelined body's room is given back" });
  });
  it("refuses a body sent to no route on its headers, taking no room (a client with no key held it, as slowly as the body pace let it)", async () => {
    const sent = await post(port, "/api/v1/nothing-here", "no-key", Buffer.alloc(1.5 * MiB), 0, true);
    await waitFor(() => sent.status() !== undefined, { timeoutMs: 5_000, message: "answered on the headers" });
    assert.equal(sent.status(), 404);
    assert.doesNotMatch(sent.received(), /100 Continue/);
    assert.equal(budget.heldBytes, 0);
    assert.equal(budget.waitingCount, 0);
    sent.socket.destroy();
  });
  it("takes no room, and never waits, for the body of a GET (Fastify never reads it)", async () => {
    const a = publishBody("budget-get-a", 1.5);
    const b = publishBody("budget-get-b", 1.5);
    const one = await post(port, "/api/v1/bundles", t.ownerKey, a, 1000);
    const two = await post(port, "/api/v1/bundles", other, b, 1000);
    await waitFor(() => budget.heldBytes === a.length + b.length, { timeoutMs: 5_000, message: "two bodies hold their room" });
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    await new Promise((r) => socket.once("connect", r));
    socket.on("error", () => {});
    let text = "";
    socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
    socket.write(`GET /api/v1/openapi.json HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${1.5 * MiB}\r\n\r\n`);
    await waitFor(() => /^HTTP\/1\.1 \d{3}/.test(text), { timeoutMs: 5_000, message: "the GET is answered at once" });
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.equal(budget.waitingCount, 0);
    for (const s of [one.socket, two.socket, socket]) s.destroy();
    await waitFor(() => budget.heldBytes === 0, { timeoutMs: 5_000, message: "room given back" });
  });
});
