import { readFile, readdir, readlink } from "node:fs/promises";
import { loopbackListeners } from "@flowplane/core/replica";

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
 * listener lfx held when it turned healthy must still be listening on that port. A socket's
 * inode names one socket for its whole life and a closed socket never listens again, so that
 * listener existed from before the connection to after it, and the connection went to it.
 */
export type Holding = { inode: string } | { inode: null; why: string };

/** The inode of the socket listening on 127.0.0.1:<port>, when `pid` holds it open; else why not. */
export async function holderOf(pid: number, port: number, read: () => Promise<string> = readTcp): Promise<Holding> {
  const inodes = loopbackListeners(await read(), port);
  if (inodes.length === 0) return { inode: null, why: `nothing listened on 127.0.0.1:${port}` };
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  const own = new Set(await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => ""))));
  const mine = inodes.filter((inode) => own.has(inode));
  if (mine.length === 0 || mine.length !== inodes.length) return { inode: null, why: `the listener on 127.0.0.1:${port} is not held by lfx (pid ${pid})` };
  return { inode: mine[0]! };
}

/** Whether the socket `inode` still listens on 127.0.0.1:<port>. */
export async function stillListening(port: number, inode: string, read: () => Promise<string> = readTcp): Promise<boolean> {
  return loopbackListeners(await read(), port).includes(inode);
}

/** /proc/net/tcp. A machine where it cannot be read can never trust lfx's port: said at once, not after a timeout. */
export const readTcp = (): Promise<string> =>
  readFile("/proc/net/tcp", "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot read /proc/net/tcp (${e.code ?? e.message}), which the lfx engine needs to check that lfx's port is lfx's`);
  });
