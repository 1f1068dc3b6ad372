import assert from "node:assert/strict";
import { connect, type AddressInfo, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";
import { PROJECT, APP, principal, route, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";

/**
 * A refused request's body is never read: the gateway answers on the headers (401, 404, 413)
 * without sending `100 Continue`, and closes the connection instead of draining what the client
 * still sends. The API refuses an unauthenticated request the same way. Raw sockets, so the test sees exactly what the gateway writes and when.
 */
const NINE_MIB = 9 * 1024 * 1024;
const LIMIT = 64 * 1024;

/** A raw HTTP/1.1 exchange: writes `head` (and `body`, if given), collects what comes back until the socket ends. */
function open(url: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => resolve(s));
    s.once("error", reject);
  });
}
function readUntil(s: Socket, what: RegExp, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(text.slice(0, 300))}`)); }, ms);
    const onData = (b: Buffer) => { text += b.toString("latin1"); if (what.test(text)) { cleanup(); resolve(text); } };
    const onEnd = () => {
      cleanup();
      if (what.test(text)) resolve(text);
      else reject(new Error(`socket ended; got ${JSON.stringify(text.slice(0, 300))}`));
    };
    const cleanup = () => { clearTimeout(timer); s.off("data", onData); s.off("end", onEnd); };
    s.on("data", onData);
    s.once("end", onEnd);
  });
}
const closed = (s: Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once("close", () => resolve())));
const head = (path: string, headers: Record<string, string>) =>
  `POST ${path} HTTP/1.1\r\nHost: gw\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;

describe("gateway: refusal before the body", () => {
  let g: TestGateway;
  let up: Upstream;
  const path = `/projects/${PROJECT}/apps/${APP}/routes/r1/echo`;
  before(async () => {
    g = await startGateway({ bodyLimit: LIMIT });
    up = await startUpstream((_req, res, body) => res.end(`got ${body.length}`));
    g.keys.set("k", principal("u1"));
    g.routes.set("r1", route("r1", { resourceName: "dep" }));
    g.endpoints.set("dep", [up.url]);
  });
  after(async () => {
    await g?.close();
    await up?.close();
  });

  test("Expect: 100-continue without a key: 401 at once, no 100 Continue, connection closed", async () => {
    const s = await open(g.url);
    s.write(head(path, { "content-type": "application/json", "content-length": String(NINE_MIB), expect: "100-continue" }));
    const answer = await readUntil(s, /\r\n\r\n[\s\S]*"unauthenticated"/);
    assert.match(answer, /^HTTP\/1\.1 401 /, "the first thing written is the 401");
    assert.doesNotMatch(answer, /100 Continue/);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    await closed(s);
    assert.equal(up.seen.length, 0);
  });

  test("a 9 MiB body sent without waiting: 401 while most of it is unsent, and the gateway does not drain the rest", async () => {
    const s = await open(g.url);
    s.write(head(path, { "content-type": "application/json", "content-length": String(NINE_MIB) }));
    s.write(Buffer.alloc(16 * 1024, 0x20)); // a little of the body, then nothing more
    const answer = await readUntil(s, /"unauthenticated"/);
    assert.match(answer, /^HTTP\/1\.1 401 /);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    await closed(s); // the gateway ended the connection (after a lingering close of at most 2 s): it is not waiting for the other 9 MiB
    assert.equal(up.seen.length, 0);
  });

  test("an unknown route: 404 without reading the body either", async () => {
    const s = await open(g.url);
    s.write(head(`/projects/${PROJECT}/apps/${APP}/routes/nope`, { "x-access-key": "k", "content-length": String(NINE_MIB), expect: "100-continue" }));
    const answer = await readUntil(s, /"not_found"/);
    assert.match(answer, /^HTTP\/1\.1 404 /);
    await closed(s);
  });

  test("a declared body over the limit: 413 from the gateway, no 100 Continue, never 502", async () => {
    const s = await open(g.url);
    s.write(head(path, { "x-access-key": "k", "content-length": String(LIMIT + 1), expect: "100-continue" }));
    const answer = await readUntil(s, /"payload_too_large"/);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    await closed(s);
    assert.equal(up.seen.length, 0);
  });

  test("an admitted request with Expect: 100-continue gets 100 Continue, then its answer", async () => {
    const s = await open(g.url);
    const body = "x".repeat(LIMIT);
    s.write(head(path, { "x-access-key": "k", "content-length": String(body.length), expect: "100-continue" }));
    assert.match(await readUntil(s, /\r\n\r\n/), /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    s.write(body);
    const answer = await readUntil(s, new RegExp(`got ${LIMIT}`));
    assert.match(answer, /HTTP\/1\.1 200 /);
    s.destroy();
  });
});

describe("API: refusal before the body", () => {
  let t: TestControlPlane;
  let url: string;
  before(async () => {
    t = await startTestControlPlane();
    await t.cp.app.listen({ host: "127.0.0.1", port: 0 });
    url = `http://127.0.0.1:${(t.cp.app.server.address() as AddressInfo).port}`;
  });
  after(() => t?.close());

  test("an unauthenticated 9 MiB publish: 401 on the headers, no 100 Continue, connection closed", async () => {
    for (const expect of [{ expect: "100-continue" }, {}] as Record<string, string>[]) {
      const s = await open(url);
      s.write(head("/api/v1/bundles", { "content-type": "application/json", "content-length": String(NINE_MIB), ...expect }));
      if (!("expect" in expect)) s.write(Buffer.alloc(16 * 1024, 0x20));
      const answer = await readUntil(s, /"unauthenticated"/);
      assert.match(answer, /^HTTP\/1\.1 401 /);
      assert.match(answer, /\r\nconnection: close\r\n/i);
      await closed(s);
    }
  });

  test("an authenticated request with Expect: 100-continue still works", async () => {
    const s = await open(url);
    const body = JSON.stringify({ name: "continued" });
    s.write(head("/api/v1/projects", { "x-access-key": t.ownerKey, "content-type": "application/json", "content-length": String(body.length), expect: "100-continue" }));
    assert.match(await readUntil(s, /\r\n\r\n/), /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    s.write(body);
    assert.match(await readUntil(s, /"continued"/), /HTTP\/1\.1 201 /);
    s.destroy();
  });
});
