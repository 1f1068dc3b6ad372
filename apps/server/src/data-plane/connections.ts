import type { Server } from "node:http";
import type { Socket } from "node:net";
import { gatewayParams } from "../gateway/paths.js";
import { answerClientError } from "../http/client-errors.js";
import { admitConnection, type ConnectionCap } from "../http/connection-cap.js";
import { readClientHead } from "./client-header.js";
import { actAsClient, readProxyLine, type ProxiedClient } from "./proxy-protocol.js";

/** The longest request line looked at; a longer one is not the gateway's (the control plane answers it, 414 or 400). */
const MAX_LINE = 8 * 1024;

/**
 * How long a new connection has to send its first request line (behind HAProxy, its PROXY line
 * too; behind nginx, its whole head): Node's own `headersTimeout` default. Before the switch
 * decides, no HTTP server owns the socket, so none of Node's timeouts apply: without this a
 * connection that sends nothing (or a line that never ends) held a worker's descriptor for
 * ever, and enough of them (the worker's open-file limit) made every later connection, every
 * tenant's and the API's, fail at accept.
 */
export const FIRST_LINE_TIMEOUT_MS = 60_000;

/**
 * The path switch of a worker's listener, per connection: the first request line is read; a
 * gateway path keeps the connection in the worker (its HTTP server parses from the first byte
 * again), anything else is handed over, socket and all, to the control plane (`handOff`), which
 * then serves the whole connection itself: the API keeps its real client socket (address,
 * `Expect` handling, early refusal, streaming), for the price of one file-descriptor passing per
 * connection and nothing per request.
 */
export interface ClassifyOptions {
  /** Behind flowplane's HAProxy: a PROXY line comes first (proxy-protocol.ts). */
  proxied?: boolean;
  /**
   * Behind nginx: each connection carries one request whose head names the client in
   * CLIENT_ADDRESS_HEADER (client-header.ts); the head is read whole and passed on without it.
   * Only for the Unix socket nginx alone reaches; not with `proxied`.
   */
  clientAddressHeader?: boolean;
  firstLineTimeoutMs?: number;
  /**
   * The listener's bound on connections (http/connection-cap.ts), applied as soon as the client's
   * address is known: at once, or behind a proxy once its PROXY line or header names the client.
   * A loopback connection, where the cap bounds local deployments, is read from only once its
   * owner is known (admitConnection). A handed over connection leaves this process's count when
   * its copy here closes (at the hand-over).
   */
  cap?: ConnectionCap;
}

export function classifyConnection(socket: Socket, gateway: Server, handOff: (socket: Socket, head: Buffer, client: ProxiedClient | undefined, sent: () => void) => void, o: ClassifyOptions = {}): void {
  // Released when the socket closes, or once it has been handed over (`sent`): its handle then
  // has left this process, and the socket here never emits 'close' (Node's handle passing drops
  // it). Not before: handles wait in the IPC channel's queue while the control plane is busy.
  // Behind HAProxy, counted against the total from the accept (a Unix socket's), and by its client
  // once the PROXY line names it.
  // Behind a proxy the socket's peer is the proxy: no owner of its own to look up.
  const behindProxy = Boolean(o.proxied || o.clientAddressHeader);
  if (o.cap) admitConnection(o.cap, socket, (release) => classifyAdmitted(socket, gateway, handOff, o, release), socket.remoteAddress, !behindProxy);
  else classifyAdmitted(socket, gateway, handOff, o, () => {});
}

