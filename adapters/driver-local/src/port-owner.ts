import { readFile, readdir, readlink } from "node:fs/promises";
import { endianness } from "node:os";

/**
 * Whose process answers on a replica's loopback port.
 *
 * The driver picks a replica's two ports (its calls' and its probes') free, then the replica
 * binds them when it starts: in between, any process on the machine may bind them first, and
 * replicas share the control plane's network (README, "What the local driver does not
 * isolate"). A flow's code that held another deployment's ports would answer its probes and
 * then get its calls, their inputs and that deployment's gateway secret with them. So a replica
 * counts as ready only once the listener on each of its ports is a socket its own runtime
 * process holds open (one of /proc/<pid>/fd): not merely one its uid made, as /proc/net/tcp's
 * uid column says, since a socket made under a uid may be passed to another process (SCM_RIGHTS),
 * and a deployment's uid may be a gone deployment's, reused.
 *
 * What is checked is the listener a connection to 127.0.0.1:<port> reaches, which is where the
 * gateway and the probes connect: a socket bound to exactly 127.0.0.1:<port> (the runtime binds
 * FLOWPLANE_RUNTIME_HOST, 127.0.0.1). While one listens, no other socket can listen on
 * 127.0.0.1:<port> or on a wildcard address covering it (the kernel refuses the bind and the
 * listen; SO_REUSEPORT shares a port only within one uid), so listeners elsewhere (::1, an
 * IPV6_V6ONLY ::, another address) take none of those connections and are not counted: a flow
 * binding them cannot hold a replica back.
 */

/** 127.0.0.1 as /proc/net/tcp prints a local address: the 32-bit word in the host's byte order, in hex. */
const LOOPBACK_HEX = endianness() === "LE" ? "0100007F" : "7F000001";

/**
 * The inodes of the sockets listening on exactly 127.0.0.1:`port`, from `table` (the text of
 * /proc/net/tcp), as /proc/<pid>/fd links name them (`socket:[<inode>]`). Normally none or one;
 * more only through SO_REUSEPORT. Found by substring: a listener's line reads
 * `<local> 00000000:0000 0A` (no remote end, state LISTEN), and the table may hold many
 * thousand lines of other sockets.
 */
export function loopbackListeners(table: string, port: number): string[] {
  const key = ` ${LOOPBACK_HEX}:${port.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A `;
  const out: string[] = [];
  for (let at = table.indexOf(key); at >= 0; at = table.indexOf(key, at + key.length)) {
    const end = table.indexOf("\n", at);
    // ... st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    const rest = table.slice(at + key.length, end < 0 ? undefined : end).trim().split(/\s+/);
    if (rest[5]) out.push(`socket:[${rest[5]}]`);
  }
  return out;
}

/**
 * Whether every one of `ports` has a listener on 127.0.0.1, each of them a socket process `pid`
 * holds open. A port nobody listens on yet is not held; neither is anything of a gone pid.
 */
export async function heldBy(pid: number, ports: number[], table: string, fds: (pid: number) => Promise<Set<string>> = openSockets): Promise<boolean> {
  const listeners = ports.map((port) => loopbackListeners(table, port));
  if (listeners.some((l) => l.length === 0)) return false;
  const own = await fds(pid);
  return listeners.every((l) => l.every((inode) => own.has(inode)));
}

/** The sockets `pid` holds open, as `socket:[<inode>]`; none when it is gone or not ours to read. */
async function openSockets(pid: number): Promise<Set<string>> {
  const out = new Set<string>();
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  await Promise.all(fds.map(async (fd) => {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    if (link.startsWith("socket:[")) out.add(link);
  }));
  return out;
}

/** The control plane's /proc/net/tcp: the network namespace replicas share with it (none has its own). Throws when unreadable. */
export const readTcpTable = (): Promise<string> => readFile("/proc/net/tcp", "utf8");
