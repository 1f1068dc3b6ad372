/**
 * Where a flow's own requests may go. The URL, API Request and Web Search components fetch
 * addresses a caller can name in a chat message, so without a rule any caller of such a flow
 * could make the replica fetch what only the replica's machine reaches: the control plane's
 * loopback listeners, other local services, a cloud's metadata service (169.254.169.254) and
 * the credentials it hands out. lfx 1.13 refuses those addresses in the same components by
 * default (`lfx/utils/ssrf_protection.py`, with `LANGFLOW_SSRF_ALLOWED_HOSTS` as the operator's
 * exceptions); the native engine does the same, with the operator's allowed hosts
 * (FLOWPLANE_MODEL_HOSTS, the list lfx gets as LANGFLOW_SSRF_ALLOWED_HOSTS).
 *
 * The check is made on the address each connection is opened to (undici's connector: the DNS
 * answer a socket then uses, or the IP literal it is given), so neither a name that resolves to
 * a private address, nor a DNS answer that changes after a check, nor a redirect to a private
 * address gets past it. On Kubernetes the NetworkPolicy refuses the same ranges below the
 * engine (core/src/manifests.ts); on the local driver this is the only rule.
 */

import { BlockList, isIP, type LookupFunction } from "node:net";
import type { LookupAddress, lookup as dnsLookupFn } from "node:dns";

/** lfx's blocked ranges (`get_blocked_ip_ranges`), and NAT64's, which reach IPv4 behind it. */
const BLOCKED = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24],
  ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) BLOCKED.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::1", 128], ["::", 128], ["100::", 64], ["2001::", 23], ["2001:db8::", 32], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8], ["64:ff9b::", 96], ["64:ff9b:1::", 48],
] as const) BLOCKED.addSubnet(net, bits, "ipv6");

const bare = (host: string): string => host.replace(/^\[|\]$/g, "").toLowerCase();

/** An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is the IPv4 address it carries. */
function asFamily(address: string): [string, "ipv4" | "ipv6"] {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return [mapped, "ipv4"];
  return [address, isIP(address) === 4 ? "ipv4" : "ipv6"];
}

/** Loopback, private, link-local, shared, documentation, multicast or reserved: lfx's list. */
export function isBlockedAddress(address: string): boolean {
  const [a, family] = asFamily(bare(address));
  return BLOCKED.check(a, family);
}

/** The operator's exceptions: host names as written, IP addresses and CIDR ranges. */
export class AllowedHosts {
  private readonly names = new Set<string>();
  private readonly ranges = new BlockList();

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = bare(raw.trim());
      if (!entry) continue;
      const [net, bits] = entry.split("/");
      const family = isIP(net ?? "");
      if (family && bits !== undefined && /^\d{1,3}$/.test(bits)) this.ranges.addSubnet(net!, Number(bits), family === 4 ? "ipv4" : "ipv6");
      else if (family) this.ranges.addAddress(net!, family === 4 ? "ipv4" : "ipv6");
      else this.names.add(entry);
    }
  }

  hasName(host: string): boolean {
    return this.names.has(bare(host));
  }

  hasAddress(address: string): boolean {
    const [a, family] = asFamily(bare(address));
    return this.ranges.check(a, family);
  }
}

/** Refused before a byte is sent: the message a run's log or error shows. */
export class OutboundRefusedError extends Error {
  constructor(host: string, address: string) {
    super(
      `${host === address ? `the address ${address}` : `${host} (${address})`} is on a loopback, private or reserved network, which flows may not reach unless the operator allows it (FLOWPLANE_MODEL_HOSTS)`,
    );
    this.name = "OutboundRefusedError";
  }
}

/** A refusal, or null: an address a socket is about to be opened to, for a URL naming `host`. */
export function refusal(host: string, address: string, allowed: AllowedHosts): OutboundRefusedError | null {
  if (allowed.hasName(host) || allowed.hasAddress(address) || !isBlockedAddress(address)) return null;
  return new OutboundRefusedError(bare(host), bare(address));
}

/** `dns.lookup` with every answer checked: the socket connects to what was checked. */
export function guardedLookup(allowed: AllowedHosts, dnsLookup: typeof dnsLookupFn): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, options, (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => {
      if (err) return callback(err, "", 0);
      const answers = Array.isArray(address) ? address : [{ address, family: family ?? 0 }];
      for (const a of answers) {
        const refused = refusal(hostname, a.address, allowed);
        if (refused) return callback(Object.assign(refused, { code: "EFLOWPLANEBLOCKED" }) as NodeJS.ErrnoException, "", 0);
      }
      (callback as (e: null, a: string | LookupAddress[], f?: number) => void)(null, address, family);
    });
  };
}

/**
 * A fetch whose every connection goes through the checks above (undici's, imported on first
 * use: a replica whose flows fetch nothing never loads it). One connection pool per engine.
 * A refused request rejects as fetch does (TypeError "fetch failed"), the refusal its `cause`.
 */
export function guardedFetch(allowedHosts: readonly string[]): typeof fetch {
  const allowed = new AllowedHosts(allowedHosts);
  let made: Promise<typeof fetch> | undefined;
  const make = async (): Promise<typeof fetch> => {
    // Imported here: node:dns sets up a resolver at load, part of every replica's start otherwise.
    const [undici, dns] = await Promise.all([import("undici"), import("node:dns")]);
    const connect = undici.buildConnector({ lookup: guardedLookup(allowed, dns.lookup) });
    const agent = new undici.Agent({
      connect: (opts, callback) => {
        // An IP literal is connected to without a lookup: checked here.
        const host = bare(opts.hostname);
        const refused = isIP(host) ? refusal(host, host, allowed) : null;
        if (refused) return callback(refused, null);
        return connect(opts, callback);
      },
    });
    return ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
      undici.fetch(input as Parameters<typeof undici.fetch>[0], { ...(init as object), dispatcher: agent } as Parameters<typeof undici.fetch>[1])) as unknown as typeof fetch;
  };
  return (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => (await (made ??= make()))(input, init)) as typeof fetch;
}

/** What a failed fetch says: the refusal or network error under fetch's generic "fetch failed". */
export function fetchFailure(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : (err as Error).message;
}

/**
 * A URL as an error or a log line shows it: no user, password, query or fragment, where a flow
 * may carry a credential (`?api_key=...` from a parameter, a base URL's `user:password@`); the
 * failure is the caller's to read. One that does not parse is not shown at all.
 */
export function shownUrl(url: string | URL): string {
  try {
    const u = typeof url === "string" ? new URL(url) : url;
    return `${u.origin}${u.pathname}`;
  } catch {
    return "the configured URL";
  }
}
