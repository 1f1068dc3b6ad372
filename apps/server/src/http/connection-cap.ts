import { STATUS_CODES } from "node:http";
import type { TcpEnd } from "@flowplane/core";
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
 *
 * Loopback clients (127.0.0.0/8, ::1) are one address however many they are, and so are not
 * bound by address; those whose socket a local deployment's uid owns (PeerOwners) are bound by
 * that uid instead, at most `perDeployment` (0 or absent: no bound).
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
  /** Loopback connections from one local deployment (its uid, PeerOwners) at most; 0 or absent: none are told apart. */
  perDeployment?: number;
}

/**
 * Who holds the other end of a loopback connection (http/local-peers.ts LocalPeers): the uid of
 * the local deployment whose socket it is, or undefined when it is none's (this process's own
 * uid, root, another user of the machine, a socket no longer there). Never rejects.
 */
export interface PeerOwners {
  deploymentUid(peer: TcpEnd, server: TcpEnd): Promise<number | undefined>;
}

export interface ConnectionCapOptions {
  /** Refused connections left open for their answer at once (MAX_LINGERING; smaller in tests). */
  maxLingering?: number;
  /** Looks up a loopback connection's deployment (local driver as root); without it, or without `perDeployment`, loopback counts against the total alone. */
  peers?: PeerOwners;
}

export type ConnectionAdmission =
  | { ok: true; release: () => void }
  | { ok: false; status: 429 | 503; code: "too_many_connections" | "unavailable"; message: string };

export class ConnectionCap {
  private open = 0;
  /** Loopback connections waiting for their owner's lookup (awaitOwner). */
  private waiting = 0;
  private lingering = 0;
  private readonly byAddress = new Map<string, number>();

  private readonly maxLingering: number;
  private readonly peers: PeerOwners | undefined;

  constructor(private readonly limits: ConnectionLimits, o: ConnectionCapOptions = {}) {
    this.maxLingering = o.maxLingering ?? MAX_LINGERING;
    this.peers = (limits.perDeployment ?? 0) > 0 ? o.peers : undefined;
  }

  /** Counts a new connection from `address`, or says why it is refused. `release` (idempotent) when it closes. */
  admit(address: string | undefined): ConnectionAdmission {
    if (this.open >= this.limits.total) return unavailable();
    // A socket already closed has no address: it counts against the total alone, and leaves at once.
    // Loopback is this machine: its local clients, its local replicas, a reverse proxy in front
    // of flowplane on the same machine. They are one address however many they are: by address
    // they share the total alone; by owner (`ownedBy`, once PeerOwners answered) a deployment's
    // are bound by its uid.
    const key = this.limits.perAddress > 0 && address ? addressKey(address, this.limits.ipv6Prefix) : undefined;
    if (key === undefined || key === LOOPBACK) return this.take(undefined);
    if ((this.byAddress.get(key) ?? 0) >= this.limits.perAddress) {
      return { ok: false, status: 429, code: "too_many_connections", message: `this address holds ${this.limits.perAddress} connections to the server, its most; close one or retry later` };
    }
    return this.take(key);
  }

  /** Whether a connection from `address` waits for its owner's lookup before it is admitted: a loopback one, where deployments are bound (`peers`). */
  looksUpOwner(address: string | undefined): PeerOwners | undefined {
    return this.peers && address !== undefined && addressKey(address) === LOOPBACK ? this.peers : undefined;
  }

  /**
   * A loopback connection that found the total full, waiting for its owner's lookup anyway:
   * counted apart, at most `total` of them at once (else 503). A burst of one deployment's
   * connections fills the total only until their lookups answer (then those past its bound
   * are refused and leave it), so another loopback client that comes meanwhile waits for the
   * same answer instead of being refused. Its release (idempotent) once the lookup answered or
   * the socket closed; then `admit` (no deployment's) or `admitDeployment` counts it.
   */
  awaitOwner(): ConnectionAdmission {
    if (this.waiting >= this.limits.total) return unavailable();
    this.waiting++;
    return { ok: true, release: once(() => this.waiting--) };
  }

  /** Counts a loopback connection whose socket deployment `uid` owns: against the total (503) and that uid's `perDeployment` (429). */
  admitDeployment(uid: number): ConnectionAdmission {
    if (this.open >= this.limits.total) return unavailable();
    const key = deploymentKey(uid);
    const most = this.limits.perDeployment ?? 0;
    if ((this.byAddress.get(key) ?? 0) >= most) {
      return { ok: false, status: 429, code: "too_many_connections", message: `this deployment's processes hold ${most} connections to the server, their most; close one or retry later` };
    }
    return this.take(key);
  }

