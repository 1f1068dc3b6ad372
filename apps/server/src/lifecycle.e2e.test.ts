import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createPgliteClient } from "@flowplane/store";
import { killAll, loadFixture, startFakeOpenAI, waitFor as poll, type FakeOpenAI } from "@flowplane/testkit";
import { pidsMatching, startServer, type ServerProcess } from "./test-process.js";

/**
 * The whole story on one machine, through the real `flowplane-server` process (as `npm start`
 * runs it): publish, deploy with 2 replicas, call over HTTP and MCP through the gateway, edit a
 * credential and change the version under load with zero failed requests, survive a killed
 * replica and a SIGKILLed control plane in the middle of a rolling update, undeploy.
 */
describe("lifecycle on one machine (e2e)", { timeout: 600_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let llm: FakeOpenAI;
  let admin: string;
  let machineKey: string;
  let otherKey: string;
  let project: string;
  let dep: { id: string; resourceName: string; endpoints: { http: string; mcp: string } };
  let flowId: string;

  const env = () => ({ FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_API_BASE", OPENAI_API_BASE: llm.baseUrl, FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_LOG_LEVEL: "info",
    // It counts replica processes through rolling updates: no warm replica of the revision before
    // (instant rollback is tested in live-revisions.e2e).
    FLOWPLANE_WARM_REVISION_SECONDS: "0" });
  const logs: string[] = [];
  const api = async (method: string, path: string, body?: unknown, key = admin) => {
    const r = await fetch(`${server.url}/api/v1${path}`, {
      method, headers: { "x-access-key": key, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined, text };
  };
  const deployment = async () => (await api("GET", `/projects/${project}/deployments/${dep.id}`)).json;
  const waitFor = (cond: (d: { status: { phase: string; observedGeneration: number; readyReplicas: number }; generation: number }) => boolean, what: string, ms = 90_000) =>
    poll(async () => {
      const d = await deployment();
      if (!cond(d)) throw new Error(`status ${JSON.stringify(d.status)}`); // what a timeout reports
      return d;
    }, { timeoutMs: ms, intervalMs: 200, message: what });
  const run = (key = machineKey, url = dep.endpoints.http) => fetch(`${url}/flows/${flowId}/run`, {
    method: "POST", headers: { "x-access-key": key, "content-type": "application/json" }, body: JSON.stringify({ input_value: "ping", session_id: `s${Math.random()}` }),
  });
  /** A steady, bounded load: 4 workers until `stop` resolves (at most 5,000 requests or 120 s). */
  const underLoad = async (change: () => Promise<void>) => {
    let done = false;
    const failures: string[] = [];
    let count = 0;
    const deadline = Date.now() + 120_000;
    const worker = async () => {
      while (!done && count < 5000 && Date.now() < deadline) {
        count++;
        try {
          const r = await run();
          const body = (await r.json()) as { success?: boolean };
          if (r.status !== 200 || body.success !== true) failures.push(`${r.status} ${JSON.stringify(body).slice(0, 200)}`);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    try {
      await change();
    } finally {
      done = true;
      await Promise.all(workers);
    }
    return { failures, count };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-e2e-"));
    llm = await startFakeOpenAI();
    server = await startServer(dir, env());
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "e2e" })).json.id;
    const otherProject = (await api("POST", "/projects", { name: "elsewhere" })).json.id;
    const bot = (await api("POST", "/users", { name: "app", kind: "machine" })).json.id;
    assert.equal((await api("PUT", `/projects/${project}/members/${bot}`, { role: "editor" })).status, 200);
    machineKey = (await api("POST", `/users/${bot}/access-keys`, { expiresInDays: 1 })).json.key;
    const stranger = (await api("POST", "/users", { name: "stranger", kind: "machine" })).json.id;
    await api("PUT", `/projects/${otherProject}/members/${stranger}`, { role: "owner" });
    otherKey = (await api("POST", `/users/${stranger}/access-keys`, { expiresInDays: 1 })).json.key;
    for (const tag of ["v1", "v2"]) {
      const r = await api("POST", "/bundles", { name: "chat", versionTag: tag, accessLevel: "project", allowedProjects: [project], flows: [loadFixture("memory-chatbot")] }, machineKey);
      assert.equal(r.status, 201, r.text);
    }
  });

  after(async () => {
    // Whatever happened, leave no process behind.
    await server?.kill().catch(() => undefined);
    killAll(await pidsMatching(`/${dep?.resourceName ?? "none"}/`));
    killAll(await pidsMatching("/private-echo-"));
    await llm?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("deploys 2 replicas to Ready", async () => {
    const r = await api("POST", `/projects/${project}/deployments`, {
      displayName: "Chat", bundle: { name: "chat", version: "v1" }, networkAccess: "public",
      credentials: { OPENAI_API_KEY: "sk-one" }, resources: { replicas: 2 },
    }, machineKey);
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    const d = await waitFor((x) => x.status.phase === "Ready", "Ready");
    assert.equal(d.status.readyReplicas, 2);
    assert.equal((await pidsMatching(`/${dep.resourceName}/`)).length, 2);
  });

  it("serves both run shapes, Langflow's run API and MCP through the gateway with a machine user's key", async () => {
    const flows = await (await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": machineKey } })).json() as { id: string }[];
    flowId = flows[0]!.id;
    const a = await (await run()).json() as { success: boolean; result: string };
    assert.equal(a.success, true);
    assert.match(a.result, /^Echo: /);
    const b = await fetch(`${dep.endpoints.http}/flows/${flowId}/run`, { method: "POST", headers: { authorization: `Bearer ${machineKey}`, "content-type": "application/json" }, body: JSON.stringify({ inputs: { input_value: "hello" } }) });
    assert.equal(((await b.json()) as { success: boolean }).success, true);
    const lf = await fetch(`${dep.endpoints.http}/api/v1/run/${flowId}`, { method: "POST", headers: { "x-access-key": machineKey, "content-type": "application/json" }, body: JSON.stringify({ input_value: "hi", input_type: "chat", output_type: "chat" }) });
    const lfBody = await lf.json() as { outputs: { outputs: { results: { message: { text: string } } }[] }[] };
    assert.equal(lf.status, 200);
    assert.match(lfBody.outputs[0]!.outputs[0]!.results.message.text, /Echo: /);
    assert.equal(llm.requests.at(-1)?.headers.authorization, "Bearer sk-one", "the credential reaches the flow");

    const client = new Client({ name: "e2e", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(dep.endpoints.mcp), { requestInit: { headers: { "x-access-key": machineKey } } }));
    const tools = await client.listTools();
    assert.equal(tools.tools.length, 1);
    const out = await client.callTool({ name: tools.tools[0]!.name, arguments: { input_value: "via mcp" } });
    assert.match(JSON.stringify(out.content), /Echo: /);
    await client.close();
  });

  it("its replicas answer only the gateway: a direct call on their loopback port is refused, probes apart", async () => {
    const state = JSON.parse(await readFile(join(dir, "deployments", dep.resourceName, "state.json"), "utf8")) as { replicas: { port: number }[] };
    assert.equal(state.replicas.length, 2);
    for (const { port } of state.replicas) {
      const direct = await fetch(`http://127.0.0.1:${port}/flows/${flowId}/run`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input_value: "bypass" }) });
      assert.equal(direct.status, 401, "no key, no role: refused");
      assert.equal((await fetch(`http://127.0.0.1:${port}/flows`, { headers: { "x-flowplane-gateway-secret": "guessed" } })).status, 401);
      assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200, "the control plane's probe stays open");
    }
    assert.equal((await run()).status, 200, "through the gateway it works");
  });

  it("exposes Prometheus metrics on the private listener: gateway latency per route, reconciles, phases", async () => {
    const text = await (await fetch(`${server.privateUrl}/metrics`, { headers: { "x-access-key": admin } })).text();
    const route = new URL(dep.endpoints.http).pathname.split("/").at(-1);
    assert.match(text, new RegExp(`flowplane_gateway_request_duration_seconds_count\\{[^}]*route_id="${route}"[^}]*\\} [1-9]`));
    assert.match(text, /flowplane_reconcile_duration_seconds_count\{result="ok"\} [1-9]/);
    // The phase gauge is recomputed at most once a second (reconciler): read until it has caught up.
    await poll(async () => /flowplane_deployments\{phase="Ready"\} 1/.test(await (await fetch(`${server.privateUrl}/metrics`, { headers: { "x-access-key": admin } })).text()), { timeoutMs: 5_000, intervalMs: 100, message: "the Ready phase in the gauge" });
    assert.equal((await fetch(`${server.url}/metrics`, { headers: { "x-access-key": admin } })).status, 404, "not on the public listener");
    assert.equal((await fetch(`${server.privateUrl}/metrics`)).status, 401, "not without a credential (metrics-access.ts)");
  });

  it("refuses a wrong key, another project's key, and a private route on the public listener", async () => {
    assert.equal((await run("fp_wrong")).status, 401);
    assert.equal((await run(otherKey)).status, 401);
    const p = await api("POST", `/projects/${project}/deployments`, {
      displayName: "Private Echo", bundle: { name: "chat", version: "v1" }, networkAccess: "private", credentials: { OPENAI_API_KEY: "sk-p" },
    }, machineKey);
    assert.equal(p.status, 201, p.text);
    const path = new URL(p.json.endpoints.http).pathname;
    assert.ok(p.json.endpoints.http.startsWith(server.privateUrl));
    const deadline = Date.now() + 60_000;
    let privateStatus = 0;
    while (Date.now() < deadline && privateStatus !== 200) {
      privateStatus = (await fetch(`${server.privateUrl}${path}/flows`, { headers: { "x-access-key": machineKey } })).status;
      if (privateStatus !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(privateStatus, 200, "served on the private listener");
    assert.equal((await fetch(`${server.url}${path}/flows`, { headers: { "x-access-key": machineKey } })).status, 404, "not on the public one");
    assert.equal((await api("DELETE", `/projects/${project}/deployments/${p.json.id}`)).status, 202);
  });

  it("edits a credential under load with zero failed requests; the new value is in effect", async () => {
    const { failures, count } = await underLoad(async () => {
      const r = await api("PATCH", `/projects/${project}/deployments/${dep.id}`, { credentials: { OPENAI_API_KEY: "sk-two" } }, machineKey);
      assert.equal(r.status, 200, r.text);
      await waitFor((x) => x.status.phase === "Ready" && x.status.observedGeneration === x.generation && x.generation === r.json.generation, "rolled");
    });
    assert.deepEqual(failures, [], `${failures.length} of ${count} failed`);
    assert.ok(count > 20, `the load ran (${count} requests)`);
    await run();
    assert.equal(llm.requests.at(-1)?.headers.authorization, "Bearer sk-two");
  });

  it("changes the version under load with zero failed requests", async () => {
    const { failures, count } = await underLoad(async () => {
      const r = await api("PATCH", `/projects/${project}/deployments/${dep.id}`, { bundle: { version: "v2" } }, machineKey);
      assert.equal(r.status, 200, r.text);
      await waitFor((x) => x.status.phase === "Ready" && x.status.observedGeneration === r.json.generation, "rolled to v2");
    });
    assert.deepEqual(failures, [], `${failures.length} of ${count} failed`);
    assert.equal((await deployment()).bundle.version, "v2");
  });

  it("restarts a killed replica and comes back to Ready", async () => {
    const before = await pidsMatching(`/${dep.resourceName}/`);
    assert.equal(before.length, 2);
    process.kill(before[0]!, "SIGKILL");
    await waitFor((x) => x.status.phase !== "Ready", "noticed the dead replica", 30_000);
    await waitFor((x) => x.status.phase === "Ready" && x.status.readyReplicas === 2, "Ready again");
    const now = await pidsMatching(`/${dep.resourceName}/`);
    assert.equal(now.length, 2);
    assert.ok(!now.includes(before[0]!));
    const events = (await api("GET", `/projects/${project}/deployments/${dep.id}/events?limit=200`)).json as { type: string; message: string }[];
    assert.ok(events.some((e) => e.message.startsWith("Ready -> ")), "the loss shows in the events");
  });

  it("converges after the control plane is SIGKILLed in the middle of a rolling update", async () => {
    const r = await api("PATCH", `/projects/${project}/deployments/${dep.id}`, { credentials: { OPENAI_API_KEY: "sk-three" } }, machineKey);
    const target = r.json.generation as number;
    // Wait until the surge replica exists (3 processes), then crash the control plane.
    const deadline = Date.now() + 30_000;
    while ((await pidsMatching(`/${dep.resourceName}/`)).length < 3) {
      if (Date.now() > deadline) assert.fail("the rolling update never started");
      await new Promise((res) => setTimeout(res, 20));
    }
    await server.kill();
    logs.push(server.out());
    server = await startServer(dir, env(), { port: server.port, privatePort: server.privatePort });
    const d = await waitFor((x) => x.status.phase === "Ready" && x.status.observedGeneration === target, "converged after the crash");
    assert.equal(d.status.readyReplicas, 2);
    // no orphan, no duplicate: exactly the replicas asked for, and the state file agrees
    const pids = await pidsMatching(`/${dep.resourceName}/`);
    assert.equal(pids.length, 2, `processes: ${pids.join(",")}`);
    const state = JSON.parse(await readFile(join(dir, "deployments", dep.resourceName, "state.json"), "utf8")) as { replicas: { pid: number; generation: number }[] };
    assert.deepEqual(state.replicas.map((x) => x.pid).sort(), [...pids].sort());
    assert.ok(state.replicas.every((x) => x.generation === target));
    await run();
    assert.equal(llm.requests.at(-1)?.headers.authorization, "Bearer sk-three", "no credential lost");
  });

  it("undeploys: routes 404, processes and folder gone, credentials gone from the database", async () => {
    const pids = await pidsMatching(`/${dep.resourceName}/`);
    assert.equal((await api("DELETE", `/projects/${project}/deployments/${dep.id}`)).status, 202);
    const deadline = Date.now() + 60_000;
    while (!(await deployment()).deletedAt) {
      if (Date.now() > deadline) assert.fail("undeploy did not finish");
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal((await run()).status, 404);
    assert.equal((await fetch(dep.endpoints.mcp, { method: "POST", headers: { "x-access-key": machineKey } })).status, 404);
    assert.deepEqual(await pidsMatching(`/${dep.resourceName}/`), []);
    assert.ok(pids.every((p) => { try { process.kill(p, 0); return false; } catch { return true; } }));
    await assert.rejects(stat(join(dir, "deployments", dep.resourceName)));
    await server.stop();
    logs.push(server.out());
    const all = logs.join("\n");
    assert.match(all, /"msg":"request completed"|"level":30/, "the logs were captured");
    for (const secret of ["sk-one", "sk-two", "sk-three", machineKey.slice(3), admin.slice(3)]) assert.ok(!all.includes(secret), "no credential or key in the logs");
    const sql = await createPgliteClient(join(dir, "pglite"));
    try {
      const rows = await sql.query("SELECT 1 FROM deployment_credentials WHERE deployment_id = $1", [dep.id]);
      assert.equal(rows.rows.length, 0);
      const rec = await sql.query<{ deleted_at: Date | null }>("SELECT deleted_at FROM deployments WHERE id = $1", [dep.id]);
      assert.ok(rec.rows[0]?.deleted_at, "the record stays for audit");
    } finally {
      await sql.close();
    }
  });
});
