import { readFile } from "node:fs/promises";
import { endianness } from "node:os";

/**
 * Whose process answers on a replica's loopback port.
 *
 * The driver picks a replica's two ports (its calls' and its probes') free, then the replica
 * binds them when it starts: in between, any process on the machine may bind them first, and
 * replicas share the control plane's network (README, "What the local driver does not
 * isolate"). A flow's code that holds another deployment's ports would answer its probes and
 * then get its calls, their inputs and that deployment's gateway secret with them. So as root,
 * where each deployment has a uid of its own, a replica counts as ready only once both of its
 * ports are held by its deployment's uid.
 *
 * What is checked is the listener a connection to 127.0.0.1:<port> reaches, which is where the
 * gateway and the probes connect: a socket bound to exactly 127.0.0.1:<port> (the runtime binds
 * FLOWPLANE_RUNTIME_HOST, 127.0.0.1). While one exists no other socket can listen on
 * 127.0.0.1:<port> or on a wildcard address covering it (the kernel refuses the bind; only
 * SO_REUSEPORT shares a port, and only within one uid), so listeners elsewhere (::1, an
 * IPV6_V6ONLY ::, another interface) take none of those connections and are not counted: a flow
 * binding them cannot hold a replica back. Once a replica is ready, its port stays its own for
 * as long as its process lives; a replica that restarts is checked again.
 */

/** 127.0.0.1 as /proc/net/tcp prints a local address: the 32-bit word in the host's byte order, in hex. */
const LOOPBACK_HEX = endianness() === "LE" ? "0100007F" : "7F000001";
/** A socket in LISTEN (include/net/tcp_states.h TCP_LISTEN), as /proc/net/tcp prints its state. */
const LISTEN = "0A";

/**
 * The uids of the sockets listening on exactly 127.0.0.1:`port`, from `table` (the text of
 * /proc/net/tcp): the uid column is the socket's owner, the uid of the process that made it.
 * Normally none or one; two or more only through SO_REUSEPORT, which the kernel grants within
 * one uid.
 */
export function loopbackListenerUids(table: string, port: number): number[] {
  const local = `${LOOPBACK_HEX}:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const out: number[] = [];
  for (const line of table.split("\n").slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[3] === LISTEN) out.push(Number(f[7]));
  }
  return out;
}

/**
 * Whether every one of `ports` has a listener on 127.0.0.1 and each such listener is `uid`'s:
 * one reading of /proc/net/tcp for all of them. A port nobody listens on yet is not held.
 */
export async function heldBy(uid: number, ports: number[], read: () => Promise<string> = readTcpTable): Promise<boolean> {
  const table = await read();
  return ports.every((port) => {
    const uids = loopbackListenerUids(table, port);
    return uids.length > 0 && uids.every((u) => u === uid);
  });
}

/** The control plane's /proc/net/tcp: the network namespace replicas share with it (none is its own). Throws when unreadable. */
export const readTcpTable = (): Promise<string> => readFile("/proc/net/tcp", "utf8");
