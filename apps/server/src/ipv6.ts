/** IPv6 addresses as numbers, for the control plane's own checks (config's CIDR ranges, the per-client budgets' /64). */
import { isIPv6 } from "node:net";

/** An IPv6 address's eight 16-bit groups (a zone, `%eth0`, dropped; a dotted IPv4 tail is two groups). */
export function ipv6Groups(address: string): number[] {
  let a = address.replace(/%.*$/, "");
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (v4) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number) as [number, number, number, number];
    a = a.slice(0, v4.index) + ((b0 << 8) | b1).toString(16) + ":" + ((b2 << 8) | b3).toString(16);
  }
  const [head, tail] = a.split("::") as [string, string | undefined];
  const part = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const h = part(head);
  const t = part(tail);
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/**
 * One client, one key, however its address is written: a dual-stack listener sees an IPv4
 * client as `::ffff:a.b.c.d`, while a PROXY line (HAProxy's hand-off) or an IPv4 listener
 * names it `a.b.c.d`; both are the same client. An IPv6 client is counted by its /64 (`prefix`
 * 64): a single host, or a single customer of a provider, is routinely handed a whole /64
 * (SLAAC and privacy addresses pick from it freely), so a per-address budget would not bound
 * anyone who used a fresh address for each try. `prefix` 128 where each address is one client
 * (pods, which share their node's /64).
 */
export function clientKey(address: string, prefix: 64 | 128 = 64): string {
  if (!isIPv6(address)) return address;
  const g = ipv6Groups(address);
  // IPv4-mapped (`::ffff:a.b.c.d`, however written) is the IPv4 address, per address.
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join(".");
  const hex = g.map((x) => x.toString(16));
  return prefix === 128 ? hex.join(":") : `${hex.slice(0, 4).join(":")}::/64`;
}
