import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { killAll, loadFixture, replicaPidsOf, waitFor } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * Scale to zero (DESIGN 11, phase `Idle`; docs/rate-limits-and-idle.md) end to end through the
 * real server process, its gateway and real replicas on the local driver, with a 3-second idle
 * window: the deployment sleeps (no replica process left, phase Idle, an event), concurrent first
 * requests are held and all served by one wake-up, and an MCP client keeps working across a sleep.
 */
describe("scale to zero on the local driver (e2e)", { timeout: 300_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  let project: string;
  let dep: { id: string; endpoints: { http: string; mcp: string } };

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}/api/v1${path}`, {
      method, headers: { "x-access-key": admin, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, text, json: text ? JSON.parse(text) : undefined };
  };
  const deployment = async () => (await api("GET", `/projects/${project}/deployments/${dep.id}`)).json;
  const events = async () => (await api("GET", `/projects/${project}/deployments/${dep.id}/events?limit=200`)).json as { reason: string; message: string }[];
  const count = async (reason: string) => (await events()).filter((e) => e.reason === reason).length;
  /** Asleep: phase Idle and not one replica process left. */
  const asleep = async (sleeps: number) => {
    await waitFor(async () => (await deployment()).status.phase === "Idle" && (await replicaPidsOf(dir)).length === 0 && (await count("ScaledToZero")) === sleeps,
      { timeoutMs: 60_000, intervalMs: 250, message: `asleep (${sleeps} sleep(s))` });
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-idle-"));
    // Two gateway workers whatever the machine: held requests land on both, and still one wake-up.
    server = await startServer(dir, { FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_GATEWAY_WORKERS: "2" });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "idle" })).json.id;
    assert.equal((await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a bad setting with 400 naming the field", async () => {
    const r = await api("POST", `/projects/${project}/deployments`, {
      displayName: "Bad", bundle: { name: "echo", version: "1" }, networkAccess: "public", runtime: { scaleToZero: { idleMinutes: 0, wakeTimeoutSeconds: 9999 } },
    });
    assert.equal(r.status, 400, r.text);
    const fields = (r.json.error.details as { field: string }[]).map((e) => e.field).sort();
    assert.deepEqual(fields, ["runtime.scaleToZero.idleMinutes", "runtime.scaleToZero.wakeTimeoutSeconds"]);
  });

  it("is off by default; with a 3-second window the deployment sleeps: no replica left, phase Idle, an event", async () => {
    const r = await api("POST", `/projects/${project}/deployments`, {
      displayName: "Sleepy", bundle: { name: "echo", version: "1" }, networkAccess: "public", runtime: { scaleToZero: { idleMinutes: 0.05 } },
    });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    assert.deepEqual(r.json.runtime.scaleToZero, { idleMinutes: 0.05, wakeTimeoutSeconds: 60 });
    await asleep(1);
    const d = await deployment();
    assert.equal(d.status.readyReplicas, 0);
    assert.equal(d.resources.replicas, 1, "the replica count asked is kept");
    assert.match((await events()).find((e) => e.reason === "ScaledToZero")!.message, /every replica is stopped/);
    const other = await api("POST", `/projects/${project}/deployments`, { displayName: "Awake", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
    assert.deepEqual(other.json.runtime.scaleToZero, { idleMinutes: null, wakeTimeoutSeconds: 60 }, "off by default");
    assert.equal((await api("DELETE", `/projects/${project}/deployments/${other.json.id}`)).status, 202);
  });

  it("concurrent first requests are held, not refused: all served, by exactly one wake-up", async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": admin } })));
    const statuses = answers.map((a) => a.status);
    assert.deepEqual(statuses, Array(20).fill(200), `statuses: ${statuses.join(",")}`);
    for (const a of answers) assert.equal(((await a.json()) as unknown[]).length, 1);
    assert.equal(await count("Woken"), 1, "one wake-up for all of them");
    await waitFor(async () => (await deployment()).status.phase === "Ready", { timeoutMs: 30_000, intervalMs: 200, message: "Ready after the wake-up" });
  });

  it("an MCP client (the official SDK) keeps working across a sleep: tools/call before and after", async () => {
    await asleep(2);
    const client = new Client({ name: "idle-e2e", version: "1" });
    // Connecting is a request too: it wakes the deployment.
    await client.connect(new StreamableHTTPClientTransport(new URL(dep.endpoints.mcp), { requestInit: { headers: { "x-access-key": admin } } }));
    const tools = await client.listTools();
    assert.equal(tools.tools.length, 1);
    const before = await client.callTool({ name: tools.tools[0]!.name, arguments: { input_value: "before the sleep" } });
    assert.match(JSON.stringify(before.content), /before the sleep/);
    assert.equal(await count("Woken"), 2);
    await asleep(3);
    // The same client, the same (stateless) session: the call wakes the deployment and is answered.
    const after = await client.callTool({ name: tools.tools[0]!.name, arguments: { input_value: "after the sleep" } });
    assert.match(JSON.stringify(after.content), /after the sleep/);
    assert.equal(await count("Woken"), 3);
    await client.close();
  });
});
