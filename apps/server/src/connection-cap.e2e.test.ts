import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DEFAULT_UID_BASE } from "@flowplane/driver-local";
import { loopbackFlood, waitFor } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * The bound on client connections per process and listener (http/connection-cap.ts), through the
 * real server: with a gateway worker (it counts the connections it holds; a connection handed to
 * the control plane is counted there instead) and without one (the control plane counts its own
 * accepts and its ::1 twin's). Tests send only loopback traffic, which counts against the total
 * (loopback is not bound per address): connection-cap.test.ts and connections.test.ts test the
 * per-address bound. As root, a process under a local deployment's uid is bound per deployment.
 */
describe("connections a process holds at once (e2e)", { timeout: 300_000 }, () => {
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];
  const sockets: Socket[] = [];
  after(async () => {
    for (const s of sockets) s.destroy();
    for (const s of servers) await s.stop().catch(() => undefined);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function start(env: Record<string, string>): Promise<{ server: ServerProcess; admin: string }> {
    const dir = await mkdtemp(join(tmpdir(), "flowplane-conns-"));
    dirs.push(dir);
    const server = await startServer(dir, { FLOWPLANE_MAX_CONNECTIONS: "6", ...env });
    servers.push(server);
    return { server, admin: (await readFile(join(dir, "admin.key"), "utf8")).trim() };
  }

  /** A connection to `port` on `host` that sends `data` (if any) and stays open; what it received, and whether it closed. */
  async function open(port: number, data?: string, host = "127.0.0.1"): Promise<{ socket: Socket; text: () => string; closed: () => boolean }> {
    const socket = connect(port, host);
    sockets.push(socket);
    let text = "";
    let closed = false;
    socket.on("data", (b) => (text += b.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => (closed = true));
    await new Promise<void>((r) => socket.once("connect", () => r()));
    if (data) socket.write(data);
    return { socket, text: () => text, closed: () => closed };
  }

  const hasIPv6Loopback = () => new Promise<boolean>((resolve) => {
    const s = createServer().once("error", () => resolve(false)).listen({ host: "::1", port: 0, ipv6Only: true }, () => s.close(() => resolve(true)));
  });
  const meRequest = (key: string) => `GET /api/v1/me HTTP/1.1\r\nHost: x\r\nx-access-key: ${key}\r\nConnection: keep-alive\r\n\r\n`;
  /** An HTTP answer's status line and error code. */
  const statusOf = (text: string) => `${/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]} ${/"code":"([a-z_]+)"/.exec(text)?.[1] ?? ""}`.trim();

  it("with a worker: connections past the bound are answered 503 and closed; those held and the API are unharmed; a closed one makes room", async () => {
    const { server, admin } = await start({ FLOWPLANE_GATEWAY_WORKERS: "1" });
    // Six connections that send nothing: the worker holds them, waiting for their first line.
    const idle = await Promise.all(Array.from({ length: 6 }, () => open(server.port)));
    const refused = await open(server.port, meRequest(admin));
    await waitFor(() => refused.closed(), { message: "the seventh connection closed" });
    assert.equal(statusOf(refused.text()), "503 unavailable");
    assert.match(refused.text(), /\r\nretry-after: 1\r\n/i);
    assert.ok(idle.every((c) => !c.closed()), "the connections held are kept");
    // One of them sends a request: it is served.
    idle[0]!.socket.write(meRequest(admin));
    await waitFor(() => /\r\n\r\n\{/.test(idle[0]!.text()), { message: "the held connection's request answered" });
    assert.equal(statusOf(idle[0]!.text()), "200");
    // The private listener has a bound of its own: six held there too, the seventh refused.
    await Promise.all(Array.from({ length: 6 }, () => open(server.privatePort)));
    const privateRefused = await open(server.privatePort, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => privateRefused.closed(), { message: "the seventh private connection closed" });
    assert.equal(statusOf(privateRefused.text()), "503 unavailable");
    // Two leave: two new connections are admitted (their requests answered, not refused).
    for (const c of idle.slice(1, 3)) c.socket.destroy();
    await waitFor(async () => (await fetch(`${server.url}/api/v1/me`, { headers: { "x-access-key": admin } })).status === 200, { timeoutMs: 10_000, message: "a new connection served" });
  });

  it("with a worker: API connections are held by the control plane and count there, so they never crowd out gateway calls", async () => {
    const { server, admin } = await start({ FLOWPLANE_GATEWAY_WORKERS: "1" });
    // Six kept-alive API connections: each is handed to the control plane after its first request.
    const api = await Promise.all(Array.from({ length: 6 }, () => open(server.port, meRequest(admin))));
    await waitFor(() => api.every((c) => statusOf(c.text()) === "200"), { message: "six API calls answered" });
    // A seventh: the worker admits it (it holds none of the six any more) and hands it over; the control plane is full.
    const seventh = await open(server.port, meRequest(admin));
    await waitFor(() => seventh.closed(), { message: "the seventh API connection closed" });
    assert.equal(statusOf(seventh.text()), "503 unavailable");
    // The ::1 twin listener is the control plane's own: full as well.
    if (await hasIPv6Loopback()) {
      const twin = await open(server.port, meRequest(admin), "::1");
      await waitFor(() => twin.closed(), { message: "the API connection on ::1 closed" });
      assert.equal(statusOf(twin.text()), "503 unavailable");
    }
    // A gateway path on a new connection is the worker's to hold: answered by the gateway (no such route), not refused.
    const gateway = await open(server.port, `GET /projects/p/apps/a/routes/r/x HTTP/1.1\r\nHost: x\r\nx-access-key: ${admin}\r\n\r\n`);
    await waitFor(() => /\r\n\r\n\{/.test(gateway.text()), { message: "the gateway call answered" });
    assert.equal(statusOf(gateway.text()), "404 not_found", gateway.text());
    // An API request on that same connection is relayed by the worker to the control plane
    // (fallback.ts), on a connection of the worker's own: the control plane counts those too.
    const before = gateway.text().length;
    gateway.socket.write(meRequest(admin));
    await waitFor(() => /\r\n\r\n\{/.test(gateway.text().slice(before)), { message: "the relayed API call answered" });
    assert.equal(statusOf(gateway.text().slice(before)), "503 unavailable", gateway.text().slice(before));
    // One API connection leaves: the control plane has room again.
    api[0]!.socket.destroy();
    await waitFor(async () => (await fetch(`${server.url}/api/v1/me`, { headers: { "x-access-key": admin } })).status === 200, { timeoutMs: 10_000, message: "an API call on a new connection served" });
  });

  it("with a worker: a connection on its way to a stalled control plane still counts in the worker (handles queue until the control plane takes them)", async () => {
    const { server, admin } = await start({ FLOWPLANE_GATEWAY_WORKERS: "1" });
    // The control plane stalled (a long synchronous step stands for it): it takes no handle.
    process.kill(server.child.pid!, "SIGSTOP");
    let calls: Awaited<ReturnType<typeof open>>[] = [];
    try {
      calls = await Promise.all(Array.from({ length: 12 }, () => open(server.port, meRequest(admin))));
      // The worker hands the first over at once (its send completes); the rest wait in the IPC
      // channel's queue, still held by the worker and counted there: past six, refused.
      await waitFor(() => calls.filter((c) => c.closed()).length >= 4, { timeoutMs: 10_000, message: "connections past the bound refused by the worker" });
      for (const c of calls.filter((x) => x.closed())) assert.equal(statusOf(c.text()), "503 unavailable");
    } finally {
      process.kill(server.child.pid!, "SIGCONT");
    }
    // Once it runs again, the ones held are served.
    const held = calls.filter((c) => !c.closed());
    assert.ok(held.length >= 6 && held.length <= 8, `held ${held.length}: the bound of 6, and at most the handles already sent`);
    await waitFor(() => held.every((c) => statusOf(c.text()) === "200" || c.closed()), { timeoutMs: 20_000, message: "the held connections answered" });
    assert.ok(held.filter((c) => statusOf(c.text()) === "200").length >= 6);
  });

  it("as root: a local deployment's processes (its uid) hold at most FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT on each listener, and the admin's API call and another tenant's private gateway call are still served", { skip: process.getuid?.() !== 0 && "needs root: deployments have uids of their own only then" }, async () => {
    const base = DEFAULT_UID_BASE + 5_000_000; // this test's own range: no other suite's replicas in it
    const { server, admin } = await start({ FLOWPLANE_GATEWAY_WORKERS: "1", FLOWPLANE_MAX_CONNECTIONS: "30", FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT: "5", FLOWPLANE_RUNTIME_UID_BASE: String(base) });
    // The attack: a flow's processes, as their deployment's uid, open idle connections from 40
    // source addresses in 127.0.0.0/8 to both listeners, more than the total of 30.
    const floods = [server.port, server.privatePort].map((port) => loopbackFlood({ uid: base + 7, port, count: 40, holdMs: 3_000 }));
    try {
      for (const f of floods) {
        const o = await f.outcome;
        assert.equal(o.held, 5, JSON.stringify(o));
        assert.equal((o["429"] ?? 0) + (o["503"] ?? 0), 35, JSON.stringify(o));
      }
      // Root (the admin's CLI on this machine) on a new connection: served, not 503.
      const me = await open(server.port, meRequest(admin));
      await waitFor(() => /\r\n\r\n\{/.test(me.text()), { message: "the API call answered" });
      assert.equal(statusOf(me.text()), "200", me.text());
      // A call through the private gateway: answered by the gateway (no such route), not refused.
      const call = await open(server.privatePort, `GET /projects/p/apps/a/routes/r/x HTTP/1.1\r\nHost: x\r\nx-access-key: ${admin}\r\n\r\n`);
      await waitFor(() => /\r\n\r\n\{/.test(call.text()), { message: "the private gateway call answered" });
      assert.equal(statusOf(call.text()), "404 not_found", call.text());
    } finally {
      for (const f of floods) f.stop();
    }
  });

  it("without workers: the control plane bounds its own accepts, its ::1 twin's included", async () => {
    const { server, admin } = await start({ FLOWPLANE_GATEWAY_WORKERS: "0", FLOWPLANE_MAX_CONNECTIONS: "4" });
    const held = await Promise.all(Array.from({ length: 3 }, () => open(server.port)));
    const v6 = await hasIPv6Loopback();
    // The fourth on ::1 when this machine has it (the same server behind its twin listener), else on 127.0.0.1.
    held.push(await open(server.port, undefined, v6 ? "::1" : "127.0.0.1"));
    for (const host of v6 ? ["127.0.0.1", "::1"] : ["127.0.0.1"]) {
      const refused = await open(server.port, meRequest(admin), host);
      await waitFor(() => refused.closed(), { message: `the connection past the bound closed (${host})` });
      assert.equal(statusOf(refused.text()), "503 unavailable", host);
    }
    held[3]!.socket.write(meRequest(admin));
    await waitFor(() => /\r\n\r\n\{/.test(held[3]!.text()), { message: "the held connection's request answered" });
    assert.equal(statusOf(held[3]!.text()), "200");
    held[0]!.socket.destroy();
    await waitFor(async () => (await fetch(`${server.url}/api/v1/me`, { headers: { "x-access-key": admin } })).status === 200, { timeoutMs: 10_000, message: "a new connection served" });
  });
});
