import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject, type V1Pod } from "@kubernetes/client-node";
import { DEFAULT_RESOURCES, SHOWN_SETTINGS, renderManifests, type RuntimeSpec } from "@flowplane/core";
import { KubernetesDriver } from "./kubernetes-driver.js";

/**
 * One Service per revision (core's manifests) and the Services of revisions no longer live
 * (collectRevisions), against the test cluster: `node scripts/k8s/run-tests.mjs revision-services`.
 *
 * The gateway reads `driver.endpoints()` (serve.ts) and sends calls to the URLs it returns; a URL
 * naming a Service that does not exist is a DNS failure for every call sent to it. These cases
 * check that every URL endpoints() hands out names a Service that exists, through what a stuck
 * rollout meets (the old pod unready for a while, evicted), a control plane restarted mid-roll,
 * and what an upgrade from the version with a ServiceAccount of its own does.
 * (Written by a hostile review of that change; the first two failed on it.)
 */
const kubeConfig = (): KubeConfig => {
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG!);
  return kc;
};
const options = { image: "flowplane/runtime:0.1.0", systemNamespace: "flowplane", checksumKey: Buffer.alloc(32, 7), deleteTimeoutMs: 60_000, installation: "revision-services-tests" };

describe("Kubernetes driver: revision Services", { timeout: 300_000 }, () => {
  let driver: KubernetesDriver;
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const stamp = Date.now().toString(36);
  const namespaces: string[] = [];
  before(async () => {
    driver = await KubernetesDriver.create({ kubeConfig: kc, ...options });
  });
  after(async () => {
    for (const n of namespaces) await driver.delete(n).catch(() => undefined);
    await driver.close();
  });

  const spec = (ns: string, over: Partial<RuntimeSpec> = {}): RuntimeSpec => ({
    deploymentId: "7d0c8c0e-1111-4222-8333-444455556666", projectId: "p-1", resourceName: ns, generation: 1, revision: 1,
    bundle: { name: "chat", version: "v1", digest: `sha256:${"b".repeat(64)}` },
    bundleUrl: "http://flowplane.flowplane.svc.cluster.local:8080/internal/v1/deployments/x/bundle", identityToken: "", gatewaySecret: "gw",
    engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
    resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: { OPENAI_API_KEY: "sk-1" }, ...over,
  });
  const until = async (what: string, cond: () => Promise<boolean> | boolean, ms = 120_000) => {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline) assert.fail(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const services = async (ns: string) => (await core.listNamespacedService({ namespace: ns })).items.map((s) => s.metadata!.name!).sort();
  const serviceOf = (url: string) => new URL(url).hostname.split(".")[0]!;
  /** Every URL the gateway would be given names a Service that exists. */
  const assertEndpointsResolve = async (ns: string, revision?: number) => {
    const have = await services(ns);
    const urls = driver.endpoints(ns, revision);
    const missing = urls.map(serviceOf).filter((name) => !have.includes(name));
    assert.deepEqual(missing, [], `endpoints(${ns}${revision === undefined ? "" : `, ${revision}`}) = ${JSON.stringify(urls)} but the namespace's Services are ${JSON.stringify(have)}`);
  };
  const podsOf = async (ns: string, revision: number): Promise<V1Pod[]> =>
    (await core.listNamespacedPod({ namespace: ns, labelSelector: `flowplane.io/revision=${revision}` })).items.filter((p) => !p.metadata?.deletionTimestamp);
  /** A readiness probe failing for a while (load, a slow dependency) or a container restart: the kubelet flips Ready. */
  const setReady = async (ns: string, pod: V1Pod, ready: boolean) => {
    const conditions = (pod.status?.conditions ?? []).map((c) => (c.type === "Ready" || c.type === "ContainersReady" ? { ...c, status: ready ? "True" : "False", lastTransitionTime: new Date() } : c));
    await core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: ns, body: [{ op: "replace", path: "/status/conditions", value: conditions }] });
  };

  /**
   * A namespace of its own with revision 1 ready, and the edit to revision 2 (not applied yet),
   * whose pod no node can take (it could as well crash-loop): a rollout that never ends.
   */
  const revisionOneReady = async (name: string) => {
    const ns = `revision-services-${name}-${stamp}`;
    namespaces.push(ns);
    await driver.apply(spec(ns));
    await until("revision 1 ready", () => driver.endpoints(ns, 1).length === 1);
    const r2 = spec(ns, { generation: 2, revision: 2, env: { OPENAI_API_KEY: "sk-2" }, resources: { ...DEFAULT_RESOURCES, replicas: 1, cpu: { request: "1000", limit: "1000" } } });
    return { ns, r2 };
  };

  it("a stuck rollout: the old revision's pod unready for a while keeps its Service, and endpoints() never names a Service that is not there", async () => {
    const { ns, r2 } = await revisionOneReady("stuck");
    assert.deepEqual(await services(ns), ["runtime-r1"]);
    // The edit to revision 2: the rollout is stuck with maxUnavailable 0, so revision 1's pod keeps
    // serving through the gateway's fallback (candidatesFor: revision 2 has no ready pod -> endpoints(ns)).
    await driver.apply(r2);
    assert.deepEqual(await services(ns), ["runtime-r1", "runtime-r2"], "revision 1's Service lingers while its pod is ready");
    assert.deepEqual(driver.endpoints(ns, 2), []);
    assert.deepEqual(driver.endpoints(ns).map(serviceOf), ["runtime-r1"], "the fallback: revision 1's Service");
    await assertEndpointsResolve(ns);

    // The old pod's readiness blips (probe failures under load, a container restart).
    const [old] = await podsOf(ns, 1);
    assert.ok(old);
    await setReady(ns, old, false);
    await until("the driver saw revision 1 unready", () => driver.endpoints(ns).length === 0, 30_000);
    await driver.apply(r2); // the pass the watch event wakes
    assert.deepEqual(await services(ns), ["runtime-r1", "runtime-r2"], "revision 1's Service stays while its pod is there");

    // The pod is ready again (the rollout is still stuck: it is still the only replica serving).
    await setReady(ns, (await podsOf(ns, 1))[0]!, true);
    await until("the driver saw revision 1 ready again", () => driver.endpoints(ns).length === 1, 30_000);
    await driver.apply(r2); // and the pass that follows
    await driver.apply(r2);
    await assertEndpointsResolve(ns);
    assert.deepEqual(driver.endpoints(ns).map(serviceOf), ["runtime-r1"]);
    // Revision 2 finally fits (the edit after it): revision 1's pods go, and their Service with them.
    const r3 = spec(ns, { generation: 3, revision: 3, env: { OPENAI_API_KEY: "sk-3" } });
    await until("revision 1's Service gone once its pods are", async () => {
      await driver.apply(r3);
      return JSON.stringify(await services(ns)) === JSON.stringify(["runtime-r3"]);
    }, 120_000);
  });

  it("a stuck rollout: the old revision's pod evicted (node drain, deleted): its replacement is reached through its Service", async () => {
    const { ns, r2 } = await revisionOneReady("evict");
    await driver.apply(r2);
    assert.deepEqual(await services(ns), ["runtime-r1", "runtime-r2"]);
    const [old] = await podsOf(ns, 1);
    // The reconciler's pass, woken by the pod's watch event (onChange), while the replacement
    // starts (seconds for a real runtime: image, bundle download, flow load; kwok takes less
    // than this test's polling, so the pass runs on the event itself).
    const passes: Promise<void>[] = [];
    let armed = true;
    driver.onChange((n) => { if (armed && n === ns && driver.endpoints(ns).length === 0) passes.push(driver.apply(r2)); });
    await core.deleteNamespacedPod({ name: old!.metadata!.name!, namespace: ns });
    await until("a pass while no pod of revision 1 was ready", () => passes.length > 0, 30_000);
    armed = false;
    await Promise.all(passes);
    await until("the replacement ready", () => driver.endpoints(ns).length === 1, 60_000);
    await driver.apply(r2);
    await assertEndpointsResolve(ns);
    assert.deepEqual(driver.endpoints(ns).map(serviceOf), ["runtime-r1"]);
  });

  it("a control plane restarted mid-roll (its lingering set lost) keeps the old revision's Service while its pod is ready", async () => {
    const { ns, r2 } = await revisionOneReady("roll");
    await driver.apply(r2);
    // A control plane restarted mid-roll: a new driver (no in-memory lingering set) must not drop revision 1's Service.
    const again = await KubernetesDriver.create({ kubeConfig: kc, ...options });
    try {
      await again.apply(r2);
      assert.deepEqual(await services(ns), ["runtime-r1", "runtime-r2"], "after a restart, revision 1's Service still lingers");
      assert.deepEqual(again.endpoints(ns).map(serviceOf), ["runtime-r1"]);
    } finally {
      await again.close();
    }
    await assertEndpointsResolve(ns);
  });

  it("an upgrade from the version with a ServiceAccount `runtime`: its pods keep running as it until the deployment changes anyway", async () => {
    const ns = `revision-services-upgrade-${stamp}`;
    namespaces.push(ns);
    // What the earlier version applied: pods as ServiceAccount `runtime` (and that account), the Service `runtime`.
    // (Only those differences: that version also had the replica's settings in the pod template,
    // which session 37 moved into the Secret, so a real upgrade from it rolls the pods once for that.)
    const objects = renderManifests(spec(ns), options) as unknown as (KubernetesObject & { spec?: { template?: { spec?: { serviceAccountName?: string } } } })[];
    const sa = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "runtime", namespace: ns, labels: objects[0]!.metadata!.labels }, automountServiceAccountToken: false };
    const oldDeployment = objects.find((o) => o.kind === "Deployment")!;
    oldDeployment.spec!.template!.spec!.serviceAccountName = "runtime";
    const api = KubernetesObjectApi.makeApiClient(kc);
    for (const o of [objects[0]!, sa, ...objects.slice(1)]) await api.patch(o, undefined, undefined, "flowplane", true, PatchStrategy.ServerSideApply);
    await until("the old version's pod ready", async () => (await podsOf(ns, 1)).some((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")));
    const before = (await apps.listNamespacedReplicaSet({ namespace: ns })).items.length;
    await until("the driver saw it", () => driver.endpoints(ns, 1).length === 1, 30_000);
    // The new control plane's first pass, same generation, same revision, nothing edited.
    await driver.apply(spec(ns));
    const after = (await apps.listNamespacedReplicaSet({ namespace: ns })).items.length;
    const account = async () => (await apps.readNamespacedDeployment({ name: "runtime", namespace: ns })).spec!.template.spec!.serviceAccountName;
    assert.equal(await account(), "runtime");
    assert.equal(after, before, `no pod restarted by the upgrade (ReplicaSets ${before} -> ${after})`);
    // The next change of what runs rolls the pods anyway: they start as the namespace's default account then.
    await driver.apply(spec(ns, { generation: 2, env: { OPENAI_API_KEY: "sk-2" } }));
    assert.equal(await account(), "default");
    assert.equal((await apps.listNamespacedReplicaSet({ namespace: ns })).items.length, before + 1);
  });

  it("an upgrade from the version with the settings in the pod template: one roll, then a template naming only the Secret and the pod", async () => {
    const ns = `revision-services-settings-${stamp}`;
    namespaces.push(ns);
    type Obj = KubernetesObject & { data?: Record<string, string>; spec?: { template?: { spec?: { containers: { env?: unknown[]; envFrom?: unknown[] }[] } } } };
    const objects = renderManifests(spec(ns), options) as unknown as Obj[];
    const secret = objects.find((o) => o.kind === "Secret")!;
    // The earlier layout (before session 37): the settings in the container's env, the Secret
    // holding the parameters and the gateway secret only (so another content, another name).
    const settings = Object.entries(secret.data!).filter(([k]) => SHOWN_SETTINGS.has(k)).map(([name, v]) => ({ name, value: Buffer.from(v, "base64").toString() }));
    const oldSecret = { ...secret, metadata: { ...secret.metadata, name: "parameters-0123456789ab" }, data: Object.fromEntries(Object.entries(secret.data!).filter(([k]) => !SHOWN_SETTINGS.has(k))) };
    const oldDeployment = structuredClone(objects.find((o) => o.kind === "Deployment")!);
    const c = oldDeployment.spec!.template!.spec!.containers[0]!;
    c.env = [...settings, ...(c.env ?? [])];
    c.envFrom = [{ secretRef: { name: oldSecret.metadata!.name } }];
    const api = KubernetesObjectApi.makeApiClient(kc);
    for (const o of objects.map((x) => (x.kind === "Secret" ? oldSecret : x.kind === "Deployment" ? oldDeployment : x))) await api.patch(o, undefined, undefined, "flowplane", true, PatchStrategy.ServerSideApply);
    await until("the old version's pod ready", async () => (await podsOf(ns, 1)).some((p) => p.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True")));
    await until("the driver saw it", () => driver.endpoints(ns, 1).length === 1, 30_000);
    const before = (await apps.listNamespacedReplicaSet({ namespace: ns })).items.length;
    // The new control plane's first pass: same generation, nothing edited.
    await driver.apply(spec(ns));
    const live = (await apps.readNamespacedDeployment({ name: "runtime", namespace: ns })).spec!.template.spec!.containers[0]!;
    assert.deepEqual(live.env?.map((e) => e.name), ["FLOWPLANE_REPLICA"], "the settings left the template (server-side apply drops what flowplane no longer sends)");
    assert.deepEqual(live.envFrom?.map((e) => e.secretRef?.name), [secret.metadata!.name]);
    const now = await core.readNamespacedSecret({ name: secret.metadata!.name!, namespace: ns });
    assert.equal(Buffer.from(now.data!.FLOWPLANE_LOG_LEVEL!, "base64").toString(), "info", "they are in the new Secret");
    assert.equal((await apps.listNamespacedReplicaSet({ namespace: ns })).items.length, before + 1, "one roll");
    // The old pods' Secret stays while they may still run; the new pod serves.
    assert.ok((await core.listNamespacedSecret({ namespace: ns })).items.some((x) => x.metadata?.name === oldSecret.metadata!.name));
    await until("the new pod ready", async () => (await podsOf(ns, 1)).some((p) => !p.metadata?.deletionTimestamp && p.spec?.containers[0]?.envFrom?.[0]?.secretRef?.name === secret.metadata!.name && p.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True")));
    await driver.apply(spec(ns));
    await assertEndpointsResolve(ns);
  });
});
