/**
 * Who holds the other end of a loopback TCP connection, read from Linux's /proc/net/tcp and
 * /proc/net/tcp6: both ends of a loopback connection are sockets of this machine (of one network
 * namespace), so the table holds the peer's socket too, whose line's local address is the
 * connection's remote one, and whose uid column is the uid that made it (the creator's fsuid,
 * which an unprivileged process cannot choose, and which a socket keeps when passed on).
 *
 * The peer's line is found by the whole connection, both ends (`<local> <remote>` as the table
 * prints them): a TCP connection's four-tuple is unique, so no other socket's line can stand for
 * it. Lines that name no live owner are left out: listeners, TIME_WAIT and a FIN_WAIT2 whose
 * socket is closed (both printed as uid 0 and inode 0), and half-open requests (NEW_SYN_RECV).
 *
 * Pure: callers read the tables (and share the reads: loopback-listeners.ts sharedReads). The
 * tables are not one snapshot: a line can be missed while sockets open and close at the same
 * moment, so a caller reads once more before it takes a connection for one whose peer is gone.
 */

/** One end of a TCP connection as Node names it: `socket.remoteAddress`/`remotePort`, or `localAddress`/`localPort`. */
export interface TcpEnd {
  address: string;
  port: number;
}

/** Which table a socket is in. */
export type TcpTable = "tcp" | "tcp6";

/** True where the machine stores a 32-bit word least significant byte first (how the tables print addresses). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A 32-bit word of an address (its four bytes in network order) as the tables print it: `%08X` of the word in the host's order. */
function wordHex(bytes: readonly number[]): string {
  const ordered = LITTLE_ENDIAN ? [...bytes].reverse() : bytes;
  return ordered.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
}

/** The bytes of a dotted IPv4 address, or undefined. */
function ipv4Bytes(address: string): number[] | undefined {
  const parts = address.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}

/** The IPv4 address an address names, written plain or IPv4-mapped (`::ffff:10.0.0.5`), or undefined. */
function anyIpv4(address: string): number[] | undefined {
  return ipv4Bytes(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? address);
}

/** The IPv4 loopback address (127.0.0.0/8) an address names, written plain or IPv4-mapped (`::ffff:127.0.0.1`), or undefined. */
function loopbackIpv4(address: string): number[] | undefined {
  const bytes = anyIpv4(address);
  return bytes?.[0] === 127 ? bytes : undefined;
}

/** ::1 as Node writes it (compressed), or written out. */
const IPV6_LOOPBACK = /^(::1|0:0:0:0:0:0:0:1)$/;

const portHex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");

/**
 * Where the socket at `peer`, connected to `server`, is printed: each table it may be in, first
 * the likelier, with its line's `<local> <remote>` (the peer's own end first). Empty when the
 * peer is not a loopback address (no socket of this machine's loopback), or, for IPv6, when
 * either end is not ::1. An IPv4 loopback connection is in `tcp`, or, made
 * by an IPv6 socket to an IPv4-mapped address, in `tcp6` with mapped addresses.
 */
export function peerLineKeys(peer: TcpEnd, server: TcpEnd): { table: TcpTable; key: string }[] {
  if (!validPort(peer.port) || !validPort(server.port)) return [];
  // The server's end may be any address of this machine (a listener on 0.0.0.0 or a LAN address
  // reached from a 127.x source, which Linux routes over lo): a loopback peer is a local socket
  // wherever it connected, and must not pass for an unknown one by choosing the destination.
  const v4 = [loopbackIpv4(peer.address), anyIpv4(server.address)];
  if (v4[0] && v4[1]) {
    const [p, s] = v4 as [number[], number[]];
    const mapped = (b: number[]) => `${"00000000".repeat(2)}${wordHex([0, 0, 0xff, 0xff])}${wordHex(b)}`;
    return [
      { table: "tcp", key: `${wordHex(p)}:${portHex(peer.port)} ${wordHex(s)}:${portHex(server.port)}` },
      { table: "tcp6", key: `${mapped(p)}:${portHex(peer.port)} ${mapped(s)}:${portHex(server.port)}` },
    ];
  }
  if (IPV6_LOOPBACK.test(peer.address) && IPV6_LOOPBACK.test(server.address)) {
    const one = `${"00000000".repeat(3)}${wordHex([0, 0, 0, 1])}`;
    return [{ table: "tcp6", key: `${one}:${portHex(peer.port)} ${one}:${portHex(server.port)}` }];
  }
  return [];
}

