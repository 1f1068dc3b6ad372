import { isIP } from "node:net";
import { ipv6Groups } from "./ipv6.js";

/**
 * A CIDR range as a NetworkPolicy's `except` takes it, in the form the strictest API servers
 * accept (Kubernetes' StrictIPCIDRValidation): an IPv4 or IPv6 network address with no bit set
 * past its prefix, IPv6 in its canonical (RFC 5952) form, and a prefix of at least 1, since an
 * `except` lies strictly inside 0.0.0.0/0 or ::/0. Else not ok, with the network address the
 * range should have been written with, for the error. An IPv4-mapped IPv6 range (::ffff:a.b.c.d)
 * is refused: the API server takes it for IPv4 and refuses it inside ::/0. A range any API server
 * refuses would fail every deployment's NetworkPolicy.
 */
export function checkCidr(text: string): { ok: true; cidr: string } | { ok: false; should?: string } {
  const m = /^([0-9A-Fa-f.:]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return { ok: false };
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  if (family === 0 || bits < 1 || bits > (family === 4 ? 32 : 128)) return { ok: false };
  // The URL parser writes an IPv6 address in its canonical form.
  const address = family === 4 ? m[1]! : new URL(`http://[${m[1]!}]/`).hostname.slice(1, -1);
  if (family === 6 && /^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(address)) return { ok: false };
  // The address as a number, masked to the prefix: it must be the range's own network address.
  const value = family === 4 ? address.split(".").reduce((n, o) => (n << 8n) | BigInt(o), 0n) : ipv6Value(address);
  const width = BigInt(family === 4 ? 32 : 128);
  const network = (value >> (width - BigInt(bits))) << (width - BigInt(bits));
  if (network !== value) return { ok: false, should: `${family === 4 ? ipv4Text(network) : ipv6Text(network)}/${bits}` };
  return { ok: true, cidr: `${address}/${bits}` };
}

/** A canonical IPv6 address (the URL parser's) as a 128-bit number. */
const ipv6Value = (address: string): bigint => ipv6Groups(address).reduce((n, g) => (n << 16n) | BigInt(g), 0n);

const ipv4Text = (n: bigint) => [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join(".");
const ipv6Text = (n: bigint) => new URL(`http://[${[112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((n >> s) & 0xffffn).toString(16)).join(":")}]/`).hostname.slice(1, -1);
