import { readdir, readFile, readlink } from "node:fs/promises";
import { emptyUid } from "./containment.js";
import { realUid } from "./processes.js";

/**
 * Local replicas share the control plane's network namespace: bubblewrap leaves it shared, as
 * replicas serve on loopback ports and reach model providers. And they outlive the control
 * plane: a restart adopts them. So while it is down, a flow's code can bind what the control
 * plane binds at its next start: its public or private port (and then answer its clients, keys
 * and all) or its data folder lock's abstract name (and then it never starts again). Both are
 * listed for anyone in /proc/net.
 *
 * A listener held by a replica's uid is no control plane's: its deployment's processes are all
 * ended (the uid emptied at once, containment.ts `emptyUid`: killing the one holder would leave
 * the runtime to start it again), and the driver restarts its replicas with the back-off of any
 * crash. A listener held by any other uid is left alone: that may be another program, or another
 * flowplane, and binding fails as it always did. Root only: only then do replicas have uids of
 * their own (in `none` mode they run as the control plane, and nothing tells them apart).
 */
export type Listening = { tcpPort: number } | { abstractName: string };

/** The replicas' uids (sandbox.ts: as root, one per deployment from a base). */
export interface ReplicaUidRange {
  base: number;
  count: number;
}

export interface Eviction {
  /** Replica uids emptied of every process. */
  evicted: number[];
  /** Holders that are not replicas', left alone (binding then fails as before). */
  others: { pid: number; uid: number }[];
}

/** Empties the uid of every replica holding `what`, when this process is root. */
export async function evictReplicaListeners(what: Listening, uids: ReplicaUidRange): Promise<Eviction> {
  if (process.getuid?.() !== 0) return { evicted: [], others: [] };
  const tcp = "tcpPort" in what ? await tcpListeners(what.tcpPort) : undefined;
  const holders = await holdersOf(tcp ? new Set(tcp.keys()) : await unixListeners(what as { abstractName: string }));
  const inRange = (uid: number) => uid >= uids.base && uid < uids.base + uids.count;
  // A listening socket no process holds a descriptor of (sent in an SCM_RIGHTS message that is
  // never received: it lives in the queue of a unix socket its uid keeps open, and listens on)
  // is known by its owner, the uid that made it (/proc/net/tcp's uid column). Ending that uid's
  // processes closes the unix socket, and the message with it.
  const owners = [...(tcp?.values() ?? [])].filter(inRange);
  const evicted = [...new Set([...holders.filter((h) => inRange(h.uid)).map((h) => h.uid), ...owners])];
  for (const uid of evicted) await emptyUid(uid);
  // A socket that was in flight in a message is freed by the kernel's garbage collection of unix
  // sockets, which may run after the processes are gone: the caller binds next, so this waits
  // (at most 2 s) until no listener an evicted uid made is left on the port.
  if (tcp && owners.length > 0) {
    const gone = new Set(evicted);
    for (let waited = 0; waited < 2_000; waited += 20) {
      if (![...(await tcpListeners((what as { tcpPort: number }).tcpPort)).values()].some((uid) => gone.has(uid))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return { evicted, others: holders.filter((h) => !inRange(h.uid)) };
}

/** The socket inodes (as /proc/<pid>/fd links name them) listening on `what`. */
export async function listeningInodes(what: Listening): Promise<Set<string>> {
  return "tcpPort" in what ? new Set((await tcpListeners(what.tcpPort)).keys()) : unixListeners(what);
}

/** The sockets listening on abstract `name`, by inode link. */
async function unixListeners({ abstractName }: { abstractName: string }): Promise<Set<string>> {
  const out = new Set<string>();
  // An abstract name is shown with "@" for its NUL; libuv binds the whole sun_path, padded with NULs.
  const shown = `@${abstractName.replace(/^\0/, "")}`;
  for (const f of rows(await readFile("/proc/net/unix", "utf8").catch(() => ""))) {
    if (f[7] !== undefined && f[7].replace(/@+$/, "") === shown) out.add(`socket:[${f[6]}]`);
  }
  return out;
}

/** The sockets listening on TCP `port` at any address, by inode link, each with the uid that made it (/proc/net/tcp and tcp6). */
async function tcpListeners(port: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const f of rows(await readFile(table, "utf8").catch(() => ""))) {
      // local_address is ADDR:PORT in hex, state 0A is LISTEN, then the uid (column 8) and the inode (9).
      if (f[1]?.endsWith(`:${hex}`) && f[3] === "0A") out.set(`socket:[${f[9]}]`, Number(f[7]));
    }
  }
  return out;
}

/** Every process with a descriptor on one of `inodes`, with its uid. */
async function holdersOf(inodes: Set<string>): Promise<{ pid: number; uid: number }[]> {
  if (inodes.size === 0) return [];
  const out: { pid: number; uid: number }[] = [];
  for (const pid of (await readdir("/proc")).filter((e) => /^\d+$/.test(e))) {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
      if (!inodes.has(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ""))) continue;
      const uid = await realUid(Number(pid));
      if (uid !== undefined) out.push({ pid: Number(pid), uid });
      break;
    }
  }
  return out;
}

const rows = (text: string) => text.split("\n").slice(1).map((l) => l.trim().split(/\s+/));