const validPort = (port: number) => Number.isInteger(port) && port > 0 && port <= 65_535;

/** States whose line names no socket's owner: TIME_WAIT (06), LISTEN (0A), NEW_SYN_RECV (0C). */
const OWNERLESS_STATES = new Set(["06", "0A", "0C"]);

/**
 * The owners of the connections in `table` (/proc/net/tcp's or tcp6's text): each line's
 * `<local> <remote>` (peerLineKeys' key) to the uid in its line. One pass over the text, for all
 * the lookups that share a read: a lookup per connection in the text itself would cost each one
 * the whole table (megabytes with tens of thousands of sockets).
 *
 * A line reads `<sl>: <local> <remote> <st> <tx>:<rx> <tr>:<when> <retrnsmt> <uid> <timeout> <inode> ...`.
 */
export function connectionOwners(table: string): Map<string, number> {
  const owners = new Map<string, number>();
  // Read in place, not split into fields: at tens of thousands of lines this runs on the event
  // loop of a process under attack (measured in docs/edge.md).
  for (let at = table.indexOf("\n") + 1; at > 0 && at < table.length;) {
    const eol = table.indexOf("\n", at);
    const end = eol < 0 ? table.length : eol;
    const line = at;
    at = end + 1;
    const l = table.indexOf(": ", line) + 2; // past `<sl>:`
    if (l < 2 || l > end) continue;
    const w = table.indexOf(" ", l) - l; // an end's width: 13 (tcp), 37 (tcp6)
    if (w !== 13 && w !== 37) continue;
    const st = l + 2 * w + 2;
    const state = table.slice(st, st + 2);
    if (OWNERLESS_STATES.has(state)) continue;
    // Past `<st> <tx>:<rx> <tr>:<when> <retrnsmt>` (2 + 1 + 17 + 1 + 11 + 1 + 8): the uid, the timeout, the inode.
    const [uid, afterUid] = digits(table, st + 41, end);
    const [, afterTimeout] = digits(table, afterUid, end);
    const [inode] = digits(table, afterTimeout, end);
    if (uid === undefined || inode === undefined || inode === 0) continue;
    owners.set(table.slice(l, l + 2 * w + 1), uid);
  }
  return owners;
}

/** The number (a `-` allowed before it) at `from` in `text` past any spaces, before `end`, and where it ends. */
function digits(text: string, from: number, end: number): [number | undefined, number] {
  let i = from;
  while (i < end && text.charCodeAt(i) === 32) i++;
  const start = i;
  if (text.charCodeAt(i) === 45) i++;
  while (i < end && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  const n = i > start ? Number(text.slice(start, i)) : NaN;
  return [Number.isSafeInteger(n) ? n : undefined, i];
}

/**
 * The uid that holds the socket at `peer` connected to `server`, by `read`'s tables (each read
 * already parsed: connectionOwners), or undefined when no table holds it. A table is read only
 * when the ones before did not hold the line (`tcp6` is read for an IPv4 connection only when
 * `tcp` did not have it). Nothing found is read once more: the tables are not one snapshot.
 * A read that fails rejects.
 */
export async function peerUid(read: (table: TcpTable) => Promise<Map<string, number>>, peer: TcpEnd, server: TcpEnd): Promise<number | undefined> {
  const keys = peerLineKeys(peer, server);
  if (keys.length === 0) return undefined;
  for (let pass = 0; pass < 2; pass++) {
    for (const { table, key } of keys) {
      const uid = (await read(table)).get(key);
      if (uid !== undefined) return uid;
    }
  }
  return undefined;
}
