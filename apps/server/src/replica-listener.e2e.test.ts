import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { get, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GATEWAY_SECRET_HEADER } from "@flowplane/core";
import { apiCaller, killAll, loadFixture, replicaPidsOf, squatPort, waitFor } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * A local replica's port is free the moment the replica dies; the gateway workers hear of the
 * death over IPC from the control plane, later. Here the control plane is stopped (SIGSTOP) so
 * that "later" lasts: the worker still lists the dead replica, whose port another process has
 * bound. The worker checks each new connection against the listener the driver made for the
 * replica (gateway/forward.ts), so the squatter gets no call and no gateway secret; the call is
 * refused as after a refused connection. Real server, real worker, real replica.
 */
describe("gateway workers: a dead replica's port bound by another process gets nothing (e2e)", { timeout: 300_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  let dep: { id: string; resourceName: string; endpoints: { http: string } };
  let api: ReturnType<typeof apiCaller>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-replica-listener-"));
    server = await startServer(dir, { FLOWPLANE_GATEWAY_WORKERS: "1" });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    api = apiCaller(server.url, admin);
    const project = (await api("POST", "/projects", { name: "listener" })).json.id as string;
    assert.equal((await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    const r = await api("POST", `/projects/${project}/deployments`, { displayName: "Listener", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    await waitFor(async () => (await api("GET", `/projects/${project}/deployments/${dep.id}`)).json.status.phase === "Ready", { timeoutMs: 120_000, intervalMs: 200, message: "Ready" });
  });
  after(async () => {
    if (server?.child.pid) process.kill(server.child.pid, "SIGCONT");
    await server?.stop().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await rm(dir, { recursive: true, force: true });
  });

  it("the worker refuses the connection: 503, the squatter sees no request", async () => {
    const state = JSON.parse(await readFile(join(dir, "deployments", dep.resourceName, "state.json"), "utf8")) as { replicas: { pid: number; port: number; listener?: string }[] };
    const [replica] = state.replicas;
    assert.ok(replica?.listener, "the driver recorded the replica's listener");
    // The worker caches the route for a second and the key for four: one call first, so the
    // calls below need nothing from the stopped control plane but what the worker holds.
    // A connection of its own each time: a kept-alive one the API served belongs to the control
    // plane (the worker hands API connections over), which is about to stop.
    const call = () => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = get(`${dep.endpoints.http}/health`, { agent: false, headers: { "x-access-key": admin }, timeout: 20_000 }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("timeout", () => req.destroy(new Error("no answer in 20 s"))).on("error", reject);
    });
    assert.equal((await call()).status, 200);
    const got: string[] = [];
    let squatter: Server | undefined;
    process.kill(server.child.pid!, "SIGSTOP");
    try {
      process.kill(replica.pid, "SIGKILL");
      squatter = await squatPort(replica.port, (q) => got.push(`${q.method} ${q.url} secret=${q.headers[GATEWAY_SECRET_HEADER] ? "yes" : "no"}`), { everyMs: 5 });
      const { status, body } = await call();
      // 503 "unavailable": the worker tried the replica and its connection was refused. (A
      // stopped control plane asked for anything would be a 504 instead.)
      assert.equal(status, 503, body);
      assert.match(body, /"code":"unavailable"/);
      assert.deepEqual(got, [], "the squatter got no request, and no gateway secret");
    } finally {
      process.kill(server.child.pid!, "SIGCONT");
      squatter?.closeAllConnections();
      squatter?.close();
    }
  });
});
