import { readFile } from "node:fs/promises";
import { connectionOwners, peerUid, sharedReads, type Logger, type TcpEnd, type TcpTable } from "@flowplane/core";
import type { PeerOwners } from "./connection-cap.js";

export interface LocalPeersOptions {
  /** The uids the local driver hands deployments (FLOWPLANE_RUNTIME_UID_BASE, and how many): a peer under one is a deployment's. */
  deploymentUids: { base: number; count: number };
  /** Reads a table's text (default /proc/net/tcp and /proc/net/tcp6); tests give others. */
  read?: (table: TcpTable) => Promise<string>;
  /** Warned (at most once a minute) when a table could not be read: the connection then counts as any loopback one (the total only). */
  log?: Pick<Logger, "warn">;
}

/** How often an unreadable table is warned of, at most. */
const WARN_EVERY_MS = 60_000;

/**
 * Which local deployment holds the other end of a loopback connection (http/connection-cap.ts
 * PeerOwners), by the uid that owns the peer's socket in /proc/net/tcp{,6} (core's
 * loopback-peers.ts). A uid in the local driver's range is a deployment's; any other (this
 * process's own: its workers, their relays; root; the machine's other users) is none.
 *
 * Each table holds every socket of the machine's network namespace (measured: 2.4 ms to read
 * at 200 sockets, 37 ms at 15,000), so the reads are shared: every lookup asked while a read is
 * under way shares the next one and its parse (core's sharedReads), whatever the number of
 * connections waiting. Per process and table, one read at a time.
 *
 * A table that cannot be read answers "none" (and `onUnreadable`): the connection is then held
 * to the total alone, as every loopback connection was before. Refusing instead would refuse
 * this process's own clients too (its workers relay the API on loopback), every one of them,
 * for as long as the table stays unreadable; a gateway already refuses to start where it cannot
 * read the table (gateway/listener-table.ts).
 */
export class LocalPeers implements PeerOwners {
  private readonly reads: Record<TcpTable, () => Promise<Map<string, number>>>;
  private warnedAt = -Infinity;

  constructor(private readonly o: LocalPeersOptions) {
    const read = o.read ?? ((table: TcpTable) => readFile(`/proc/net/${table}`, "utf8"));
    this.reads = {
      tcp: sharedReads(async () => connectionOwners(await read("tcp"))),
      tcp6: sharedReads(async () => connectionOwners(await read("tcp6"))),
    };
  }

  async deploymentUid(peer: TcpEnd, server: TcpEnd): Promise<number | undefined> {
    let uid: number | undefined;
    try {
      uid = await peerUid((table) => this.reads[table](), peer, server);
    } catch (err) {
      if (Date.now() - this.warnedAt >= WARN_EVERY_MS) {
        this.warnedAt = Date.now();
        this.o.log?.warn({ err }, "cannot read /proc/net/tcp: loopback connections count against the total alone, not by their deployment");
      }
      return undefined;
    }
    const { base, count } = this.o.deploymentUids;
    return uid !== undefined && uid >= base && uid < base + count ? uid : undefined;
  }
}
