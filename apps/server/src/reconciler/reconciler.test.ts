import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, GATEWAY_SECRET_HEADER, type Deployment } from "@flowplane/core";
import { LocalDriver } from "@flowplane/driver-local";
import { memoryLogger } from "@flowplane/logging";
import { loadFixture, repoRoot, waitFor as poll } from "@flowplane/testkit";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";
import { Reconciler } from "./reconciler.js";

describe("reconciler with the local driver", () => {
  let t: TestControlPlane;
  let driver: LocalDriver;
  let reconciler: Reconciler;
  let root: string;
  let base: string;
  let url: string;
  let project: string;

  const logs = memoryLogger();
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "flowplane-rec-"));
    t = await startTestControlPlane({ notify: (id) => reconciler?.enqueue(id) });
    url = await t.cp.app.listen({ host: "127.0.0.1", port: 0 });
    driver = await LocalDriver.create({ root, command: [process.execPath, join(repoRoot, "apps/runtime/dist/main.js")], baseEnv: { PATH: process.env.PATH ?? "" },
      probeIntervalMs: 100, backoff: { baseMs: 200, maxMs: 1000 }, shutdownGraceMs: 3000 });
    reconciler = new Reconciler({
      log: logs.log,
      store: t.store, driver, credentials: t.credentials, tokens: t.cp.tokens, gatewaySecret: t.cp.gatewaySecrets, holder: "test", resyncMs: 1000, busyRequeueMs: 100, publishEndpoints: true,
      bundleUrl: (id) => `${url}/internal/v1/deployments/${id}/bundle`,
    });
    reconciler.start();
    project = await t.project("rec");
    base = `/api/v1/projects/${project}/deployments`;
    const r = await t.call("POST", "/api/v1/bundles", { body: { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] } });
    assert.equal(r.status, 201, r.text);
  });
  after(async () => {
    await reconciler.stop();
    for (const name of await driver.list()) await driver.delete(name);
    await driver.close();
    await t.close();
    await rm(root, { recursive: true, force: true });
  });

  const waitFor = (id: string, cond: (d: Deployment) => boolean, ms = 60_000): Promise<Deployment> =>
    poll(async () => {
      const d = await t.store.getDeployment(id);
      if (!d || !cond(d)) throw new Error(`status ${JSON.stringify(d?.status)}`); // what a timeout reports
      return d;
    }, { timeoutMs: ms, intervalMs: 100, message: `deployment ${id}` });

  /** The endpoint set the reconciler last published for a runtime. */
  const published = async (resourceName: string) => (await t.store.endpointsSince(null)).items.find((x) => x.resourceName === resourceName)?.urls;

  let id = "";
  it("takes a new deployment to Ready, with conditions, events and observedGeneration", async () => {
    const r = await t.call("POST", base, { body: { displayName: "Echo", bundle: { name: "echo", version: "1" }, networkAccess: "public", resources: { replicas: 2 } } });
    assert.equal(r.status, 201, r.text);
    id = r.json.id;
    const d = await waitFor(id, (x) => x.status.phase === "Ready");
    assert.equal(d.status.readyReplicas, 2);
    assert.equal(d.status.observedGeneration, 1);
    assert.deepEqual(d.status.conditions.map((c) => `${c.type}=${c.status}`), ["BundleResolved=True", "SecretsApplied=True", "RuntimeAvailable=True", "Routed=True", `Isolated=${driver.isolation.mode === "none" ? "False" : "True"}`]);
    const events = (await t.call("GET", `${base}/${id}/events`)).json.map((e: { message: string }) => e.message);
    assert.ok(events.some((m: string) => m.startsWith("Provisioning -> ") || m.startsWith("Starting -> Ready")), events.join("\n"));
    const eps = driver.endpoints(d.resourceName);
    assert.equal(eps.length, 2);
    assert.deepEqual(await published(d.resourceName), eps, "the ready endpoints are published for gateways in other processes");
    assert.equal((await fetch(`${eps[0]}/flows`)).status, 401, "a replica answers only its gateway");
    const flows = await (await fetch(`${eps[0]}/flows`, { headers: { [GATEWAY_SECRET_HEADER]: t.cp.gatewaySecrets(id) } })).json() as { name: string }[];
    assert.equal(flows[0]?.name, "SimpleChatNoLLM");
  });

  it("serves the bundle only to the deployment's own identity", async () => {
    const path = `/internal/v1/deployments/${id}/bundle`;
    const ok = await t.call("GET", path, { key: null, headers: { authorization: `Bearer ${t.cp.tokens.issue(id)}` } });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.versionTag, "1");
    assert.equal(ok.json.flows.length, 1);
    assert.equal((await t.call("GET", path, { key: null })).status, 401);
    assert.equal((await t.call("GET", path, { key: null, headers: { authorization: "Bearer fpd_forged.abc" } })).status, 401);
    assert.equal((await t.call("GET", path, { key: null, headers: { authorization: `Bearer ${t.cp.tokens.issue("another-deployment")}` } })).status, 403);
    assert.equal((await t.call("GET", path, { key: t.ownerKey })).status, 401, "a user key is no deployment identity");
  });

  it("applies a scale: no new generation nor revision; one of the running replicas stays, none restarts", async () => {
    const before = driver.pids((await t.store.getDeployment(id))!.resourceName);
    const r = await t.call("PATCH", `${base}/${id}`, { body: { resources: { replicas: 1 } } });
    assert.deepEqual([r.json.generation, r.json.revision], [1, 1]);
    const d = await waitFor(id, (x) => x.status.phase === "Ready" && x.status.readyReplicas === 1 && driver.pids(x.resourceName).length === 1);
    assert.ok(before.includes(driver.pids(d.resourceName)[0]!), "a replica that was already running");
    assert.equal(driver.endpoints(d.resourceName).length, 1);
    assert.deepEqual(await published(d.resourceName), driver.endpoints(d.resourceName));
  });

  it("removes orphans: runtimes the driver holds for no active deployment", async () => {
    const live = await t.store.getDeployment(id);
    await driver.apply({ deploymentId: "ghost", projectId: project, resourceName: "ghost-abc123", generation: 1, bundle: live!.bundle,
      bundleUrl: `${url}/nowhere`, identityToken: "x", gatewaySecret: "ghost-gateway-secret", engine: "native", logLevel: "info", requestTimeoutSeconds: 5, networkAccess: "public",
      resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: {} });
    // The resync may sweep it before a list could see it (one CI run raced there): the sweep's own
    // log line proves the driver held it and the reconciler removed it.
    await poll(async () => !(await driver.list()).includes("ghost-abc123"), { timeoutMs: 15_000, intervalMs: 200, message: "the orphan removed" });
    assert.ok(logs.lines.some((l) => l.msg === "deleting an orphan runtime" && l.resourceName === "ghost-abc123"), "removed by the reconciler's sweep");
  });

  it("undeploys: runtime, then credentials, then the record marked deleted; events stay", async () => {
    const d = await t.store.getDeployment(id);
    const pids = driver.pids(d!.resourceName);
    assert.equal((await t.call("DELETE", `${base}/${id}`)).status, 202);
    const gone = await waitFor(id, (x) => x.deletedAt !== null);
    assert.equal(gone.status.phase, "Deleting");
    assert.ok(!(await driver.list()).includes(d!.resourceName));
    assert.ok(pids.every((p) => { try { process.kill(p, 0); return false; } catch { return true; } }));
    assert.equal(await t.store.getSealedCredentials(id), null);
    assert.deepEqual(await published(d!.resourceName), [], "no endpoint is published for an undeployed runtime");
    const events = (await t.call("GET", `${base}/${id}/events`)).json.map((e: { reason: string }) => e.reason);
    assert.equal(events.at(-1), "Deleted");
    assert.equal((await t.call("GET", `/internal/v1/deployments/${id}/bundle`, { key: null, headers: { authorization: `Bearer ${t.cp.tokens.issue(id)}` } })).status, 404);
  });
});
