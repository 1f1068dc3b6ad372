/**
 * PostgreSQL for the native SQL component, through the `pg` driver (imported on first use, so
 * a replica whose flows run no SQL never loads it). One connection per query, closed after it:
 * lfx caches its engine per URL, but a replica's few SQL tool calls do not need a pool.
 */

import { isIP } from "node:net";
import { AllowedHosts, isBlockedAddress } from "./outbound.js";

export interface SqlResult {
  columns: string[];
  rows: Record<string, unknown>[];
}

export type SqlQuery = (url: string, query: string, signal: AbortSignal) => Promise<SqlResult>;

/**
 * An address the database may be reached at: the operator's exceptions (FLOWPLANE_MODEL_HOSTS,
 * read as outbound.ts reads it for the HTTP components: host names, IP addresses and CIDR
 * ranges; one setting, one meaning), else not on lfx's blocked networks.
 */
const reachable = (address: string, allowed: AllowedHosts) => allowed.hasAddress(address) || !isBlockedAddress(address);

/** Why a database URL is refused before connecting (lfx's connector SSRF check), or null. */
export function databaseUrlProblem(url: string, allowed: AllowedHosts): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "the database URL is not a URL";
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:" && parsed.protocol !== "postgresql+psycopg2:" && parsed.protocol !== "postgresql+psycopg:") {
    return `the native engine speaks PostgreSQL only (postgresql://...), not ${parsed.protocol.replace(/:$/, "")}`;
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (allowed.hasName(host)) return null;
  // As lfx's connector check does by default: no loopback, link-local or private address. An
  // address is checked against the blocked networks (a name starting "fd" is no IPv6 address);
  // a name other than localhost is checked by what it resolves to (resolveDatabaseHost).
  if (host === "" || host === "localhost" || host.endsWith(".localhost") || (isIP(host) !== 0 && !reachable(host, allowed))) {
    return `the database host ${host || "(none)"} is on a loopback or private network, which flows may not reach unless the operator allows it`;
  }
  return null;
}

/**
 * The address to connect to: the host resolved, every address it resolves to checked, so a
 * numeric (`2130706433`), IPv4-mapped (`::ffff:127.0.0.1`) or DNS name for a private address is
 * refused as the text check cannot; the caller connects to the address checked, so a DNS answer
 * that changes in between does not reach past it. Allowed host names are used as they are.
 */
export async function resolveDatabaseHost(host: string, allowed: AllowedHosts): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (allowed.hasName(bare)) return host;
  let addresses: { address: string }[];
  try {
    // Imported here: the resolver it sets up is part of every replica's start otherwise.
    const { lookup } = await import("node:dns/promises");
    addresses = await lookup(bare, { all: true, verbatim: true });
  } catch {
    throw new Error(`the database host ${bare} does not resolve`);
  }
  if (addresses.length === 0 || addresses.some((a) => !reachable(a.address, allowed))) {
    throw new Error(`the database host ${bare} is on a loopback or private network, which flows may not reach unless the operator allows it`);
  }
  const first = addresses[0]!.address;
  return isIP(first) === 6 ? `[${first}]` : first;
}

/** The default SqlQuery: `pg`, the URL's driver suffix dropped (`postgresql+psycopg2://` is SQLAlchemy's). */
export function pgQuery(allowedHosts: readonly string[]): SqlQuery {
  const allowed = new AllowedHosts(allowedHosts);
  return async (url, query, signal) => {
    const problem = databaseUrlProblem(url, allowed);
    if (problem) throw new Error(problem);
    const target = new URL(url.replace(/^postgresql\+psycopg2?:/, "postgresql:"));
    target.hostname = await resolveDatabaseHost(target.hostname, allowed);
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: target.href, connectionTimeoutMillis: 10_000, query_timeout: 60_000 });
    const abort = () => void client.end().catch(() => undefined);
    signal.addEventListener("abort", abort, { once: true });
    try {
      try {
        await client.connect();
      } catch (err) {
        throw new Error(`An error occurred while connecting to the database: ${(err as Error).message}`);
      }
      let result;
      try {
        result = await client.query(query);
      } catch (err) {
        throw new Error(`An error occurred while running the SQL Query: ${(err as Error).message}`);
      }
      // Several statements give several results: the last one is what SQLAlchemy's cursor shows.
      const last = Array.isArray(result) ? result[result.length - 1] : result;
      const columns = (last?.fields ?? []).map((f: { name: string }) => f.name);
      return { columns, rows: (last?.rows ?? []) as Record<string, unknown>[] };
    } finally {
      signal.removeEventListener("abort", abort);
      await client.end().catch(() => undefined);
    }
  };
}
