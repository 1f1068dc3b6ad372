import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer as createNetServer } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { DEFAULT_UID_BASE, DEFAULT_UID_COUNT } from "@flowplane/driver-local";
import { freePortBelowEphemeral, startServer } from "./test-process.js";

/**
 * Local replicas share the machine's network and outlive a restart of the control plane: a
 * flow's code bound the control plane's public port while it was down, and the restart failed
 * with EADDRINUSE while the tenant's code answered the control plane's clients (and read their
 * keys). The real server, on its default replica uid range, with a process of a replica's uid on
 * its port: the server ends that uid's processes and serves its port itself.
 */
it("a replica's process on the control plane's port when it starts: ended, and the port is the control plane's (root only)", { skip: process.getuid?.() !== 0 && "only root gives replicas uids of their own" }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-squat-"));
  const port = await freePortBelowEphemeral();
  const ports = { port, privatePort: await freePortBelowEphemeral([port]) };
  // A uid of the range no deployment of a concurrent test is likely to hold (they take a hash of their name).
  const uid = DEFAULT_UID_BASE + DEFAULT_UID_COUNT - 3;
  const squatter = spawn(process.execPath, ["-e", `require("node:http").createServer((q, s) => s.end('{"fake":"control plane"}')).listen({ host: "127.0.0.1", port: ${ports.port} }, () => console.log("bound"))`], { uid, gid: uid, stdio: ["ignore", "pipe", "inherit"] });
  const ended = new Promise<NodeJS.Signals | null>((r) => squatter.once("exit", (_code, signal) => r(signal)));
  try {
    await new Promise<void>((resolve, reject) => {
      squatter.stdout.once("data", () => resolve());
      squatter.once("exit", (code) => reject(new Error(`the squatter exited (${code})`)));
    });
    assert.equal(await (await fetch(`http://127.0.0.1:${ports.port}/api/v1/openapi.json`)).text(), `{"fake":"control plane"}`, "the squatter answers before the start");
    const server = await startServer(dir, {}, ports);
    try {
      assert.equal(await ended, "SIGKILL");
      const res = await fetch(`${server.url}/api/v1/openapi.json`);
      assert.equal(res.status, 200);
      assert.notEqual(await res.text(), '{"fake":"control plane"}');
      assert.match(server.out(), /a replica was listening on this port while flowplane was down/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  } finally {
    squatter.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * Serving on 127.0.0.1 only left [::1] on the same port to anyone: a flow's code listened there
 * while flowplane ran, and a client that resolves `localhost` to ::1 (the banner's and the CLI's
 * default URL is http://localhost:8080) sent it its requests and keys.
 */
it("the same ports on ::1 are the control plane's too: served by it, and no replica's uid can listen there", async (ctx) => {
  const free = await new Promise<boolean>((resolve) => {
    const s = createNetServer().once("error", () => resolve(false)).listen({ host: "::1", port: 0, ipv6Only: true }, () => s.close(() => resolve(true)));
  });
  if (!free) return ctx.skip("this machine has no IPv6 loopback");
  const dir = await mkdtemp(join(tmpdir(), "flowplane-twin-"));
  const server = await startServer(dir, { FLOWPLANE_GATEWAY_WORKERS: "2" });
  try {
    // Each port answers on ::1 as on 127.0.0.1 (the public one serves the API, the private one does not).
    for (const [port, status] of [[server.port, 200], [server.privatePort, 404]] as const) {
      const [v4, v6] = await Promise.all(["127.0.0.1", "[::1]"].map(async (h) => {
        const res = await fetch(`http://${h}:${port}/api/v1/openapi.json`);
        return `${res.status} ${await res.text()}`;
      }));
      assert.equal(v6, v4, `[::1]:${port}`);
      assert.ok(v6!.startsWith(`${status} `), v6!.slice(0, 100));
    }
    // A process of the uid a deployment would get (root only: elsewhere any process of the user could try, with the same result).
    const uid = process.getuid?.() === 0 ? { uid: DEFAULT_UID_BASE + DEFAULT_UID_COUNT - 4, gid: DEFAULT_UID_BASE + DEFAULT_UID_COUNT - 4 } : {};
    const tryListen = spawn(process.execPath, ["-e", `require("node:net").createServer().once("error", (e) => { console.log(e.code); process.exit(0); }).listen({ host: "::1", port: ${server.port}, ipv6Only: true }, () => { console.log("bound"); process.exit(0); })`], { ...uid, stdio: ["ignore", "pipe", "inherit"] });
    const said = await new Promise<string>((resolve) => {
      let out = "";
      tryListen.stdout.on("data", (b: Buffer) => (out += b.toString()));
      tryListen.once("exit", () => resolve(out.trim()));
    });
    assert.equal(said, "EADDRINUSE");
  } finally {
    assert.equal(await server.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  }
});
