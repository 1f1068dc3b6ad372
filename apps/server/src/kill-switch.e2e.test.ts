import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { killAll, loadFixture, replicaPidsOf, waitFor } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * The kill switch (DESIGN 11, `Disabled`), end to end through the real server process, its
 * gateway and real replicas on the local driver: disable answers 503 with Retry-After through
 * the gateway while the replicas stay warm (enable serves again at once), or stops them; every
 * change is an event; only editors may flip it.
 */
describe("kill switch: disable and enable a deployment (e2e)", { timeout: 300_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  let project: string;
  let dep: { id: string; endpoints: { http: string } };

  const api = async (method: string, path: string, body?: unknown, key = admin) => {
    const r = await fetch(`${server.url}/api/v1${path}`, {
      method, headers: { "x-access-key": key, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, text, json: text ? JSON.parse(text) : undefined };
  };
  const deployment = async () => (await api("GET", `/projects/${project}/deployments/${dep.id}`)).json;
  const call = () => fetch(`${dep.endpoints.http}/health`, { headers: { "x-access-key": admin } });
  const path = (action: string) => `/projects/${project}/deployments/${dep.id}/${action}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-kill-"));
    server = await startServer(dir, { FLOWPLANE_RESYNC_SECONDS: "2" });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "kill" })).json.id;
    assert.equal((await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    const r = await api("POST", `/projects/${project}/deployments`, { displayName: "Kill", bundle: { name: "echo", version: "1" }, networkAccess: "public", resources: { replicas: 2 } });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    await waitFor(async () => (await deployment()).status.phase === "Ready", { timeoutMs: 120_000, intervalMs: 200, message: "Ready" });
    assert.equal((await call()).status, 200);
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await rm(dir, { recursive: true, force: true });
  });

  it("only editors flip it, and a bad body is a 400", async () => {
    const viewer = (await api("POST", "/users", { name: "watcher", kind: "machine" })).json;
    assert.equal((await api("PUT", `/projects/${project}/members/${viewer.id}`, { role: "viewer" })).status, 200);
    const key = (await api("POST", `/users/${viewer.id}/access-keys`, { expiresInDays: 1 })).json.key;
    assert.equal((await api("POST", path("disable"), {}, key)).status, 403);
    assert.equal((await api("POST", path("enable"), undefined, key)).status, 403);
    const bad = await api("POST", path("disable"), { stopReplicas: "yes" });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.text, /stopReplicas/);
    assert.equal((await deployment()).disabled, null, "nothing was written");
  });

  it("disabled with replicas kept warm: 503 with Retry-After through the gateway, the same replicas live, enable serves again", async () => {
    const pids = (await replicaPidsOf(dir)).sort();
    const r = await api("POST", path("disable"), {});
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status.phase, "Disabled");
    assert.deepEqual({ by: r.json.disabled.by, stopReplicas: r.json.disabled.stopReplicas }, { by: "admin", stopReplicas: false });
    // The gateway caches a route for at most a second.
    const refused = await waitFor(async () => {
      const x = await call();
      return x.status === 503 ? x : null;
    }, { timeoutMs: 5_000, intervalMs: 50, message: "the gateway answers 503" });
    assert.equal(refused.headers.get("retry-after"), "300");
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "deployment_disabled");
    // Disabling again with the same choice changes nothing (no second event).
    assert.equal((await api("POST", path("disable"), {})).status, 200);
    assert.deepEqual((await replicaPidsOf(dir)).sort(), pids, "the replicas are kept warm");
    assert.equal((await deployment()).status.phase, "Disabled", "the reconciler keeps the phase");

    const e = await api("POST", path("enable"));
    assert.equal(e.status, 200, e.text);
    assert.equal(e.json.disabled, null);
    await waitFor(async () => (await call()).status === 200, { timeoutMs: 5_000, intervalMs: 50, message: "served again" });
    await waitFor(async () => (await deployment()).status.phase === "Ready", { timeoutMs: 30_000, intervalMs: 100, message: "Ready again" });
    assert.deepEqual((await replicaPidsOf(dir)).sort(), pids, "the same replicas serve");
    const events = (await api("GET", `/projects/${project}/deployments/${dep.id}/events?limit=100`)).json as { reason: string; message: string }[];
    assert.deepEqual(events.filter((x) => x.reason === "Disabled" || x.reason === "Enabled").map((x) => x.reason), ["Disabled", "Enabled"]);
    assert.match(events.find((x) => x.reason === "Disabled")!.message, /by admin.*kept warm/);
  });

  it("disabled with replicas stopped: every replica exits; enable starts new ones and serves", async () => {
    const before = await replicaPidsOf(dir);
    assert.equal(before.length, 2);
    const generation = (await deployment()).generation;
    const r = await api("POST", path("disable"), { stopReplicas: true });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.disabled.stopReplicas, true);
    await waitFor(async () => (await replicaPidsOf(dir)).length === 0, { timeoutMs: 60_000, intervalMs: 100, message: "every replica stopped" });
    assert.equal((await call()).status, 503);
    const d = await deployment();
    assert.equal(d.status.phase, "Disabled");
    assert.equal(d.generation, generation, "not a change of what runs: no new generation");

    assert.equal((await api("POST", path("enable"))).status, 200);
    await waitFor(async () => (await deployment()).status.phase === "Ready", { timeoutMs: 120_000, intervalMs: 200, message: "Ready after enable" });
    const after = await replicaPidsOf(dir);
    assert.equal(after.length, 2);
    assert.ok(after.every((p) => !before.includes(p)), "new replicas");
    // The gateway caches a route for at most a second: the switch may still read "off" that long.
    await waitFor(async () => (await call()).status === 200, { timeoutMs: 5_000, intervalMs: 50, message: "served again" });
  });
});
