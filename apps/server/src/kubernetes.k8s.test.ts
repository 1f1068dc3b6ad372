import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AppsV1Api, CoreV1Api, KubeConfig, NetworkingV1Api } from "@kubernetes/client-node";
import { loadFixture } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * The control plane with FLOWPLANE_DRIVER=kubernetes against a real API server (kwok nodes):
 * `npm run test:k8s`. Deploy, pods ready, phase Ready; the six resources; edit (new
 * ReplicaSet); scale; version change; undeploy (namespace gone); the control plane killed in the
 * middle of an apply, restarted, converged.
 */
describe("control plane on Kubernetes", { timeout: 600_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let key: string;
  let project: string;
  let dep: { id: string; resourceName: string; generation: number };
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG!);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const net = kc.makeApiClient(NetworkingV1Api);
  // No warm revision: these cases count the ReplicaSets and pods of the one Deployment's rollouts;
  // a live revision's own Deployment is the driver suite's (kubernetes-driver.k8s.test.ts).
  const env = { FLOWPLANE_DRIVER: "kubernetes", KUBECONFIG: process.env.KUBECONFIG!, FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_INSTALLATION: "server-e2e", FLOWPLANE_WARM_REVISION_SECONDS: "0",
    // DNS to CoreDNS and to a NodeLocal DNSCache address: the variable reaches both the driver and the manifests the API shows.
    FLOWPLANE_KUBERNETES_DNS: "kube-system/k8s-app=kube-dns,169.254.20.10" };

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}/api/v1${path}`, { method, headers: { "x-access-key": key, ...(body ? { "content-type": "application/json" } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined, text };
  };
  const get = async () => (await api("GET", `/projects/${project}/deployments/${dep.id}`)).json;
  const settled = async (generation: number, what: string, ms = 180_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const d = await get().catch(() => null);
      // A scale keeps the generation: settled once as many replicas as asked are ready.
      if (d?.status.phase === "Ready" && d.status.observedGeneration === generation && d.status.readyReplicas === d.resources.replicas) return d;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(d?.status)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  const patch = async (body: unknown) => {
    const r = await api("PATCH", `/projects/${project}/deployments/${dep.id}`, body);
    assert.equal(r.status, 200, r.text);
    return r.json.generation as number;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-k8s-e2e-"));
    server = await startServer(dir, env);
    key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "k8s" })).json.id;
    for (const tag of ["v1", "v2"]) {
      assert.equal((await api("POST", "/bundles", { name: "chat", versionTag: tag, accessLevel: "global", flows: [loadFixture("memory-chatbot")] })).status, 201);
    }
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    if (dep) await core.deleteNamespace({ name: dep.resourceName }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it("deploys into its own namespace; pods ready; phase Ready", async () => {
    const r = await api("POST", `/projects/${project}/deployments`, {
      displayName: "Chat on k8s", bundle: { name: "chat", version: "v1" }, networkAccess: "private",
      credentials: { OPENAI_API_KEY: "sk-cluster" }, resources: { replicas: 2 },
    });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    const d = await settled(1, "Ready");
    assert.equal(d.status.readyReplicas, 2);
    const pods = await core.listNamespacedPod({ namespace: dep.resourceName });
    assert.equal(pods.items.filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length, 2);
  });

  it("shows the six resources it maps to, secret values redacted", async () => {
    const m = await api("GET", `/projects/${project}/deployments/${dep.id}/manifests`);
    assert.equal(m.status, 200);
    assert.deepEqual(m.json.map((o: { kind: string }) => o.kind), ["Namespace", "ServiceAccount", "Secret", "Service", "NetworkPolicy", "Deployment"]);
    // The Service shown is the one there: the running revision's own.
    const shown = m.json.find((o: { kind: string }) => o.kind === "Service").metadata.name;
    assert.deepEqual((await core.listNamespacedService({ namespace: dep.resourceName })).items.map((x) => x.metadata!.name), [shown]);
    assert.ok(!m.text.includes(Buffer.from("sk-cluster").toString("base64")) && !m.text.includes("sk-cluster"));
    const live = await apps.readNamespacedDeployment({ name: "runtime", namespace: dep.resourceName });
    assert.equal(live.spec?.replicas, 2);
    // FLOWPLANE_KUBERNETES_DNS, in the policy shown and in the one applied: CoreDNS's pods, and the listed address on 53 only.
    type Rule = { to?: unknown[]; ports?: { port?: unknown }[] };
    const dnsRules = (egress: Rule[]) => JSON.parse(JSON.stringify(egress.filter((r) => r.ports?.some((p) => p.port === 53)))) as unknown[];
    const udpTcp = (ports: number[]) => ports.flatMap((port) => [{ protocol: "UDP", port }, { protocol: "TCP", port }]);
    const want = [
      { to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }], ports: udpTcp([53, 1053, 5353]) },
      { to: [{ ipBlock: { cidr: "169.254.20.10/32" } }], ports: udpTcp([53]) },
    ];
    assert.deepEqual(dnsRules(m.json.find((o: { kind: string }) => o.kind === "NetworkPolicy").spec.egress), want);
    assert.deepEqual(dnsRules((await net.readNamespacedNetworkPolicy({ name: "runtime", namespace: dep.resourceName })).spec?.egress as Rule[]), want);
  });

  it("edits a credential: a new ReplicaSet rolls out", async () => {
    const rsBefore = (await apps.listNamespacedReplicaSet({ namespace: dep.resourceName })).items.length;
    const gen = await patch({ credentials: { OPENAI_API_KEY: "sk-cluster-2" } });
    await settled(gen, "rolled after the edit");
    const rs = (await apps.listNamespacedReplicaSet({ namespace: dep.resourceName })).items;
    assert.equal(rs.length, rsBefore + 1);
    const live = await apps.readNamespacedDeployment({ name: "runtime", namespace: dep.resourceName });
    const name = live.spec!.template.spec!.containers[0]!.envFrom![0]!.secretRef!.name!;
    const secret = await core.readNamespacedSecret({ name, namespace: dep.resourceName });
    assert.equal(Buffer.from(secret.data!.OPENAI_API_KEY!, "base64").toString(), "sk-cluster-2");
    // The revision before kept its Service only while its pods were ready (the gateway's way to
    // them during the roll): once they are gone, the new revision's is the only one.
    const runs = live.spec!.template.metadata!.labels!["flowplane.io/revision"];
    const deadline = Date.now() + 30_000;
    let services: string[] = [];
    while (Date.now() < deadline) {
      services = (await core.listNamespacedService({ namespace: dep.resourceName })).items.map((x) => x.metadata!.name!);
      if (services.length === 1) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.deepEqual(services, [`runtime-r${runs}`]);
  });

  it("scales, and changes the version", async () => {
    const rsBefore = (await apps.listNamespacedReplicaSet({ namespace: dep.resourceName })).items.length;
    const scaled = await patch({ resources: { replicas: 3 } });
    assert.equal((await settled(scaled, "scaled to 3")).status.readyReplicas, 3);
    assert.equal((await apps.listNamespacedReplicaSet({ namespace: dep.resourceName })).items.length, rsBefore, "a scale is no new revision: no new ReplicaSet");
    const v2 = await patch({ bundle: { version: "v2" } });
    const d = await settled(v2, "version v2");
    const live = await apps.readNamespacedDeployment({ name: "runtime", namespace: dep.resourceName });
    assert.equal(live.spec?.template.metadata?.annotations?.["flowplane.io/bundle"], "chat@v2");
    // The revision labels the Deployment and its pods (docs/revisions.md).
    assert.equal(live.spec?.template.metadata?.labels?.["flowplane.io/revision"], String(d.revision));
    const pods = (await core.listNamespacedPod({ namespace: dep.resourceName })).items.filter((p) => !p.metadata?.deletionTimestamp);
    assert.ok(pods.length > 0 && pods.every((p) => p.metadata?.labels?.["flowplane.io/revision"] === String(d.revision)));
  });

  it("converges after the control plane is killed in the middle of an apply", async () => {
    const gen = await patch({ resources: { replicas: 2 }, credentials: { OPENAI_API_KEY: "sk-cluster-3" } });
    await server.kill(); // the reconciler is applying this change right now
    server = await startServer(dir, env, { port: server.port, privatePort: server.privatePort });
    const d = await settled(gen, "converged after the crash");
    assert.equal(d.status.readyReplicas, 2);
    const live = await apps.readNamespacedDeployment({ name: "runtime", namespace: dep.resourceName });
    assert.equal(live.metadata?.annotations?.["flowplane.io/generation"], String(gen));
    const pods = (await core.listNamespacedPod({ namespace: dep.resourceName })).items.filter((p) => !p.metadata?.deletionTimestamp);
    assert.equal(pods.length, 2, "no duplicate pods");
  });

  it("undeploys: the namespace and everything in it go", async () => {
    assert.equal((await api("DELETE", `/projects/${project}/deployments/${dep.id}`)).status, 202);
    const deadline = Date.now() + 180_000;
    while (!(await get()).deletedAt) {
      if (Date.now() > deadline) assert.fail("undeploy did not finish");
      await new Promise((r) => setTimeout(r, 300));
    }
    await assert.rejects(core.readNamespace({ name: dep.resourceName }), (e: { code?: number }) => e.code === 404);
  });
});
