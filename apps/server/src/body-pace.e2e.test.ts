import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { apiCaller, killAll, loadFixture, waitFor } from "@flowplane/testkit";
import { pidsMatching, startServer, type ServerProcess } from "./test-process.js";

/**
 * Request bodies held to a pace (http/body-pace.ts) through the real server: its gateway workers
 * (the default count) and its API, with a 1 s grace (FLOWPLANE_BODY_TIMEOUT_SECONDS) so the
 * test need not wait Node's 300 s: a run whose body keeps coming for several times the grace
 * reaches its replica; a body sent a byte at a time is a 408 on a gateway path and on the API.
 */
describe("request body pace (e2e)", { timeout: 180_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  let runPath: string;
  let resourceName = "none";
  let depPath = "";

  const api = (method: string, path: string, body?: unknown) => apiCaller(server.url, admin)(method, path, body);

  /** A POST on a raw connection: the head, then `chunks` one every `everyMs`; what came back when the connection closed. */
  const send = (path: string, length: number, chunks: string[], everyMs: number, port = server.port) =>
    new Promise<{ text: string; ms: number }>((resolve, reject) => {
      const t0 = Date.now();
      const s = connect(port, "127.0.0.1");
      let text = "";
      let i = 0;
      const timer = setInterval(() => (i < chunks.length && !s.destroyed ? s.write(chunks[i++]!) : clearInterval(timer)), everyMs);
      s.on("data", (b: Buffer) => (text += b.toString("utf8")));
      s.on("error", () => undefined);
      s.once("close", () => {
        clearInterval(timer);
        resolve({ text, ms: Date.now() - t0 });
      });
      s.write(`POST ${path} HTTP/1.1\r\nhost: x\r\nx-access-key: ${admin}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\nconnection: close\r\n\r\n`);
      setTimeout(() => {
        s.destroy();
        reject(new Error(`no close within 30 s; got ${JSON.stringify(text.slice(0, 300))}`));
      }, 30_000).unref();
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-pace-"));
    server = await startServer(dir, { FLOWPLANE_BODY_TIMEOUT_SECONDS: "1" });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    const project = (await api("POST", "/projects", { name: "pace" })).json.id as string;
    assert.equal((await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "project", allowedProjects: [project], flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    const dep = await api("POST", `/projects/${project}/deployments`, { displayName: "Pace", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
    assert.equal(dep.status, 201, dep.text);
    resourceName = dep.json.resourceName;
    depPath = `/projects/${project}/deployments/${dep.json.id}`;
    const deadline = Date.now() + 90_000;
    while ((await api("GET", `/projects/${project}/deployments/${dep.json.id}`)).json.status.phase !== "Ready") {
      assert.ok(Date.now() < deadline, "the deployment did not become Ready");
      await new Promise((r) => setTimeout(r, 200));
    }
    const http = new URL(dep.json.endpoints.http as string);
    const flows = (await (await fetch(`${http}/flows`, { headers: { "x-access-key": admin } })).json()) as { id: string }[];
    runPath = `${http.pathname}/flows/${flows[0]!.id}/run`;
  });
  after(async () => {
    await server?.kill().catch(() => undefined);
    killAll(await pidsMatching(`/${resourceName}/`));
    await rm(dir, { recursive: true, force: true });
  });

  it("a run whose body keeps coming for several times the grace reaches its replica", async () => {
    // 24 KiB in 30 chunks, one every 100 ms: about 3 s at 8 KiB/s, twice the pace.
    const body = JSON.stringify({ input_value: "steady", pad: "x".repeat(24 * 1024) });
    const size = Math.ceil(body.length / 30);
    const chunks = Array.from({ length: 30 }, (_, i) => body.slice(i * size, (i + 1) * size));
    const { text, ms } = await send(runPath, Buffer.byteLength(body), chunks, 100);
    assert.match(text, /^HTTP\/1\.1 200 /, text.slice(0, 300));
    assert.match(text, /"result":"steady"/);
    assert.ok(ms > 2500, `the upload took ${ms} ms`);
  });

  for (const [where, path, port] of [
    ["a gateway path (a worker)", () => runPath, () => server.port],
    ["the API (the control plane)", () => "/api/v1/projects", () => server.port],
    // Handed to the control plane's private Fastify server, which reads the body for its 404.
    ["the private listener (the control plane)", () => "/nothing-here", () => server.privatePort],
  ] as const) {
    it(`a body sent a byte at a time is answered 408 on ${where}, its connection closed`, async () => {
      const { text, ms } = await send(path(), 200, Array.from({ length: 200 }, () => " "), 300, port());
      assert.match(text, /^HTTP\/1\.1 408 /, text.slice(0, 300));
      assert.match(text, /"code":"request_timeout"/);
      // The grace, and the check every 5 s.
      assert.ok(ms < 15_000, `closed after ${ms} ms`);
    });
  }

  it("the run history records the cut run as the caller saw it: 408 request_timeout, not a client that left (499)", async () => {
    // The gateway case above sent one such run; the history is written in batches, every second.
    const runs = await waitFor(async () => {
      const items = (await api("GET", `${depPath}/runs?status=4xx`)).json.items as { status: number; error?: { code: string } }[];
      return items.length > 0 ? items : null;
    }, { timeoutMs: 15_000, intervalMs: 250, message: "the cut run in the run history" });
    assert.deepEqual(runs.map((r) => [r.status, r.error?.code]), [[408, "request_timeout"]]);
  });
});

/** A process without the API role: its public listener is a bare Fastify server of serve.ts's own. */
describe("request body pace without the API role (e2e)", { timeout: 120_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-pace-gw-"));
    server = await startServer(dir, { FLOWPLANE_ROLES: "gateway", FLOWPLANE_BODY_TIMEOUT_SECONDS: "1" });
  });
  after(async () => {
    await server?.kill().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it("a body sent a byte at a time is answered 408 in the one error shape on the public listener", async () => {
    const { text } = await new Promise<{ text: string }>((resolve, reject) => {
      const s = connect(server.port, "127.0.0.1");
      let text = "";
      const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write(" ")), 300);
      s.on("data", (b: Buffer) => (text += b.toString("utf8")));
      s.on("error", () => undefined);
      s.once("close", () => {
        clearInterval(timer);
        resolve({ text });
      });
      s.write("POST /nothing-here HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 200\r\nconnection: close\r\n\r\n");
      setTimeout(() => {
        s.destroy();
        reject(new Error(`no close within 30 s; got ${JSON.stringify(text.slice(0, 300))}`));
      }, 30_000).unref();
    });
    assert.match(text, /^HTTP\/1\.1 408 /, text.slice(0, 300));
    assert.match(text, /"code":"request_timeout"/, text.slice(0, 300));
  });
});
