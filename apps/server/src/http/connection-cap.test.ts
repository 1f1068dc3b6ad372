import assert from "node:assert/strict";
import { connect, type Server, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { waitFor } from "@flowplane/testkit";
import { ConnectionCap, addressKey, admitConnection, type ConnectionAdmission } from "./connection-cap.js";
import { servedBehind } from "./capped-test-server.js";

const ok = (a: ConnectionAdmission) => {
  assert.ok(a.ok, a.ok ? "" : `refused: ${a.status} ${a.message}`);
  return a.release;
};

describe("ConnectionCap", () => {
  it("holds at most `total` connections, then refuses with 503 until one is released", () => {
    const cap = new ConnectionCap({ total: 3, perAddress: 0 });
    const releases = ["203.0.113.1", "203.0.113.2", "203.0.113.3"].map((a) => ok(cap.admit(a)));
    const refused = cap.admit("198.51.100.9");
    assert.deepEqual(refused.ok ? null : [refused.status, refused.code], [503, "unavailable"]);
    releases[1]!();
    releases[1]!(); // a second release frees nothing more
    ok(cap.admit("198.51.100.9"));
    assert.equal(cap.admit("198.51.100.10").ok, false);
    assert.equal(cap.count(), 3);
  });

  it("holds at most `perAddress` from one address, and other addresses are not held back by it", () => {
    const cap = new ConnectionCap({ total: 100, perAddress: 2 });
    const first = ok(cap.admit("203.0.113.7"));
    ok(cap.admit("203.0.113.7"));
    const refused = cap.admit("203.0.113.7");
    assert.deepEqual(refused.ok ? null : [refused.status, refused.code], [429, "too_many_connections"]);
    ok(cap.admit("203.0.113.8"));
    first();
    ok(cap.admit("203.0.113.7"));
    assert.equal(cap.count("203.0.113.7"), 2);
    assert.equal(cap.count(), 3);
  });

  it("counts an IPv4-mapped address as its IPv4 address, however it is written, and an IPv6 /64 as one address", () => {
    assert.equal(addressKey("::ffff:203.0.113.7"), "203.0.113.7");
    assert.equal(addressKey("::FFFF:cb00:7107"), "203.0.113.7");
    assert.equal(addressKey("2001:db8::1"), addressKey("2001:0db8:0:0:ffff::2"));
    assert.notEqual(addressKey("2001:db8::1"), addressKey("2001:db8:0:1::1"));
    assert.equal(addressKey("2001:db8::5"), addressKey("2001:db8::1.2.3.4"));
    const cap = new ConnectionCap({ total: 100, perAddress: 2 });
    ok(cap.admit("203.0.113.7"));
    ok(cap.admit("::ffff:203.0.113.7"));
    assert.equal(cap.admit("::ffff:cb00:7107").ok, false);
    ok(cap.admit("2001:db8::1"));
    ok(cap.admit("2001:db8::ffff:1"));
    assert.equal(cap.admit("2001:db8::abcd").ok, false, "a third address of the same /64");
    ok(cap.admit("2001:db8:0:1::1"));
    // Where the clients are pods (the private listener): each address its own, a node's /64 shared by many.
    const pods = new ConnectionCap({ total: 100, perAddress: 1, ipv6Prefix: 128 });
    ok(pods.admit("fd00:10:244:1::a"));
    ok(pods.admit("fd00:10:244:1::b"));
    assert.equal(pods.admit("fd00:10:244:1:0:0:0:a").ok, false, "the same address, written out");
    ok(pods.admit("::ffff:10.0.0.7"));
    assert.equal(pods.admit("10.0.0.7").ok, false);
  });

  it("does not bound loopback clients by address (they are this machine, one address however many), only by the total", () => {
    const cap = new ConnectionCap({ total: 5, perAddress: 1 });
    for (const a of ["127.0.0.1", "127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"]) ok(cap.admit(a));
    assert.equal(cap.admit("127.0.0.1").ok, false, "the total still holds");
    assert.notEqual(addressKey("::2"), addressKey("::1"), "only ::1 of ::/64 is loopback");
  });

  it("with perAddress 0 bounds the total alone", () => {
    const cap = new ConnectionCap({ total: 3, perAddress: 0 });
    for (let i = 0; i < 3; i++) ok(cap.admit("203.0.113.7"));
    const refused = cap.admit("203.0.113.7");
    assert.equal(refused.ok ? null : refused.status, 503);
  });
});

describe("admitConnection and capConnections, on real sockets", () => {
  const servers: Server[] = [];
  const clients: Socket[] = [];
  after(() => {
    for (const c of clients) c.destroy();
    for (const s of servers) s.close();
  });

  /** A loopback server answering "hello\n" to each admitted connection, behind `cap`. */
  const serve = (cap: ConnectionCap) => servedBehind(cap, servers);

  /** Connects and collects what the server sends until it closes (or the test ends). */
  function client(port: number): { socket: Socket; text: () => string; closed: Promise<void> } {
    const socket = connect(port, "127.0.0.1");
    clients.push(socket);
    let text = "";
    socket.on("data", (b) => (text += b.toString()));
    socket.on("error", () => {});
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    return { socket, text: () => text, closed };
  }

  it("answers the connection past the bound with the error shape and closes it, serves the ones before, and a new one once one left", async () => {
    const cap = new ConnectionCap({ total: 2, perAddress: 0 });
    const port = await serve(cap);
    const [a, b] = [client(port), client(port)];
    await waitFor(() => a.text() === "hello\n" && b.text() === "hello\n", { message: "both served" });
    const c = client(port);
    c.socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    await c.closed;
    assert.match(c.text(), /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(c.text(), /\r\nretry-after: 1\r\n/);
    assert.deepEqual(JSON.parse(c.text().split("\r\n\r\n")[1]!), { error: { code: "unavailable", message: "the server holds as many connections as it may; retry shortly" } });
    assert.equal(cap.count(), 2, "the refused one was never counted");
    a.socket.destroy();
    await waitFor(() => cap.count() === 1, { message: "the closed connection released" });
    const d = client(port);
    await waitFor(() => d.text() === "hello\n", { message: "a new connection served" });
  });

  it("lets a refused connection linger for its answer at most REFUSED_LINGER_MS, and closes refused ones past the lingering bound unanswered", async () => {
    const cap = new ConnectionCap({ total: 1, perAddress: 0 }, { maxLingering: 1 });
    const port = await serve(cap);
    const held = client(port);
    await waitFor(() => held.text() === "hello\n");
    // Refused, answered, and silent after it: it keeps its own half open (the server's half-close
    // does not close it), so only the server's linger timer ends its wait.
    const lingering = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    clients.push(lingering);
    lingering.on("error", () => {});
    let lingeringText = "";
    lingering.on("data", (b) => (lingeringText += b.toString()));
    await waitFor(() => lingeringText.includes("503"), { message: "the first refused one answered" });
    // While it lingers: closed without an answer.
    const second = client(port);
    await second.closed;
    assert.equal(second.text(), "", "no answer past the lingering bound");
    // Once the timer ended the wait, a refused connection is answered again (the client never closed).
    const answered = await waitFor(async () => {
      const next = client(port);
      await next.closed;
      return next.text().includes("503");
    }, { timeoutMs: 5_000, intervalMs: 100, message: "a refused connection answered again after REFUSED_LINGER_MS" });
    assert.equal(answered, true);
  });

  it("releases a connection destroyed before it was admitted (no count left behind)", async () => {
    const cap = new ConnectionCap({ total: 1, perAddress: 0 });
    const socket = connect(1, "127.0.0.1"); // never connects
    socket.on("error", () => {});
    socket.destroy();
    let admitted = false;
    admitConnection(cap, socket, () => (admitted = true), "203.0.113.7");
    assert.ok(admitted);
    await new Promise((r) => setImmediate(r));
    assert.equal(cap.count(), 0);
  });
});
