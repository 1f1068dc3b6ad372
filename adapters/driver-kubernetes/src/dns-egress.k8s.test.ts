import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { KubeConfig, NetworkingV1Api, type V1NetworkPolicyEgressRule } from "@kubernetes/client-node";
import { DEFAULT_RESOURCES, type DnsPeer, type RuntimeSpec } from "@flowplane/core";
import { KubernetesDriver } from "./kubernetes-driver.js";

/**
 * The NetworkPolicy's DNS egress (core's dns-egress.ts, FLOWPLANE_KUBERNETES_DNS) as the test
 * cluster's API server accepts and stores it: `node scripts/k8s/run-tests.mjs dns-egress`.
 * The API server validates the policy's shape (selectors, label keys, CIDRs), so an accepted
 * apply proves the rendering is one a cluster takes; what it stores is what the CNI enforces.
 */
const kubeConfig = (): KubeConfig => {
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG!);
  return kc;
};
const options = { image: "flowplane/runtime:0.1.0", systemNamespace: "flowplane", checksumKey: Buffer.alloc(32, 5), deleteTimeoutMs: 60_000, installation: "dns-egress-tests" };

describe("Kubernetes driver: the NetworkPolicy's DNS egress", { timeout: 180_000 }, () => {
  const net = kubeConfig().makeApiClient(NetworkingV1Api);
  const ns = `k8s-dns-${Date.now().toString(36)}`;
  const drivers: KubernetesDriver[] = [];
  const driverWith = async (dns?: DnsPeer[]) => {
    const d = await KubernetesDriver.create({ kubeConfig: kubeConfig(), ...options, ...(dns ? { dns } : {}) });
    drivers.push(d);
    return d;
  };
  after(async () => {
    await drivers[0]?.delete(ns).catch(() => undefined);
    for (const d of drivers) await d.close();
  });
  const spec: RuntimeSpec = {
    deploymentId: "8d0c8c0e-1111-4222-8333-444455556666", projectId: "p-1", resourceName: ns, generation: 1, revision: 1,
    bundle: { name: "chat", version: "v1", digest: `sha256:${"b".repeat(64)}` },
    bundleUrl: "http://flowplane.flowplane.svc.cluster.local:8080/internal/v1/deployments/x/bundle", identityToken: "", gatewaySecret: "gw",
    engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
    resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: { OPENAI_API_KEY: "sk-dns" },
  };
  /** The stored policy's rules that open port 53, as plain data (the client's objects, undefined fields dropped). */
  const dnsRules = async (): Promise<unknown[]> => {
    const np = await net.readNamespacedNetworkPolicy({ name: "runtime", namespace: ns });
    return JSON.parse(JSON.stringify((np.spec?.egress ?? []).filter((r: V1NetworkPolicyEgressRule) => r.ports?.some((p) => p.port === 53)))) as unknown[];
  };
  const both = (ports: number[]) => ports.flatMap((port) => [{ protocol: "UDP", port }, { protocol: "TCP", port }]);
  const selector = (namespace: string, labels: Record<string, string>) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } }, podSelector: { matchLabels: labels } });

  it("by default: CoreDNS's pods in kube-system only, on 53, 1053 and 5353; no rule opens 53 to every address", async () => {
    await (await driverWith()).apply(spec);
    assert.deepEqual(await dnsRules(), [{ to: [selector("kube-system", { "k8s-app": "kube-dns" })], ports: both([53, 1053, 5353]) }]);
  });

  it("a control plane restarted with FLOWPLANE_KUBERNETES_DNS set puts the new rules on an existing deployment at its next pass, the old one gone", async () => {
    const dns: DnsPeer[] = [
      { kind: "pods", namespace: "openshift-dns", labelKey: "dns.operator.openshift.io/daemonset-dns", labelValue: "default" },
      { kind: "addresses", cidr: "169.254.20.10/32" },
      { kind: "addresses", cidr: "fd00::a/128" },
    ];
    // The same spec, as the reconciler's next pass sends it: only the rendering changed.
    await (await driverWith(dns)).apply(spec);
    assert.deepEqual(await dnsRules(), [
      { to: [selector("openshift-dns", { "dns.operator.openshift.io/daemonset-dns": "default" })], ports: both([53, 1053, 5353]) },
      { to: [{ ipBlock: { cidr: "169.254.20.10/32" } }, { ipBlock: { cidr: "fd00::a/128" } }], ports: both([53]) },
    ]);
  });
});
