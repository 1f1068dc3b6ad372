import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Logger } from "@flowplane/core";

/**
 * How long a name's address is used before it is looked up again. A replica's endpoint on
 * Kubernetes is its revision's Service name (`runtime-r3.<ns>.svc.cluster.local`), whose
 * ClusterIP lasts as long as the Service; a Service made again under the same name gets another,
 * and HAProxy's new connections follow it within this bound (the workers' undici looks the name
 * up on each new connection, and keeps a pooled one as long).
 */
export const ADDRESS_TTL_MS = 5_000;
/**
 * The oldest an address may be (from the start of the lookup that found it) and still be used:
 * while later lookups fail for a moment (a resolver's timeout, a CoreDNS restart) or are slow
 * to answer, the address last found keeps the route on the fast path, where the workers, its
 * other path, would need the same resolver for every new connection; past this, the route goes
 * to them. A name that does not exist (ENOTFOUND) loses its address at once.
 */
export const ADDRESS_MAX_AGE_MS = 30_000;
/** A failed lookup is tried again this soon (not after ADDRESS_TTL_MS): a moment's failure costs little. */
export const RETRY_MS = 1_000;

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
  /** A name's IP address (default: the system resolver, the name looked up as absolute). Tests pass their own. */
  resolve?: (host: string) => Promise<string>;
}

interface Entry {
  /** The last address found, and when the lookup that found it began. */
  address: string | undefined;
  foundAt: number;
  /** When the last lookup began. */
  triedAt: number;
  /** The last lookup failed. */
  failed: boolean;
  looking: boolean;
}

/**
 * The system resolver, with a dotted name looked up as absolute (`x.svc.cluster.local.`): a pod's
 * resolv.conf has `ndots:5`, so a Service's four-dot name would first be tried under every search
 * domain (about four round trips, an A and an AAAA query each) before itself.
 */
const systemResolve = async (host: string): Promise<string> => (await lookup(host.includes(".") && !host.endsWith(".") ? `${host}.` : host)).address;

/** A lookup that says the name does not exist, as against one that could not say (a timeout, a resolver down). */
const notFound = (err: unknown): boolean => ["ENOTFOUND", "ENODATA", "EAI_NONAME"].includes((err as { code?: unknown }).code as string);

/**
 * The IP addresses of replica endpoints given by name, for HAProxy. Its dynamic servers (2.6,
 * `add server`) take an IP address only: a server added with a name is registered with no
 * address and every call to it is answered 503 (measured). So an endpoint named by a host name
 * goes on the fast path only once its name has an address here; until then, and once a lookup
 * finds no such name or the address is ADDRESS_MAX_AGE_MS old, its route stays with the
 * workers, which answer it as before. One lookup per name at a time; an answer to a lookup of
 * an entry forgotten since is dropped.
 */
export class ServerAddresses {
  private readonly entries = new Map<string, Entry>();
  private readonly resolve: (host: string) => Promise<string>;

  constructor(private readonly o: ServerAddressesOptions) {
    this.resolve = o.resolve ?? systemResolve;
  }

  /** The server for an endpoint URL's host and port, or undefined while its name has no address. */
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
    const now = this.o.now();
    let e = this.entries.get(host);
    if (e === undefined) {
      e = { address: undefined, foundAt: -Infinity, triedAt: -Infinity, failed: false, looking: false };
      this.entries.set(host, e);
    }
    if (!e.looking && now - e.triedAt >= (e.failed ? RETRY_MS : ADDRESS_TTL_MS)) this.lookUp(host, e, now);
    return e.address !== undefined && now - e.foundAt < ADDRESS_MAX_AGE_MS ? e.address : undefined;
  }

  private lookUp(host: string, e: Entry, started: number): void {
    e.looking = true;
    e.triedAt = started;
    this.resolve(host).then(
      (ip) => (isIP(ip) !== 0 ? this.found(host, e, ip, started) : this.failedWith(host, e, `not an IP address: ${ip.slice(0, 100)}`, true)),
      (err: unknown) => this.failedWith(host, e, err instanceof Error ? err.message : String(err), notFound(err)),
    );
  }

  private found(host: string, e: Entry, ip: string, started: number): void {
    e.looking = false;
    if (this.entries.get(host) !== e) return; // forgotten meanwhile: a newer entry's lookups decide
    const changed = e.address !== ip;
    e.address = ip;
    e.foundAt = started;
    e.failed = false;
    if (changed) this.o.onChange();
  }

  private failedWith(host: string, e: Entry, error: string, gone: boolean): void {
    e.looking = false;
    if (this.entries.get(host) !== e) return;
    // One warning per run of failures, not one per retry.
    if (!e.failed) this.o.log.warn({ host, err: error }, gone ? "haproxy: a replica endpoint's name has no address; its calls go to the gateway workers" : "haproxy: a replica endpoint's name could not be looked up; its last address is used for now");
    e.failed = true;
    if (gone && e.address !== undefined) {
      e.address = undefined;
      this.o.onChange();
    }
  }
}
