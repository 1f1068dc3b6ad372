import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestDatabase, postgresSkipReason } from "@flowplane/store";
import { killAll, loadFixture, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { pidsMatching, startServer, type ServerProcess } from "./test-process.js";

/**
 * FLOWPLANE_ROLES split on PostgreSQL: one process runs `api,reconciler` (with the local
 * driver), another runs `gateway` alone, on its own data folder with the same secret key. The
 * gateway reads the endpoints the reconciler publishes (endpoints/README.md). Under a steady
 * load through the gateway, the API+reconciler process is SIGKILLed and restarted three times
 * (idle, just after a credential edit, at the surge replica of a version change): the gateway
 * answers every request, and the flow ends with the newest credential.
 */
const skip = postgresSkipReason();
describe("split roles: the gateway process outlives the control plane (PostgreSQL)", { skip, timeout: 240_000 }, () => {
  let db: { url: string; drop: () => Promise<void> };
  let cpDir: string;
  let gwDir: string;
  let cp: ServerProcess;
  let gw: ServerProcess;
  let llm: FakeOpenAI;
  let admin: string;
  let project: string;
  let dep: { id: string; resourceName: string; endpoints: { http: string } };
  let runUrl: string;
  const secretKey = randomBytes(32).toString("hex");

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Counts replicas through rolling updates: no warm replica of the revision before (live-revisions.e2e tests those).
  const common = () => ({ DATABASE_URL: db.url, FLOWPLANE_SECRET_KEY: secretKey, FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_WARM_REVISION_SECONDS: "0" });
  const startCp = (ports?: { port: number; privatePort: number }) => startServer(cpDir, {
    ...common(), FLOWPLANE_ROLES: "api,reconciler", FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_API_BASE", OPENAI_API_BASE: llm.baseUrl,
  }, ports);
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${cp.url}/api/v1${path}`, {
      method, headers: { "x-access-key": admin, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined, text };
  };
  const until = async <T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 90_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await probe().catch(() => null);
      if (v) return v;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };
  const readyAt = (generation: number) => until(`Ready at generation ${generation}`, async () => {
    const d = (await api("GET", `/projects/${project}/deployments/${dep.id}`)).json as { generation: number; status: { phase: string; observedGeneration: number; readyReplicas: number } };
    return d.status.phase === "Ready" && d.status.observedGeneration === generation && d.status.readyReplicas === 2;
  });
  const run = () => fetch(runUrl, {
    method: "POST", headers: { "x-access-key": admin, "content-type": "application/json" },
    body: JSON.stringify({ input_value: "ping", session_id: `s${Math.random()}` }), signal: AbortSignal.timeout(15_000),
  });
  const crash = async () => {
    await cp.kill();
    cp = await startCp({ port: cp.port, privatePort: cp.privatePort });
  };
  const patch = async (body: unknown) => {
    const r = await api("PATCH", `/projects/${project}/deployments/${dep.id}`, body);
    assert.equal(r.status, 200, r.text);
    return r.json.generation as number;
  };

  before(async () => {
    db = await createTestDatabase();
    cpDir = await mkdtemp(join(tmpdir(), "flowplane-split-cp-"));
    gwDir = await mkdtemp(join(tmpdir(), "flowplane-split-gw-"));
    llm = await startFakeOpenAI();
    cp = await startCp();
    gw = await startServer(gwDir, { ...common(), FLOWPLANE_ROLES: "gateway" });
    admin = (await readFile(join(cpDir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "split" })).json.id;
    for (const tag of ["v1", "v2"]) {
      const r = await api("POST", "/bundles", { name: "chat", versionTag: tag, accessLevel: "project", allowedProjects: [project], flows: [loadFixture("memory-chatbot")] });
      assert.equal(r.status, 201, r.text);
    }
  });

  after(async () => {
    await cp?.kill().catch(() => undefined);
    await gw?.kill().catch(() => undefined);
    killAll(await pidsMatching(`/${dep?.resourceName ?? "none"}/`));
    await llm?.close();
    await db?.drop().catch(() => undefined);
    for (const d of [cpDir, gwDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it("deploys through the API process and is served by the gateway process", async () => {
    const r = await api("POST", `/projects/${project}/deployments`, {
      displayName: "Chat", bundle: { name: "chat", version: "v1" }, networkAccess: "public",
      credentials: { OPENAI_API_KEY: "sk-split-0-zq" }, resources: { replicas: 2 },
    });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    await readyAt(1);
    const path = new URL(dep.endpoints.http).pathname;
    const flows = await until("the gateway process serves the deployment", async () => {
      const f = await fetch(`${gw.url}${path}/flows`, { headers: { "x-access-key": admin } });
      return f.status === 200 && (await f.json()) as { id: string }[];
    }, 30_000);
    runUrl = `${gw.url}${path}/flows/${flows[0]!.id}/run`;
    assert.equal((await run()).status, 200);
    assert.equal((await fetch(`${gw.url}/api/v1/me`, { headers: { "x-access-key": admin } })).status, 404, "the gateway process serves no API");
    assert.equal((await readFile(join(cpDir, "admin.key"), "utf8")).trim(), admin, "the gateway process did not rotate the admin key");
  });

  it("loses no request while the API+reconciler process is SIGKILLed and restarted three times", async () => {
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const deadline = Date.now() + 150_000;
    const worker = async () => {
      while (!stop && Date.now() < deadline && ok + failures.length < 20_000) {
        try {
          const r = await run();
          const text = await r.text();
          if (r.status === 200) ok++;
          else failures.push(`${r.status} ${text.slice(0, 200)}`);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const workers = [worker(), worker(), worker()];
    try {
      await sleep(500);
      await crash(); // idle, Ready
      await readyAt(1);

      const gen2 = await patch({ credentials: { OPENAI_API_KEY: "sk-split-1-zq" } });
      await crash(); // just after the edit was accepted
      await readyAt(gen2);

      const old = await pidsMatching(`/${dep.resourceName}/`);
      const gen3 = await patch({ bundle: { version: "v2" } });
      await until("the surge replica", async () => (await pidsMatching(`/${dep.resourceName}/`)).some((p) => !old.includes(p)), 30_000);
      await crash(); // in the middle of the rolling update
      await readyAt(gen3);
      // The reconciler's drains finish and the gateway learns the last set: let the load see it.
      await until("exactly 2 replicas", async () => (await pidsMatching(`/${dep.resourceName}/`)).length === 2, 30_000);
      await sleep(1_500);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    assert.deepEqual(failures, [], `${failures.length} failed of ${ok + failures.length}`);
    assert.ok(ok > 50, `the load ran (${ok} requests)`);
    const r = await run();
    assert.equal(r.status, 200);
    assert.equal(llm.requests.at(-1)?.headers.authorization, "Bearer sk-split-1-zq", "the newest credential is in effect");
  });

  it("undeploys: the gateway process answers 404 and no replica is left", async () => {
    assert.equal((await api("DELETE", `/projects/${project}/deployments/${dep.id}`)).status, 202);
    await until("undeployed", async () => (await api("GET", `/projects/${project}/deployments/${dep.id}`)).json.deletedAt);
    await until("the gateway answers 404", async () => (await run()).status === 404, 10_000);
    assert.deepEqual(await pidsMatching(`/${dep.resourceName}/`), []);
    assert.equal(await gw.stop(), 0);
    assert.equal(await cp.stop(), 0);
  });
});
