import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Logger } from "@flowplane/core";

/**
 * How long a name's address is used before it is looked up again. A replica's endpoint on
 * Kubernetes is its revision's Service name (`runtime-r3.<ns>.svc.cluster.local`), whose
 * ClusterIP lasts as long as the Service; a Service made again under the same name gets another,
 * and HAProxy's calls follow it within this bound (the workers' undici looks the name up on each
 * new connection, and keeps a pooled one as long).
 */
export const ADDRESS_TTL_MS = 5_000;

/** A replica's endpoint as HAProxy's dynamic server takes it. */
export interface ServerAddress {
  /** The server's name: the IP and port (`10.96.0.12:8000`, `fd00::5:8000`; a name may hold no `[`). */
  name: string;
  /** The address `add server` is given: `10.96.0.12:8000`, `[fd00::5]:8000`. */
  address: string;
}

export interface ServerAddressesOptions {
  log: Logger;
  /** Called when a name's address is first known or changed, so a pass programs it. */
  onChange: () => void;
  /** The clock of the entries' ages, in ms (the program's own). */
  now: () => number;
  /** A name's IP address (default: the system resolver, as undici uses it). Tests pass their own. */
  resolve?: (host: string) => Promise<string>;
}

interface Entry {
  address: string | undefined;
  at: number;
  looking: boolean;
  /** The last lookup failed (warned once until one succeeds). */
  failed: boolean;
}

/**
 * The IP addresses of replica endpoints given by name, for HAProxy. Its dynamic servers (2.6,
 * `add server`) take an IP address only: a server added with a name is registered with no
 * address and every call to it is answered 503 (measured). So an endpoint named by a host name
 * goes on the fast path only once its name has an address here; until then, and while a lookup
 * fails, its route stays with the workers, which answer it as before.
 */
export class ServerAddresses {
  private readonly entries = new Map<string, Entry>();
  private readonly resolve: (host: string) => Promise<string>;

  constructor(private readonly o: ServerAddressesOptions) {
    this.resolve = o.resolve ?? (async (host) => (await lookup(host)).address);
  }

  /** The server for an endpoint URL's host and port, or undefined while its name has no address yet. */
  serverFor(hostname: string, port: string): ServerAddress | undefined {
    // URL keeps an IPv6 literal's brackets in `hostname`.
    const bare = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
    const ip = isIP(bare) !== 0 ? bare : this.addressOf(bare);
    if (ip === undefined) return undefined;
    return { name: `${ip}:${port}`, address: isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}` };
  }

  /** Forgets the names no endpoint uses any more (the map stays as large as the fast path's endpoints). */
  retain(hostnames: ReadonlySet<string>): void {
    for (const host of this.entries.keys()) if (!hostnames.has(host)) this.entries.delete(host);
  }

  private addressOf(host: string): string | undefined {
    const e = this.entries.get(host);
    if (e === undefined) {
      this.entries.set(host, { address: undefined, at: this.o.now(), looking: false, failed: false });
      this.lookUp(host);
      return undefined;
    }
    // An expired address is still used while its next lookup runs: a slow resolver does not take
    // a route off the fast path, and a failed lookup does (below).
    if (this.o.now() - e.at >= ADDRESS_TTL_MS) this.lookUp(host);
    return e.address;
  }

  private lookUp(host: string): void {
    const e = this.entries.get(host);
    if (e === undefined || e.looking) return;
    e.looking = true;
    const started = this.o.now();
    this.resolve(host).then(
      (ip) => this.settle(host, isIP(ip) !== 0 ? ip : undefined, started, isIP(ip) !== 0 ? null : `not an IP address: ${ip.slice(0, 100)}`),
      (err: unknown) => this.settle(host, undefined, started, err instanceof Error ? err.message : String(err)),
    );
  }

  private settle(host: string, address: string | undefined, started: number, error: string | null): void {
    const e = this.entries.get(host);
    if (e === undefined) return; // forgotten meanwhile (retain)
    // One warning per run of failures, not one per retry.
    if (error !== null && !e.failed) this.o.log.warn({ host, err: error }, "haproxy: a replica endpoint's name has no address; its calls stay with the gateway workers");
    e.failed = error !== null;
    const changed = e.address !== address;
    e.address = address;
    e.at = started;
    e.looking = false;
    if (changed) this.o.onChange();
  }
}