  private take(key: string | undefined): ConnectionAdmission {
    this.open++;
    if (key !== undefined) this.byAddress.set(key, (this.byAddress.get(key) ?? 0) + 1);
    return {
      ok: true,
      release: once(() => {
        this.open--;
        if (key === undefined) return;
        const n = (this.byAddress.get(key) ?? 1) - 1;
        if (n > 0) this.byAddress.set(key, n);
        else this.byAddress.delete(key);
      }),
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

  /** Loopback connections waiting for their owner's lookup now. */
  awaitingOwner(): number {
    return this.waiting;
  }

  /** Loopback connections held now whose socket deployment `uid` owns. */
  countDeployment(uid: number): number {
    return this.byAddress.get(deploymentKey(uid)) ?? 0;
  }
}

/** `fn` made idempotent: a release runs once, however many times (and from wherever) it is called. */
const once = (fn: () => void): (() => void) => {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
};

const unavailable = (): ConnectionAdmission => ({ ok: false, status: 503, code: "unavailable", message: "the server holds as many connections as it may; retry shortly" });

/** A deployment's key among the addresses' (no address is written so). */
const deploymentKey = (uid: number) => `uid ${uid}`;

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
 * Admits `socket` (from `address`) under `cap`, then calls `admitted` with its release
 * (idempotent; its count is released when the socket closes anyway): for a socket whose handle
 * leaves this process (sent to another over IPC), which never emits 'close' here. A refused one
 * is answered (refusalAnswer), its request read and dropped, and closed: half-closed at once,
 * and destroyed once the client closes its side or after REFUSED_LINGER_MS, whichever comes
 * first; with MAX_LINGERING refused ones already waiting, destroyed unanswered. So a client whose
 * connections are refused holds at most that much of what the bound protects. `admitted` is then
 * never called.
 *
 * `admitted` runs at once, except for a loopback connection where the cap bounds deployments
 * (`looksUpOwner`): that one is counted against the total from its accept (with the total full,
 * it waits apart: `awaitOwner`), and nothing serves it (no listener reads it; what it sends
 * waits in its buffer) until its owner is known; then it is counted by its deployment (or
 * refused 429), or, owned by no deployment, as any loopback connection (the total alone).
 * A socket closed meanwhile is released and never passed on. `lookUpOwner` false: never looked
 * up, `admitted` runs at once or never (a caller that needs the answer synchronously).
 */
export function admitConnection(cap: ConnectionCap, socket: Socket, admitted: (release: () => void) => void, address = socket.remoteAddress, lookUpOwner = true): void {
  const peers = lookUpOwner ? cap.looksUpOwner(address) : undefined;
  const ends = peers ? tcpEnds(socket, address) : undefined;
  if (!peers || !ends) {
    const a = cap.admit(address);
    if (!a.ok) return refuse(cap, socket, a);
    socket.once("close", a.release);
    // Destroyed already (a reset before this ran): its 'close' may have gone by.
    if (socket.destroyed) a.release();
    return admitted(a.release);
  }
  // Counted against the total from the accept, as any connection, while its owner is looked up;
  // with the total full, waiting apart (awaitOwner) for the same answer.
  const held = cap.admit(address);
  const waiting = held.ok ? undefined : cap.awaitOwner();
  if (waiting && !waiting.ok) return refuse(cap, socket, waiting);
  let release = held.ok ? held.release : (waiting as Extract<ConnectionAdmission, { ok: true }>).release;
  const releaseNow = () => release();
  socket.once("close", releaseNow);
  // No one else listens to it yet: an error meanwhile (a reset) must not go unheard.
  const onError = () => socket.destroy();
  socket.on("error", onError);
  void peers.deploymentUid(ends.peer, ends.server).catch(() => undefined).then((uid) => {
    socket.off("error", onError);
    if (socket.destroyed) return release();
    // Counted again, by its owner: one synchronous step from its room (or its wait) to its count.
    release();
    const a = uid === undefined ? cap.admit(address) : cap.admitDeployment(uid);
    if (!a.ok) {
      socket.off("close", releaseNow);
      return refuse(cap, socket, a);
    }
    release = a.release;
    admitted(releaseNow);
  });
}

/**
 * Both ends of `socket`'s connection, for the lookup of its owner: none when it answers as a
 * client a proxy named (proxy-protocol.ts actAsClient sets its own `remoteAddress`: its real
 * peer is the proxy, on a Unix socket), or when an end is unknown.
 */
function tcpEnds(socket: Socket, address: string | undefined): { peer: TcpEnd; server: TcpEnd } | undefined {
  if (Object.prototype.hasOwnProperty.call(socket, "remoteAddress") || address !== socket.remoteAddress) return undefined;
  const { remotePort, localAddress, localPort } = socket;
  if (address === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined) return undefined;
  return { peer: { address, port: remotePort }, server: { address: localAddress, port: localPort } };
}

/** Answers a refused `socket` and closes it (admitConnection). */
function refuse(cap: ConnectionCap, socket: Socket, refusal: Extract<ConnectionAdmission, { ok: false }>): void {
  const lingering = cap.linger();
  if (!lingering) {
    socket.destroy();
    return;
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
  else socket.end(refusalAnswer(refusal));
}

/**
 * Puts `cap` in front of every connection `server` accepts (and every one emitted on it), before
 * its own listeners (the HTTP server's parser) see it: for a server that listens itself. Call it
 * once its 'connection' listeners are all in place. A connection its listeners see is admitted:
 * at once, or once its owner is known (admitConnection).
 */
export function capConnections(server: NetServer, cap: ConnectionCap): void {
  const own = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    admitConnection(cap, socket, () => {
      for (const listener of own) listener.call(server, socket);
    });
  });
}
