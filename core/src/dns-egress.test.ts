import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_RESOURCES } from "./deployment.js";
import type { RuntimeSpec } from "./driver.js";
import { DNS_POD_PORTS, type DnsPeer } from "./dns-egress.js";
import { renderManifests, type ManifestOptions } from "./manifests.js";

/** The NetworkPolicy's DNS rules as renderManifests writes them (FLOWPLANE_KUBERNETES_DNS). */
const spec: RuntimeSpec = {
  deploymentId: "0b3f5c1e-8a2d-4c1b-9e7f-1a2b3c4d5e6f", projectId: "9f8e7d6c-5b4a-4321-8765-abcdefabcdef", resourceName: "dns-x1y2z3", generation: 1,
  bundle: { name: "chat", version: "v1", digest: `sha256:${"a".repeat(64)}` },
  bundleUrl: "http://flowplane.flowplane.svc.cluster.local:8080/internal/v1/deployments/x/bundle", identityToken: "", gatewaySecret: "gw",
  engine: "native", logLevel: "info", requestTimeoutSeconds: 60, networkAccess: "public", resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: {},
};
const options: ManifestOptions = { image: "flowplane/runtime:0.1.0", systemNamespace: "flowplane", checksumKey: Buffer.alloc(32, 7) };

type Rule = { to?: Record<string, unknown>[]; ports?: { protocol: string; port: number }[] };
const egress = (o: ManifestOptions): Rule[] => (renderManifests(spec, o).find((x) => x.kind === "NetworkPolicy")!.spec as { egress: Rule[] }).egress;
/** The rules that open port 53: DNS's. */
const dnsRules = (o: ManifestOptions) => egress(o).filter((r) => r.ports?.some((p) => p.port === 53));
const both = (ports: readonly number[]) => ports.flatMap((port) => [{ protocol: "UDP", port }, { protocol: "TCP", port }]);
const kubeDns = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } };

describe("the NetworkPolicy's DNS egress", () => {
  it("by default goes to CoreDNS's pods in kube-system only, on 53 and the ports DNS pods listen on behind it", () => {
    assert.deepEqual(DNS_POD_PORTS, [53, 1053, 5353]);
    assert.deepEqual(dnsRules(options), [{ to: [kubeDns], ports: both([53, 1053, 5353]) }]);
    // Every rule that opens a DNS port names where it goes: none opens 53 to every address.
    for (const r of egress(options)) if (r.ports?.some((p) => [53, 1053, 5353].includes(p.port))) assert.ok(r.to?.length, JSON.stringify(r));
    // An empty list is the default too: a policy that resolves no name would fail every flow.
    assert.deepEqual(dnsRules({ ...options, dns: [] }), dnsRules(options));
    // And nothing else of the policy moved: the rules after DNS are the control plane's and the open ports'.
    assert.equal(egress(options).length, 3);
    assert.deepEqual(egress(options)[2]!.ports, [{ protocol: "TCP", port: 443 }, { protocol: "TCP", port: 5432 }]);
  });

  it("a selector entry: the labelled pods of that namespace, a prefixed label key kept whole (OpenShift)", () => {
    const dns: DnsPeer[] = [{ kind: "pods", namespace: "openshift-dns", labelKey: "dns.operator.openshift.io/daemonset-dns", labelValue: "default" }];
    assert.deepEqual(dnsRules({ ...options, dns }), [{
      to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "openshift-dns" } }, podSelector: { matchLabels: { "dns.operator.openshift.io/daemonset-dns": "default" } } }],
      ports: both([53, 1053, 5353]),
    }]);
  });

  it("an address entry: that range on port 53 alone (no Service translates it), and no selector of kube-dns", () => {
    const dns: DnsPeer[] = [{ kind: "addresses", cidr: "169.254.20.10/32" }, { kind: "addresses", cidr: "fd00::a/128" }];
    assert.deepEqual(dnsRules({ ...options, dns }), [{ to: [{ ipBlock: { cidr: "169.254.20.10/32" } }, { ipBlock: { cidr: "fd00::a/128" } }], ports: both([53]) }]);
  });

  it("both: the pods' rule and the addresses' rule, each peer in the rule of its kind, in the order given", () => {
    const dns: DnsPeer[] = [
      { kind: "addresses", cidr: "169.254.20.10/32" },
      { kind: "pods", namespace: "kube-system", labelKey: "k8s-app", labelValue: "kube-dns" },
      { kind: "addresses", cidr: "10.96.0.10/32" },
      { kind: "pods", namespace: "corp-dns", labelKey: "app", labelValue: "resolver" },
    ];
    assert.deepEqual(dnsRules({ ...options, dns }), [
      { to: [kubeDns, { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "corp-dns" } }, podSelector: { matchLabels: { app: "resolver" } } }], ports: both([53, 1053, 5353]) },
      { to: [{ ipBlock: { cidr: "169.254.20.10/32" } }, { ipBlock: { cidr: "10.96.0.10/32" } }], ports: both([53]) },
    ]);
    assert.equal(egress({ ...options, dns }).length, 4, "the two DNS rules, the control plane's, the open ports'");
  });
});
