import { STATUS_CODES } from "node:http";
import { clientKey } from "../ipv6.js";
import type { Server as NetServer, Socket } from "node:net";

/**
 * How many client connections one process holds at once on one listener: at most `total`, and
 * at most `perAddress` from one client address (0: no per-address bound). Every open connection
 * costs the process about 10 KiB before it sends anything, and a body of up to 64 KiB while its
 * handler runs (http/body-budget.ts counts only larger ones): without a bound, one client with
 * enough connections grows a gateway worker, or the control plane, until the kernel kills it,
 * and every team's calls and the API go with it. With one, a client holding too many is refused
 * its next connection (429), and the others keep theirs; a process holding `total` refuses
 * everyone's next one (503) instead of falling over.
 *
 * A client's address is what the listener knows of it: the socket's peer, or the address a PROXY
 * line names (behind flowplane's HAProxy). IPv6 addresses count by `ipv6Prefix`; IPv4-mapped
 * IPv6 addresses count as their IPv4 address.
 */
export interface ConnectionLimits {
  total: number;
  perAddress: number;
  /**
   * How much of an IPv6 address is one client (default 64: a host or a site is given a /64 and
   * picks addresses in it at will). 128 where the clients are pods: a Kubernetes node's pods
   * commonly share one /64, every team's replicas on it.
   */
  ipv6Prefix?: 64 | 128;
}

export type ConnectionAdmission =
  | { ok: true; release: () => void }
  | { ok: false; status: 429 | 503; code: "too_many_connections" | "unavailable"; message: string };

export class ConnectionCap {
  private open = 0;
  private lingering = 0;
  private readonly byAddress = new Map<string, number>();

  /** `maxLingering`: refused connections left open for their answer at once (MAX_LINGERING; smaller in tests). */
  constructor(private readonly limits: ConnectionLimits, private readonly maxLingering = MAX_LINGERING) {}

  /** Counts a new connection from `address`, or says why it is refused. `release` (idempotent) when it closes. */
  admit(address: string | undefined): ConnectionAdmission {
    if (this.open >= this.limits.total) {
      return { ok: false, status: 503, code: "unavailable", message: "the server holds as many connections as it may; retry shortly" };
    }
    // A socket already closed has no address: it counts against the total alone, and leaves at once.
    // Loopback is this machine: its local clients, its local replicas, a reverse proxy in front
    // of flowplane on the same machine. They are one address however many they are, and telling
    // them apart is not possible here; they share the total alone.
    const key = this.limits.perAddress > 0 && address ? addressKey(address, this.limits.ipv6Prefix) : undefined;
    if (key === undefined || key === LOOPBACK) return this.take(undefined);
    if ((this.byAddress.get(key) ?? 0) >= this.limits.perAddress) {
      return { ok: false, status: 429, code: "too_many_connections", message: `this address holds ${this.limits.perAddress} connections to the server, its most; close one or retry later` };
    }
    return this.take(key);
  }

  private take(key: string | undefined): ConnectionAdmission {
    this.open++;
    if (key !== undefined) this.byAddress.set(key, (this.byAddress.get(key) ?? 0) + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.open--;
        if (key === undefined) return;
        const n = (this.byAddress.get(key) ?? 1) - 1;
        if (n > 0) this.byAddress.set(key, n);
        else this.byAddress.delete(key);
      },
    };
  }

  /** A refused connection waits for its answer to be read: its release, or null when MAX_LINGERING already wait. */
  linger(): (() => void) | null {
    if (this.lingering >= this.maxLingering) return null;
    this.lingering++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.lingering--;
    };
  }

  /** Connections held now (in all; from `address`). */
  count(address?: string): number {
    return address === undefined ? this.open : (this.byAddress.get(addressKey(address, this.limits.ipv6Prefix)) ?? 0);
  }
}

/** The key of every loopback address (127.0.0.0/8, ::1). */
const LOOPBACK = "loopback";

/** The key an address counts under: its client's (ipv6.ts clientKey), loopback as LOOPBACK. */
export function addressKey(address: string, ipv6Prefix: 64 | 128 = 64): string {
  const whole = clientKey(address, 128);
  if (whole.startsWith("127.") || whole === "0:0:0:0:0:0:0:1") return LOOPBACK;
  return ipv6Prefix === 128 ? whole : clientKey(address, ipv6Prefix);
}

/** The answer a refused connection gets before it is closed: the one error shape, and when to come back. */
export function refusalAnswer(refusal: Extract<ConnectionAdmission, { ok: false }>): string {
  const body = JSON.stringify({ error: { code: refusal.code, message: refusal.message } });
  return `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nretry-after: 1\r\nx-flowplane-error: ${refusal.code}\r\nconnection: close\r\n\r\n${body}`;
}

/** How long a refused connection may stay open after its answer (for the client to read it): never longer. */
export const REFUSED_LINGER_MS = 1_000;
/** Refused connections left open for their answer at once, at most; past it one is closed unanswered. */
export const MAX_LINGERING = 1_024;

/**
 * Admits `socket` (from `address`) under `cap`: its count is released when it closes. A refused
 * one is answered (refusalAnswer), its request read and dropped, and closed: half-closed at once,
 * and destroyed once the client closes its side or after REFUSED_LINGER_MS, whichever comes
 * first; with MAX_LINGERING refused ones already waiting, destroyed unanswered. So a client whose
 * connections are refused holds at most that much of what the bound protects.
 *
 * Returns null when refused, else the admission's release (idempotent): for a socket whose handle
 * leaves this process (sent to another over IPC), which never emits 'close' here.
 */
export function admitConnection(cap: ConnectionCap, socket: Socket, address = socket.remoteAddress): (() => void) | null {
  const a = cap.admit(address);
  if (a.ok) {
    socket.once("close", a.release);
    // Destroyed already (a reset before this ran): its 'close' may have gone by.
    if (socket.destroyed) a.release();
    return a.release;
  }
  const lingering = cap.linger();
  if (!lingering) {
    socket.destroy();
    return null;
  }
  const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
  socket.once("close", () => {
    clearTimeout(timer);
    lingering();
  });
  socket.on("error", () => socket.destroy());
  // Left unread, what the client sends would make the kernel answer the close with a reset, and
  // the client could lose the answer before reading it.
  socket.on("data", () => {});
  socket.on("end", () => socket.destroy());
  socket.resume();
  if (socket.destroyed) lingering();
  else socket.end(refusalAnswer(a));
  return null;
}

/**
 * Puts `cap` in front of every connection `server` accepts (and every one emitted on it), before
 * its own listeners (the HTTP server's parser) see it: for a server that listens itself. Call it
 * once its 'connection' listeners are all in place.
 */
export function capConnections(server: NetServer, cap: ConnectionCap): void {
  const own = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    if (!admitConnection(cap, socket)) return;
    for (const listener of own) listener.call(server, socket);
  });
}
