import { readFile, readdir, readlink } from "node:fs/promises";
import { listenerId, loopbackListeners } from "@flowplane/core/replica";

/**
 * Whose the listener on lfx's port is, before anything goes to it and again on every
 * connection made to it.
 *
 * The runtime picks a free port for `lfx serve`, which binds it seconds later, once Python has
 * started: in between any process on the machine may bind it (replicas share the machine's
 * network), answer /health, and then get the engine's API key with the first /flows and every
 * run's inputs after it. So before the key goes out, the listener must be lfx's own: its inode
 * (/proc/net/tcp) among lfx's descriptors (/proc/<pid>/fd). lfx runs as the runtime's own uid,
 * so reading its descriptors needs no capability. Only a socket on exactly 127.0.0.1 is looked
 * at: while one listens there no other can take 127.0.0.1 connections (the kernel refuses the
 * bind), and sockets elsewhere (::1, another address) get none of them.
 *
 * The same holds after the start: when lfx dies its port is free at once, before the runtime
 * hears of the exit, and a run on its way would connect to whoever bound it next. So each new
 * connection is checked once made, before a byte is written on it (lfx-process.ts): the
 * listener lfx held when it turned healthy (its inode and uid: core's loopback-listeners.ts says
 * why that names it) must still be listening on that port.
 */
export type Holding = { id: string } | { id: null; why: string };

/** The listener on 127.0.0.1:<port> (listenerId), when `pid` holds it open; else why not. */
export async function holderOf(pid: number, port: number, read: () => Promise<string> = readTcp): Promise<Holding> {
  const listeners = loopbackListeners(await read(), port);
  if (listeners.length === 0) return { id: null, why: `nothing listened on 127.0.0.1:${port}` };
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  const own = new Set(await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => ""))));
  const mine = listeners.filter((l) => own.has(l.inode));
  if (mine.length === 0 || mine.length !== listeners.length) return { id: null, why: `the listener on 127.0.0.1:${port} is not held by lfx (pid ${pid})` };
  return { id: listenerId(mine[0]!) };
}

/** /proc/net/tcp. A machine where it cannot be read can never trust lfx's port: said at once, not after a timeout. */
export const readTcp = (): Promise<string> =>
  readFile("/proc/net/tcp", "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot read /proc/net/tcp (${e.code ?? e.message}), which the lfx engine needs to check that lfx's port is lfx's`);
  });
