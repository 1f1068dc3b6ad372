import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { DEFAULT_RESOURCES } from "@flowplane/core";
import { KubernetesDriver } from "@flowplane/driver-kubernetes";
import { repoRoot } from "@flowplane/testkit";

/**
 * deploy/kubernetes/flowplane.yaml against a real API server: every object is accepted by the
 * server's own validation (strict field validation), and the RBAC it grants is enough for the
 * Kubernetes driver: the driver runs a whole deployment's life with the control plane's
 * ServiceAccount token, and that account can do nothing beyond it.
 */
describe("installing flowplane on a cluster", { timeout: 300_000 }, () => {
  const admin = new KubeConfig();
  admin.loadFromFile(process.env.KUBECONFIG!);
  const objects = KubernetesObjectApi.makeApiClient(admin);
  const core = admin.makeApiClient(CoreV1Api);
  after(async () => {
    await core.deleteNamespace({ name: "flowplane" }).catch(() => undefined);
  });

  it("applies cleanly with strict validation", async () => {
    const docs = parseAllDocuments(await readFile(join(repoRoot, "deploy/kubernetes/flowplane.yaml"), "utf8")).map((d) => d.toJSON() as KubernetesObject);
    assert.deepEqual(docs.map((d) => d.kind).sort(), ["ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding", "Deployment", "Deployment", "Namespace", "Service", "Service", "ServiceAccount", "ServiceAccount", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]);
    for (const d of docs) {
      // Applied for real (a test cluster): the RBAC is exercised below. fieldValidation defaults to Strict for apply.
      await objects.patch(d, undefined, undefined, "flowplane-install-test", true, PatchStrategy.ServerSideApply);
    }
  });

  it("grants the control plane exactly what the driver needs", async () => {
    const tr = await core.createNamespacedServiceAccountToken({
      name: "flowplane-control-plane", namespace: "flowplane",
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences: [], expirationSeconds: 600 } },
    });
    const cluster = admin.getCurrentCluster()!;
    const asControlPlane = new KubeConfig();
    asControlPlane.loadFromOptions({
      clusters: [{ name: "c", server: cluster.server, skipTLSVerify: true }],
      users: [{ name: "cp", token: tr.status!.token }],
      contexts: [{ name: "cp", cluster: "c", user: "cp" }],
      currentContext: "cp",
    });
    // The manifest's admission policy is loaded by the API server a moment after it was applied:
    // wait for it (a dry run, so nothing is written were it not live), so the driver's whole life
    // below runs under it.
    const probe = asControlPlane.makeApiClient(CoreV1Api);
    for (const deadline = Date.now() + 30_000; ;) {
      const refused = await probe.createNamespacedSecret({ namespace: "default", dryRun: "All", body: { metadata: { name: "policy-probe" }, stringData: { k: "v" } } }).then(() => false, (e: { body?: unknown }) => /writes only in the namespaces of its installation/.test(String(e.body)));
      if (refused) break;
      if (Date.now() > deadline) assert.fail("the manifest's admission policy never became live");
      await new Promise((r) => setTimeout(r, 250));
    }
    // The installation the manifest's policy names: FLOWPLANE_INSTALLATION's default (no other test uses it).
    const driver = await KubernetesDriver.create({ kubeConfig: asControlPlane, image: "flowplane/runtime:0.1.0", systemNamespace: "flowplane", checksumKey: Buffer.alloc(32), deleteTimeoutMs: 60_000, installation: "default" });
    const name = `rbac-check-${Date.now().toString(36)}`;
    try {
      await driver.apply({
        deploymentId: "8e1f0a6b-0000-4000-8000-000000000001", projectId: "p", resourceName: name, generation: 1,
        bundle: { name: "b", version: "1", digest: `sha256:${"c".repeat(64)}` }, bundleUrl: "http://flowplane.flowplane.svc:8080/x", identityToken: "", gatewaySecret: "gw",
        engine: "native", logLevel: "info", requestTimeoutSeconds: 10, networkAccess: "public", resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: { K: "v" },
      });
      const deadline = Date.now() + 120_000;
      while ((await driver.observe(name)).replicas.filter((r) => r.state === "ready").length !== 1) {
        if (Date.now() > deadline) assert.fail("not ready as the control plane's account");
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok((await driver.list()).includes(name));
      await driver.delete(name);
    } finally {
      await driver.close();
    }
    // The replicas' logs (GET .../logs) are allowed (a missing pod is a 404, not a 403)...
    const limited = asControlPlane.makeApiClient(CoreV1Api);
    await assert.rejects(limited.readNamespacedPodLog({ name: "x", namespace: "default" }), (e: { code?: number }) => e.code === 404);
    // ...it reads no Secret, anywhere (old parameters Secrets go with a deletecollection)...
    await assert.rejects(limited.listNamespacedSecret({ namespace: "default", labelSelector: "flowplane.io/parameters=true" }), (e: { code?: number }) => e.code === 403);
    await assert.rejects(limited.readNamespacedSecret({ namespace: "kube-system", name: "x" }), (e: { code?: number }) => e.code === 403);
    // ...and nothing more: no exec into a pod, no ConfigMaps.
    await assert.rejects(limited.connectPostNamespacedPodExec({ name: "x", namespace: "default", command: "sh" }), (e: { code?: number }) => e.code === 403);
    await assert.rejects(limited.listNamespacedConfigMap({ namespace: "default" }), (e: { code?: number }) => e.code === 403);
    // Its writes stop at flowplane's namespaces (the manifest's admission policy): not in `default`,
    // nor on anyone else's namespace, which it can neither label as its own nor delete (one made
    // for this test stands for kube-system: were the policy missing, nothing of the cluster's is lost).
    const refused = (e: { code?: number; body?: unknown }) => e.code === 403 && /writes only in the namespaces of its installation/.test(String(e.body));
    await assert.rejects(limited.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "not-flowplanes" }, stringData: { k: "v" } } }), refused);
    const foreign = `someone-else-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name: foreign } } });
    try {
      await assert.rejects(limited.patchNamespace({ name: foreign, body: [{ op: "add", path: "/metadata/labels/app.kubernetes.io~1managed-by", value: "flowplane" }] }), refused);
      await assert.rejects(limited.deleteNamespace({ name: foreign }), refused);
      const still = await core.readNamespace({ name: foreign });
      assert.equal(still.status?.phase, "Active");
      assert.equal(still.metadata?.labels?.["app.kubernetes.io/managed-by"], undefined);
    } finally {
      await core.deleteNamespace({ name: foreign }).catch(() => undefined);
    }
  });
});