function classifyAdmitted(socket: Socket, gateway: Server, handOff: (socket: Socket, head: Buffer, client: ProxiedClient | undefined, sent: () => void) => void, o: ClassifyOptions, admitted: () => void): void {
  const { proxied = false, clientAddressHeader = false, firstLineTimeoutMs = FIRST_LINE_TIMEOUT_MS, cap } = o;
  let release: (() => void) | null = admitted;
  let head: Buffer | undefined;
  // A deadline from the connection's start, not an idle timeout: `socket.setTimeout` is reset by
  // every byte read, so a client sending one byte of its line every few seconds (MAX_LINE of
  // them) kept the connection and its descriptor for days.
  const deadline = setTimeout(() => socket.destroy(), firstLineTimeoutMs);
  socket.once("close", () => clearTimeout(deadline));
  // Behind flowplane's HAProxy (proxy-protocol.ts): its PROXY line comes first and names the client.
  let expectProxy = proxied;
  // Behind nginx (client-header.ts): the request's head names the client.
  let expectHeader = clientAddressHeader;
  let client: ProxiedClient | undefined;
  const stopListening = () => {
    socket.off("data", onData);
    socket.off("error", onError);
    clearTimeout(deadline);
  };
  /**
   * The client is known: the socket answers as it, and is counted by it (false: refused by the
   * cap). It answers as the client a proxy named, so no owner is looked up (admitConnection) and
   * the admission is synchronous.
   */
  const clientKnown = (c: ProxiedClient | undefined): boolean => {
    client = c;
    actAsClient(socket, client);
    release?.();
    release = null;
    if (cap) admitConnection(cap, socket, (r) => (release = r), socket.remoteAddress, false);
    if (cap && !release) {
      stopListening();
      return false;
    }
    return true;
  };
  const onData = (chunk: Buffer) => {
    head = head ? Buffer.concat([head, chunk]) : chunk;
    if (expectProxy) {
      const p = readProxyLine(head);
      if (p === "incomplete") return;
      if (p === null) return socket.destroy();
      expectProxy = false;
      head = p.rest;
      if (!clientKnown(p.client)) return;
    } else if (expectHeader) {
      const h = readClientHead(head);
      if (h === "incomplete") return;
      if (h === "too-large") {
        // What the client sent through nginx (which lets a head reach 64 KiB): answered as the
        // workers' HTTP server answers a head past its limit (431, the one error shape).
        stopListening();
        return answerClientError(Object.assign(new Error("request head too large"), { code: "HPE_HEADER_OVERFLOW" }), socket);
      }
      if (h === null) return socket.destroy();
      expectHeader = false;
      head = h.head;
      if (!clientKnown(h.client)) return;
    }
    const eol = requestLineEnd(head);
    if (eol === -1 && head.length < MAX_LINE) return;
    stopListening();
    socket.pause();
    const line = head.subarray(0, eol === -1 ? head.length : eol).toString("latin1");
    const target = line.split(" ", 3)[1] ?? "";
    if (gatewayParams(target)) {
      socket.unshift(head);
      gateway.emit("connection", socket);
      socket.resume();
    } else {
      stopReading(socket);
      // What the stream had buffered past the pause (nothing, normally) goes with the head.
      const buffered = socket.readableLength > 0 ? (socket.read() as Buffer | null) : null;
      handOff(socket, buffered ? Buffer.concat([head, buffered]) : head, client, release ?? (() => {}));
    }
  };
  const onError = () => socket.destroy();
  socket.on("data", onData);
  socket.on("error", onError);
}

/**
 * Where the first request line of `head` ends, or -1 while it may still go on. A CRLF ends it, as
 * does what Node's parser (llhttp) stops at and refuses the request for: a bare LF (`GET /
 * HTTP/1.1\n`), or a CR followed by anything but LF. Looking for the CRLF alone, a head written
 * with bare LFs (a whole request, `\n\n` and all, in a few dozen bytes) was never classified: no
 * server had the connection to refuse it, and it was held without an answer until the first-line
 * deadline, a minute of a connection slot for every such request. Ended here, the connection goes
 * to its server as any other, whose parser answers 400 at once (the one error shape,
 * http/client-errors.ts) and closes it. A CR that ends what has arrived may still be a CRLF's.
 */
function requestLineEnd(head: Buffer): number {
  const lf = head.indexOf(0x0a);
  const cr = head.indexOf(0x0d);
  if (cr === -1 || (lf !== -1 && lf < cr)) return lf;
  return cr + 1 < head.length ? cr : -1;
}

/**
 * Makes Node enforce `headersTimeout` and `requestTimeout` on a server that never listens itself
 * (a worker's: it parses the connections the switch hands it with `emit("connection")`). Node
 * starts tracking connections, and the periodic check that answers 408 to a slow request, only
 * when its server emits `listening` (`setupConnectionsTracking`, Node 18 and later); without it a
 * client that sends a gateway path's headers (or its body) a byte at a time, or never finishes
 * them, keeps its connection and descriptor for ever. Call before the first connection.
 */
export function enforceRequestTimeouts(server: Server): void {
  server.emit("listening");
}

/**
 * Stops the reads at the handle itself, for good. `pause()` only stops the 'data' events: libuv
 * goes on reading into the stream's buffer (in the same turn, even), and the bytes read after the
 * handle is passed to another process would be lost (a large request body arrived cut short).
 * Stopping the handle once is not enough either: a paused stream still fills its buffer up to
 * its high-water mark (the Readable's `maybeReadMore`, any `read(0)`), and its `_read` starts the
 * handle again. The handle is not passed at once when others are under way (the IPC channel
 * queues a handle until the previous one is acknowledged), so under concurrent connections the
 * worker read the request body that arrived meanwhile and dropped it with its copy of the
 * socket: the control plane had the headers only and the request hung until the client gave up.
 * So the stream is never to read again here.
 */
function stopReading(socket: Socket): void {
  const handle = (socket as Socket & { _handle?: { reading?: boolean; readStop?: () => number } })._handle;
  if (handle?.readStop) {
    handle.reading = false;
    handle.readStop();
  }
  (socket as Socket & { _read: (size: number) => void })._read = () => {};
}

/** Control plane side: a connection handed over by a worker joins `server` with the bytes the worker had read. */
export function adoptConnection(server: Server, socket: Socket, head: Buffer, client?: ProxiedClient): void {
  actAsClient(socket, client);
  // Synchronous with the socket's creation from the passed handle: its own reads only land in a
  // later turn of the event loop, so `head` stays first.
  socket.unshift(head);
  server.emit("connection", socket);
}
