import { isIP } from "node:net";
import type { DnsPeer } from "@flowplane/core";
import { checkCidr } from "./cidr.js";

/**
 * FLOWPLANE_KUBERNETES_DNS: where deployments' pods may send DNS queries (core's dns-egress.ts),
 * a comma list whose entries are either
 * - `<namespace>/<label key>=<label value>`: the pods with that label in that namespace, e.g.
 *   `kube-system/k8s-app=kube-dns` (the default) or
 *   `openshift-dns/dns.operator.openshift.io/daemonset-dns=default`; or
 * - an IP address or CIDR range, e.g. `169.254.20.10` (NodeLocal DNSCache) or `10.0.0.2/32`.
 *
 * Unambiguous because of what Kubernetes allows in each part: a namespace name holds no `/`, so
 * the first `/` ends it (a label key's own prefix, `dns.operator.openshift.io/`, comes after
 * it); neither a key nor a value holds `=`, so the one `=` splits them; an address or range
 * holds no `=`, so an entry with one is a selector. One label per entry (the comma separates
 * entries); pods that need two labels to be told apart are not expressible, which no DNS
 * distribution known here needs.
 */
export const DEFAULT_KUBERNETES_DNS = "kube-system/k8s-app=kube-dns";

export type DnsParse = { ok: true; peers: DnsPeer[] } | { ok: false; errors: { entry: string; reason: string }[] };

/** A namespace name (RFC 1123 label). */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A label key's name part and a label value: at most 63, alphanumeric at both ends, `-_.` inside. */
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A label key's optional prefix: a DNS subdomain of at most 253 characters. */
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Blank (unset, or a compose file's empty `${VAR}`): the default, as for the number variables. */
export function parseKubernetesDns(text: string): DnsParse {
  const entries = text.split(",").map((x) => x.trim()).filter((x) => x !== "");
  if (entries.length === 0) return parseKubernetesDns(DEFAULT_KUBERNETES_DNS);
  const peers: DnsPeer[] = [];
  const errors: { entry: string; reason: string }[] = [];
  for (const entry of entries) {
    const r = entry.includes("=") ? selectorOf(entry) : addressOf(entry);
    if ("reason" in r) errors.push({ entry, reason: r.reason });
    else peers.push(r);
  }
  return errors.length ? { ok: false, errors } : { ok: true, peers };
}

function selectorOf(entry: string): DnsPeer | { reason: string } {
  const slash = entry.indexOf("/");
  const eq = entry.indexOf("=");
  if (slash < 0 || slash > eq) return { reason: "a selector is namespace/label=value" };
  const namespace = entry.slice(0, slash);
  const labelKey = entry.slice(slash + 1, eq);
  const labelValue = entry.slice(eq + 1);
  if (!NAMESPACE.test(namespace)) return { reason: `'${namespace}' is not a namespace name` };
  const keySlash = labelKey.indexOf("/");
  const [prefix, name] = keySlash < 0 ? [undefined, labelKey] : [labelKey.slice(0, keySlash), labelKey.slice(keySlash + 1)];
  if (!NAME.test(name) || (prefix !== undefined && (prefix.length > 253 || !PREFIX.test(prefix)))) return { reason: `'${labelKey}' is not a label key` };
  if (!NAME.test(labelValue)) return { reason: `'${labelValue}' is not a label value (1 to 63 letters, digits, '-', '_' or '.', a letter or digit at each end)` };
  return { kind: "pods", namespace, labelKey, labelValue };
}

function addressOf(entry: string): DnsPeer | { reason: string } {
  // A lone address is its own /32 or /128.
  const family = isIP(entry);
  const text = family === 4 ? `${entry}/32` : family === 6 ? `${entry}/128` : entry;
  if (/\/0+$/.test(text)) return { reason: "a range of every address would let DNS go anywhere" };
  const c = checkCidr(text);
  if (!c.ok) return { reason: c.should ? `write ${c.should}` : "not an IP address or CIDR range" };
  return { kind: "addresses", cidr: c.cidr };
}
