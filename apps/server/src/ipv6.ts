/** IPv6 addresses as numbers, for the control plane's own checks (config's CIDR ranges, the failed-auth budget's /64). */

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
