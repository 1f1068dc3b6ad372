import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePortBelowEphemeral } from "@flowplane/testkit";
import { runCli, type CliResult } from "./testing/cli.js";
import { startTestServer, type TestServer } from "./testing/server.js";

/** What reached a listener that is not the flowplane server: every request's method, path and headers. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A loopback listener with `answer` for every request, recording what it was sent. */
async function listener(answer: (req: Seen) => Promise<{ status: number; body: string }>, at: { host?: string; port?: number } = {}): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const s = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      seen.push(s);
      void answer(s).then((a) => res.writeHead(a.status, { "content-type": "application/json" }).end(a.body));
    });
  });
  await new Promise<void>((r) => server.listen({ port: at.port ?? 0, host: at.host ?? "127.0.0.1", ipv6Only: (at.host ?? "").includes(":") }, r));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

/** An answer that relays each request, as it came, to the server at `target()`. */
const relayTo = (target: () => string) => async (s: Seen): Promise<{ status: number; body: string }> => {
  const headers = Object.fromEntries(Object.entries(s.headers).filter(([k]) => k !== "host" && k !== "content-length" && k !== "connection")) as Record<string, string>;
  const res = await fetch(`${target()}${s.url}`, { method: s.method, headers, ...(s.body ? { body: s.body } : {}) });
  return { status: res.status, body: await res.text() };
};

/**
 * With no key given, the CLI uses the admin key a local server wrote in its data folder for a
 * server on localhost. It sends that key only to the server that proves it holds it (the
 * admin-key challenge, core/api admin-proof.ts): never to another program on the port, whether it
 * answers like a server or relays to the real one on another port.
 */
describe("flowplane CLI: the local admin key goes only to the server that holds it", { timeout: 180_000 }, () => {
  let server: TestServer;
  let home: string;
  const fp = (server: string, args: string[]): Promise<CliResult> =>
    runCli(args, { env: { HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_SERVER: server, FLOWPLANE_DATA_DIR: dataDir() }, cwd: home });
  const dataDir = () => server.dataDir;
  const noKeyIn = (seen: Seen[]) => {
    for (const s of seen) {
      assert.ok(!JSON.stringify(s.headers).includes(server.adminKey.slice(3)), `${s.method} ${s.url} carried the admin key`);
      assert.ok(!s.body.includes(server.adminKey.slice(3)), `${s.method} ${s.url} carried the admin key in its body`);
    }
  };

  before(async () => {
    server = await startTestServer();
    home = await mkdtemp(join(tmpdir(), "fp-cli-adminkey-"));
  });
  after(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("the server that wrote the key proves it and gets it, as localhost, 127.0.0.1 or [::1] (the loopback twin it holds)", async () => {
    const port = new URL(server.url).port;
    for (const host of ["127.0.0.1", "localhost", "[::1]"]) {
      const r = await fp(`http://${host}:${port}`, ["projects", "list", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), []);
    }
  });

  it("a program squatting the port, answering as a server would, gets a challenge and never the key", async () => {
    const squat = await listener(async (s) => ({ status: 200, body: s.url.includes("proof") ? JSON.stringify({ port: 1, proof: "x" }) : "{\"items\":[],\"nextCursor\":null}" }));
    try {
      const r = await fp(`http://localhost:${squat.port}`, ["projects", "list"]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /the admin key in .*admin\.key was not sent: the server at http:\/\/localhost:\d+ did not prove that it holds it/);
      assert.deepEqual(squat.seen.map((s) => `${s.method} ${s.url}`), ["POST /api/v1/admin-key/proof"], "one challenge, then nothing");
      noKeyIn(squat.seen);
      // Nor on login, which would have saved a context for it.
      const login = await fp(`http://localhost:${squat.port}`, ["login"]);
      assert.equal(login.code, 4, login.stderr);
      noKeyIn(squat.seen);
      // And a squatter that answers the challenge with an error, or with the right port and a guessed proof.
      const guess = await listener(async (s) => ({ status: 200, body: JSON.stringify({ port: Number(s.headers.host?.split(":")[1]), proof: "A".repeat(43) }) }));
      const refuses = await listener(async () => ({ status: 404, body: "{}" }));
      try {
        for (const l of [guess, refuses]) {
          const x = await fp(`http://localhost:${l.port}`, ["projects", "list"]);
          assert.equal(x.code, 4, x.stderr);
          assert.match(x.stderr, /was not sent/);
          noKeyIn(l.seen);
        }
      } finally {
        guess.server.close();
        refuses.server.close();
      }
    } finally {
      squat.server.close();
    }
  });

  it("a program relaying every request to the real server on another port gets the server's proof for that port, and never the key", async () => {
    const relay = await listener(relayTo(() => server.url));
    try {
      const r = await fp(`http://localhost:${relay.port}`, ["projects", "list"]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, new RegExp(`its proof is for port ${new URL(server.url).port}, not ${relay.port}: something on port ${relay.port} relays to it`));
      assert.equal(relay.seen.length, 1);
      noKeyIn(relay.seen);
      // A key given explicitly is the user's choice, and goes where they say, relay or not.
      const given = await runCli(["projects", "list", "-o", "json"], { env: { HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_SERVER: `http://localhost:${relay.port}`, FLOWPLANE_ACCESS_KEY: server.adminKey }, cwd: home });
      assert.equal(given.code, 0, given.stderr);
    } finally {
      relay.server.close();
    }
  });

  it("a program holding the same port on the other loopback family first, relaying to the real server, never gets the key", async () => {
    // The real server on 127.0.0.1:P finds [::1]:P taken (it warns) and holds only the former.
    const port = await freePortBelowEphemeral();
    let real: TestServer | undefined;
    const twin = await listener(relayTo(() => real!.url), { host: "::1", port });
    try {
      real = await startTestServer({}, { port, privatePort: await freePortBelowEphemeral([port]) });
      const env = { HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_DATA_DIR: real.dataDir };
      // Its proof is right, for that port; but it names 127.0.0.1 only, and [::1] is where the CLI was sent.
      const r = await runCli(["projects", "list"], { env: { ...env, FLOWPLANE_SERVER: `http://[::1]:${port}` }, cwd: home });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, new RegExp(`::1 names ::1, where it does not listen on port ${port} \\(it holds 127\\.0\\.0\\.1\\)`));
      assert.equal(twin.seen.length, 1, "the challenge only");
      for (const s of twin.seen) assert.ok(!JSON.stringify(s.headers).includes(real.adminKey.slice(3)), "the key never reached the twin address");
      // The address the server holds still gets it.
      const direct = await runCli(["projects", "list", "-o", "json"], { env: { ...env, FLOWPLANE_SERVER: `http://127.0.0.1:${port}` }, cwd: home });
      assert.equal(direct.code, 0, direct.stderr);
    } finally {
      await real?.stop();
      twin.server.close();
    }
  });

  it("with nothing on the port, the CLI says it cannot reach the server (exit 8), as before", async () => {
    const gone = await listener(async () => ({ status: 200, body: "{}" }));
    const port = gone.port;
    await new Promise((r) => gone.server.close(r));
    const r = await fp(`http://localhost:${port}`, ["projects", "list"]);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /cannot reach the flowplane server/);
  });
});
