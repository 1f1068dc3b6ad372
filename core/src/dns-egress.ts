/**
 * Where a deployment's pods may send DNS queries (FLOWPLANE_KUBERNETES_DNS): the cluster's DNS
 * only, never port 53 at any address. Without a `to`, the rule let a flow's code (custom Python
 * on lfx included) reach anything listening on 53 at any address: other teams' pods and
 * internal services, another network's DNS server, the node, all of which the 443/5432 rule
 * keeps out (EGRESS_EXCLUDED_V4/V6).
 */

/**
 * One place DNS queries may go:
 * - `pods`: the pods carrying label `labelKey=labelValue` in namespace `namespace` (CoreDNS:
 *   `kube-system`, `k8s-app=kube-dns`). A NetworkPolicy is enforced after the Service's DNAT,
 *   so selecting the DNS pods is what lets a query to the kube-dns Service's address through.
 * - `addresses`: an IP range (a CIDR; a single address as /32 or /128), for a DNS server no
 *   Service fronts: NodeLocal DNSCache's link-local 169.254.20.10, a DNS server of the network.
 * Each checked by the caller (the server's config): a DNS-label namespace, a valid label, a
 * canonical network CIDR with a prefix of at least 1.
 */
export type DnsPeer =
  | { kind: "pods"; namespace: string; labelKey: string; labelValue: string }
  | { kind: "addresses"; cidr: string };

/** CoreDNS (or kube-dns) as kubeadm, GKE, EKS, AKS and k3s run it: `kube-system`, `k8s-app=kube-dns`. */
export const DEFAULT_DNS_PEERS: readonly DnsPeer[] = Object.freeze([{ kind: "pods", namespace: "kube-system", labelKey: "k8s-app", labelValue: "kube-dns" }]);

/**
 * The ports a DNS pod may listen on behind its Service's port 53. The policy sees the pod's own
 * port (after DNAT), not the Service's, so a rule naming only 53 would drop every query to a DNS
 * that listens elsewhere:
 * - 53: kubeadm's CoreDNS, EKS's (eks-distro), k3s', GKE's kube-dns (its dnsmasq container), as
 *   their manifests have it; AKS's, whose manifest is not public, is taken to be the same;
 * - 5353: OpenShift's CoreDNS (openshift-dns, Corefile `.:5353`, Service port 53 → `dns`);
 * - 1053: CoreDNS run without NET_BIND_SERVICE (vcluster's, rootless installs).
 * Only the selected DNS pods are reached on them; an address is reached on 53 alone (below).
 */
export const DNS_POD_PORTS: readonly number[] = Object.freeze([53, 1053, 5353]);

type PolicyPort = { protocol: "UDP" | "TCP"; port: number };
type EgressPeer =
  | { namespaceSelector: { matchLabels: Record<string, string> }; podSelector: { matchLabels: Record<string, string> } }
  | { ipBlock: { cidr: string } };
type DnsEgressRule = { to: EgressPeer[]; ports: PolicyPort[] };

const both = (port: number): PolicyPort[] => [{ protocol: "UDP", port }, { protocol: "TCP", port }];

/**
 * The NetworkPolicy egress rules for DNS: one for the selected pods (on DNS_POD_PORTS), one for
 * the listed addresses (on 53 only: a query to an address is not translated, it goes to the
 * port resolv.conf implies). An empty list renders the default (DEFAULT_DNS_PEERS): a policy
 * with no way to resolve a name would fail every flow that calls out.
 */
export function dnsEgressRules(peers: readonly DnsPeer[] | undefined): DnsEgressRule[] {
  const list = peers && peers.length > 0 ? peers : DEFAULT_DNS_PEERS;
  const pods = list.flatMap((p): EgressPeer[] => (p.kind === "pods"
    ? [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": p.namespace } }, podSelector: { matchLabels: { [p.labelKey]: p.labelValue } } }]
    : []));
  const addresses = list.flatMap((p): EgressPeer[] => (p.kind === "addresses" ? [{ ipBlock: { cidr: p.cidr } }] : []));
  return [
    ...(pods.length ? [{ to: pods, ports: DNS_POD_PORTS.flatMap(both) }] : []),
    ...(addresses.length ? [{ to: addresses, ports: both(53) }] : []),
  ];
}
