/**
 * Which socket listens on a loopback port, read from Linux's /proc/net/tcp, as the check against
 * another process taking a port that was ours (lfx's own port, a local replica's): every process
 * on a machine shares loopback, and a port is free again the moment its listener closes. A
 * socket's inode names one socket for its whole life and a closed socket never listens again, so
 * a connection made while the listener with a known inode is still there, and checked after it
 * was made, went to that listener. Pure: callers read the table.
 */

/** 127.0.0.1 as /proc/net/tcp prints a local address: the 32-bit word in the host's byte order. */
const LOOPBACK_HEX = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? "0100007F" : "7F000001";

/**
 * The inodes (`socket:[n]`, as /proc/<pid>/fd links name them) of the sockets listening on
 * exactly 127.0.0.1:`port` in `table` (/proc/net/tcp's text): a listener's line reads
 * `<local> 00000000:0000 0A` (no remote end, state LISTEN), its inode the sixth field after.
 * Only exactly 127.0.0.1: while a socket listens there no other can take 127.0.0.1 connections
 * (the kernel refuses the bind), and sockets elsewhere (::1, 0.0.0.0 beside it) get none of them.
 */
export function loopbackListeners(table: string, port: number): string[] {
  const key = ` ${LOOPBACK_HEX}:${port.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A `;
  const out: string[] = [];
  for (let at = table.indexOf(key); at >= 0; at = table.indexOf(key, at + key.length)) {
    const end = table.indexOf("\n", at);
    const inode = table.slice(at + key.length, end < 0 ? undefined : end).trim().split(/\s+/)[5];
    if (inode) out.push(`socket:[${inode}]`);
  }
  return out;
}
