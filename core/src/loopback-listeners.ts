/**
 * Which socket listens on a loopback port, read from Linux's /proc/net/tcp, as the check against
 * another process taking a port that was ours (lfx's own port, a local replica's): every process
 * on a machine shares loopback, and a port is free again the moment its listener closes.
 *
 * A listener is named by its inode and the uid that made it (`listenerId`). A connection made
 * while the listener so named still listens, checked after it was made, went to it: while a
 * socket listens on exactly 127.0.0.1:<port> no other can bind there (the kernel refuses, with
 * or without SO_REUSEADDR; SO_REUSEPORT only for the same uid, and nothing of flowplane or lfx
 * sets it), and a closed socket never listens again. The uid is part of the name because socket
 * inodes come from a 32-bit counter that wraps: a process that makes and closes sockets until
 * one gets a live listener's number (billions of them) must also get it on a socket of that
 * uid, which narrows the wrap to the sockets that uid hands out; where tenants share the
 * listener's uid (replicas under one uid), it narrows nothing.
 *
 * /proc/net/tcp is not one snapshot: a listener can be missed while many others open and close
 * at the same moment, which refuses a good connection (rarely; a caller retries elsewhere), never
 * admits a wrong one. Pure: callers read the table.
 */

/** A socket listening on 127.0.0.1:<port>: its inode as /proc/<pid>/fd links name it (`socket:[n]`), and the uid that made it. */
export interface LoopbackListener {
  inode: string;
  uid: number;
}

/** The one string a listener is known by across processes and in stored state: `socket:[<inode>]/<uid>`. */
export const listenerId = (l: LoopbackListener): string => `${l.inode}/${l.uid}`;

/** `listenerId`'s shape, for what reads one back (a state file, a published row). */
export const LISTENER_ID = /^socket:\[\d{1,20}\]\/\d{1,10}$/;

/** 127.0.0.1 as /proc/net/tcp prints a local address: the 32-bit word in the host's byte order. */
const LOOPBACK_HEX = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? "0100007F" : "7F000001";

/**
 * The sockets listening on exactly 127.0.0.1:`port` in `table` (/proc/net/tcp's text): a
 * listener's line reads `<local> 00000000:0000 0A` (no remote end, state LISTEN), then
 * tx/rx queues, timer, retransmits, uid, timeout and inode. Only exactly 127.0.0.1: while a
 * socket listens there no other can take 127.0.0.1 connections, and sockets on other
 * addresses (::1, another 127.x) get none of them.
 */
export function loopbackListeners(table: string, port: number): LoopbackListener[] {
  const key = ` ${LOOPBACK_HEX}:${port.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A `;
  const out: LoopbackListener[] = [];
  for (let at = table.indexOf(key); at >= 0; at = table.indexOf(key, at + key.length)) {
    const end = table.indexOf("\n", at);
    const f = table.slice(at + key.length, end < 0 ? undefined : end).trim().split(/\s+/);
    const uid = Number(f[3]);
    if (f[5] && /^\d+$/.test(f[5]) && Number.isSafeInteger(uid)) out.push({ inode: `socket:[${f[5]}]`, uid });
  }
  return out;
}

/** Whether the listener named `id` (listenerId) listens on 127.0.0.1:`port` in `table`. */
export function listensAt(table: string, port: number, id: string): boolean {
  return loopbackListeners(table, port).some((l) => listenerId(l) === id);
}

/**
 * Whether the listener named `id` still listens on 127.0.0.1:`port`, by `read`'s table. The table
 * is not one snapshot (the kernel walks its hash while sockets open and close), so a listener can
 * be missed: a miss is read once more before the answer is no. A listener seen is certain.
 */
export function stillListensAt(read: () => Promise<string>, port: number, id: string): Promise<boolean> {
  return read().then((table) => listensAt(table, port, id) || read().then((again) => listensAt(again, port, id)));
}

/**
 * Reads of the table shared by whoever asks at once: each call gets a read that began after the
 * call (what a check after a connect needs), and every call made while one read is under way
 * shares the next. The table holds every socket of the machine's network namespace, whatever
 * other tenants hold open, so one read per new connection would cost each connection that much.
 * `read` may also parse what it read (loopback-peers.ts connectionOwners): the callers sharing a
 * read then share its parse too.
 */
export function sharedReads<T = string>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  let next: Promise<T> | null = null;
  const start = (): Promise<T> => {
    const p: Promise<T> = read().finally(() => {
      if (running === p) running = null;
    });
    running = p;
    return p;
  };
  return () => {
    if (!running) return start();
    // The read under way began before this call: the next one, which begins after it.
    next ??= running.then(() => undefined, () => undefined).then(() => {
      next = null;
      return start();
    });
    return next;
  };
}
