import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { loadFixture, waitFor } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * Scale to zero on Kubernetes (issue 20), the control plane with FLOWPLANE_DRIVER=kubernetes
 * against a real API server with kwok nodes: `npm run test:k8s`. After a 3-second idle window
 * the driver scales the Deployment to 0 (no pod left, phase Idle, an event); a request through
 * the gateway is held, wakes it (the Deployment back at its replicas, one Woken event), and is
 * forwarded once a pod is ready.
 *
 * kwok's pods run no process (as in the other Kubernetes tests, "serves" means pods Ready and
 * phase Ready): the forwarded request reaches for the Service and fails to connect, which the
 * gateway answers as such, and not as the wake timeout's "no ready replica" (that is what
 * proves it was held until a pod was ready, then forwarded).
 */
describe("scale to zero on Kubernetes", { timeout: 600_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let key: string;
  let project: string;
  let dep: { id: string; resourceName: string; endpoints: { http: string } };
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG!);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const env = { FLOWPLANE_DRIVER: "kubernetes", KUBECONFIG: process.env.KUBECONFIG!, FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_INSTALLATION: "idle-e2e" };

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}/api/v1${path}`, { method, headers: { "x-access-key": key, ...(body ? { "content-type": "application/json" } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined, text };
  };
  const get = async () => (await api("GET", `/projects/${project}/deployments/${dep.id}`)).json;
  const count = async (reason: string) => ((await api("GET", `/projects/${project}/deployments/${dep.id}/events?limit=200`)).json as { reason: string }[]).filter((e) => e.reason === reason).length;
  const readyPods = async () => (await core.listNamespacedPod({ namespace: dep.resourceName })).items
    .filter((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length;
  const livePods = async () => (await core.listNamespacedPod({ namespace: dep.resourceName })).items.length;
  const specReplicas = async () => (await apps.readNamespacedDeployment({ name: "runtime", namespace: dep.resourceName })).spec?.replicas;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-k8s-idle-"));
    server = await startServer(dir, env);
    key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "idle-k8s" })).json.id;
    assert.equal((await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    if (dep) await core.deleteNamespace({ name: dep.resourceName }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it("deploys with scale to zero, and sleeps after the idle window: the Deployment at 0, no pod, phase Idle, an event", async () => {
    const r = await api("POST", `/projects/${project}/deployments`, {
      displayName: "Sleepy on k8s", bundle: { name: "echo", version: "1" }, networkAccess: "public",
      resources: { replicas: 2 }, runtime: { scaleToZero: { idleMinutes: 0.05, wakeTimeoutSeconds: 120 } },
    });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    await waitFor(async () => (await count("ScaledToZero")) === 1, { timeoutMs: 180_000, intervalMs: 300, message: "put to sleep" });
    // The status follows the pods' watch events within a pass (woken a moment after the last one goes).
    await waitFor(async () => (await livePods()) === 0 && ((s) => s.phase === "Idle" && s.readyReplicas === 0)((await get()).status), { timeoutMs: 120_000, intervalMs: 300, message: "Idle with no pod left" });
    assert.equal(await specReplicas(), 0, "the driver scaled the Deployment to 0");
    const d = await get();
    assert.equal(d.resources.replicas, 2, "the replica count asked is kept");
    assert.equal((await apps.listNamespacedReplicaSet({ namespace: dep.resourceName })).items.length, 1, "sleeping is no new ReplicaSet");
  });

  it("concurrent first requests are held and wake it once: the Deployment back at 2, pods Ready, phase Ready; each request is forwarded only then", async () => {
    const answers = await Promise.all(Array.from({ length: 5 }, async () => {
      const r = await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": key } });
      // When the answer came, a pod was ready already (the request was held until then).
      return { status: r.status, body: await r.text(), podsReadyThen: await readyPods() };
    }));
    for (const a of answers) {
      assert.ok(a.podsReadyThen >= 1, `answered before any pod was ready: ${JSON.stringify(a)}`);
      // Forwarded to the Service, which kwok's process-less pods cannot answer: the gateway's
      // connection failure, not the wake timeout's "the deployment has no ready replica".
      assert.equal(a.status, 503, a.body);
      assert.match(a.body, /no ready replica accepted the connection/);
    }
    assert.equal(await count("Woken"), 1, "one wake-up for all of them");
    assert.equal(await specReplicas(), 2, "the driver scaled the Deployment back");
    await waitFor(async () => {
      const d = await get();
      return d.status.phase === "Ready" && d.status.readyReplicas === 2;
    }, { timeoutMs: 120_000, intervalMs: 300, message: "Ready with 2 replicas after the wake-up" });
    assert.equal(await readyPods(), 2);
    assert.equal((await apps.listNamespacedReplicaSet({ namespace: dep.resourceName })).items.length, 1, "waking is no new ReplicaSet (the same generation)");
  });

  it("sleeps again after the next idle window", async () => {
    await waitFor(async () => (await count("ScaledToZero")) === 2 && (await get()).status.phase === "Idle" && (await livePods()) === 0,
      { timeoutMs: 120_000, intervalMs: 300, message: "asleep again" });
    assert.equal(await specReplicas(), 0);
  });
});
