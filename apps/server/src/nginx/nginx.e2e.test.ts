import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { apiCaller, killAll, loadFixture, replicaPidsOf, waitFor } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "../test-process.js";
import { SKIP_WITHOUT_NGINX } from "./test-nginx.js";

interface Run { flowId: string | null; route: string; caller: { userId: string | null; keyId: string | null }; sessionId: string | null; requestId: string; status: number; revision: number | null }

/**
 * FLOWPLANE_GATEWAY_PROXY=nginx end to end: the real server with its own nginx child in front of
 * one gateway worker, a real replica, loopback only. Which path served a call is read from its
 * run id: nginx's are its worker's fixed prefix and a counter (lua.ts), the workers' are random
 * UUIDs, so two calls served by nginx in a row share the first 24 characters and count up by one.
 */
describe("gateway behind nginx (e2e)", { timeout: 300_000, skip: SKIP_WITHOUT_NGINX }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  let project: string;
  let dep: { id: string; endpoints: { http: string } };
  let flowId: string;
  /** nginx's run-id prefix, once a call was seen on its fast path. */
  let prefix = "";

  const api = (method: string, path: string, body?: unknown) => apiCaller(server.url, admin)(method, path, body);
  const depPath = (rest: string) => `/projects/${project}/deployments/${dep.id}${rest}`;
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${dep.endpoints.http}${path}`, { headers: { "x-access-key": admin, ...headers } });
  /** One call, and whether nginx served it itself. */
  const served = async (call: () => Promise<Response>) => {
    const r = await call();
    const body = await r.text();
    const id = r.headers.get("x-request-id") ?? "";
    return { r, body, id, fast: prefix !== "" && id.startsWith(prefix) };
  };
  /** Calls until two in a row are nginx's (the same prefix, the counter one up): the route is on its fast path. */
  const onFastPath = () => waitFor(async () => {
    const a = (await get("/flows")).headers.get("x-request-id") ?? "";
    const b = (await get("/flows")).headers.get("x-request-id") ?? "";
    const same = a.length === 36 && a.slice(0, 24) === b.slice(0, 24) && parseInt(b.slice(24), 16) === parseInt(a.slice(24), 16) + 1;
    if (same) prefix = a.slice(0, 24);
    return same;
  }, { timeoutMs: 15_000, intervalMs: 100, message: "nginx serves the route itself" });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-nginx-"));
    server = await startServer(dir, { FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_GATEWAY_WORKERS: "1", FLOWPLANE_GATEWAY_PROXY: "nginx", FLOWPLANE_WARM_REVISION_SECONDS: "0" });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "fast" })).json.id;
    assert.equal((await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    const r = await api("POST", `/projects/${project}/deployments`, { displayName: "Fast", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    await waitFor(async () => (await api("GET", depPath(""))).json.status.phase === "Ready", { timeoutMs: 120_000, intervalMs: 200, message: "Ready" });
    flowId = ((await (await get("/flows")).json()) as { id: string }[])[0]!.id;
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await rm(dir, { recursive: true, force: true });
  });

  it("runs nginx as its own child in a folder only this user enters, and the API through it and the workers", async () => {
    assert.equal((await stat(join(dir, "nginx"))).mode & 0o777, 0o700);
    assert.match(server.out(), /behind nginx pid \d+/);
    assert.equal((await api("GET", "/me")).status, 200);
  });

  it("serves a route on its fast path after the workers' first call, and records those calls as runs; a body naming a session stays with the workers", async () => {
    await onFastPath();
    const fast = await served(() => fetch(`${dep.endpoints.http}/flows/${flowId}/run`, {
      method: "POST", headers: { "x-access-key": admin, "content-type": "application/json" }, body: JSON.stringify({ input_value: "hi" }),
    }));
    assert.deepEqual([fast.r.status, fast.fast], [200, true], fast.body);
    assert.deepEqual([fast.r.headers.get("content-security-policy"), fast.r.headers.get("x-content-type-options")], ["sandbox", "nosniff"]);
    const sess = await served(() => fetch(`${dep.endpoints.http}/flows/${flowId}/run`, {
      method: "POST", headers: { "x-access-key": admin, "content-type": "application/json" }, body: JSON.stringify({ input_value: "hi", session_id: "s-7" }),
    }));
    assert.deepEqual([sess.r.status, sess.fast], [200, false], sess.body);
    const runs = await waitFor(async () => {
      const items = (await api("GET", depPath("/runs?limit=100"))).json.items as Run[];
      const a = items.find((x) => x.requestId === fast.id);
      const b = items.find((x) => x.requestId === sess.id);
      return a && b ? { a, b } : null;
    }, { timeoutMs: 10_000, intervalMs: 100, message: "both calls recorded" });
    assert.deepEqual({ flowId: runs.a.flowId, route: runs.a.route, status: runs.a.status, sessionId: runs.a.sessionId, revision: runs.a.revision }, { flowId, route: "http", status: 200, sessionId: null, revision: 1 });
    assert.ok(runs.a.caller.userId && runs.a.caller.keyId, "the caller is named");
    assert.equal(runs.b.sessionId, "s-7");
  });

  it("leaves a wrong key to the workers (401), and the kill switch too: the change is live without a reload", async () => {
    await onFastPath();
    const wrong = await served(() => fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": "fp_not_a_key_0000000000000000000000000000" } }));
    assert.deepEqual([wrong.r.status, wrong.fast], [401, false], wrong.body);
    const pid = (await readFile(join(dir, "nginx", "nginx.pid"), "utf8")).trim();
    assert.equal((await api("POST", depPath("/disable"), {})).status, 200);
    const off = await waitFor(async () => {
      const x = await served(() => get("/flows"));
      return x.r.status === 503 ? x : null;
    }, { timeoutMs: 5_000, intervalMs: 20, message: "the kill switch answers" });
    assert.deepEqual([off.fast, JSON.parse(off.body).error.code, off.r.headers.get("retry-after")], [false, "deployment_disabled", "300"]);
    for (let i = 0; i < 5; i++) assert.equal((await served(() => get("/flows"))).r.status, 503);
    assert.equal((await api("POST", depPath("/enable"))).status, 200);
    await onFastPath();
    assert.equal((await readFile(join(dir, "nginx", "nginx.pid"), "utf8")).trim(), pid, "the same nginx");
  });
});
