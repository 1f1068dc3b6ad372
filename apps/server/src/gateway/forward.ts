import type { IncomingHttpHeaders } from "node:http";
import { readFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { Agent, Pool, buildConnector, type Dispatcher } from "undici";
import { sharedReads, stillListensAt } from "@flowplane/core";
import type { Exchange } from "./exchange.js";
import { REVISION_HEADER, RUN_ERROR_HEADER } from "@flowplane/core";
import { clientResponseHeaders, setRevisionHeader } from "./headers.js";
import { withCors } from "./cors.js";
import { PassWrites, type Holder } from "./pass-writes.js";

/**
 * Upstream failures, from undici's error codes:
 * - `refused`: the connection was never made, so nothing was sent: any request may go elsewhere.
 * - `reset`: the replica closed the connection before answering: it may have acted, so only
 *   idempotent requests go elsewhere (this covers a keep-alive socket closed by a draining replica).
 * - `timeout`: the replica stayed silent longer than the route allows (504).
 * - `other`: anything else (502).
 */
export type Failure = "refused" | "reset" | "timeout" | "other";

export function failureOf(err: Error): Failure {
  const code = (err.cause as { code?: string } | undefined)?.code ?? (err as { code?: string }).code;
  switch (code) {
    case "ECONNREFUSED": case "UND_ERR_CONNECT_TIMEOUT": case "EHOSTUNREACH": case "ENETUNREACH": case "ENOTFOUND": case NOT_THE_REPLICA:
      return "refused";
    case "UND_ERR_SOCKET": case "ECONNRESET": case "EPIPE": case "UND_ERR_CLOSED":
      return "reset";
    case "UND_ERR_HEADERS_TIMEOUT": case "UND_ERR_BODY_TIMEOUT":
      return "timeout";
    default:
      return "other";
  }
}

/** What one attempt came to before the answer began: `null` once the replica's answer is being streamed to the client. */
export type AttemptResult = null | { failure: Failure; code: string | undefined };

/** A connection refused by the gateway itself: the listener at the address is no longer the replica's. Nothing was sent. */
export const NOT_THE_REPLICA = "FLOWPLANE_NOT_THE_REPLICA";

export interface UpstreamsOptions {
  connectionsPerReplica: number;
  connectTimeoutMs: number;
  /** Told of each connection closed unused because it failed its listener check (the pipeline logs it). */
  onForeignListener?: (origin: string, why: string) => void;
}

/** How many pools of checked connections are kept before the idle ones are closed. */
const CHECKED_POOLS = 256;

/**
 * The proxy itself: undici's dispatcher with a handler that writes the replica's answer straight
 * into the client's response (no intermediate stream, no buffering: the answer's first bytes at
 * the end of the event-loop pass they arrived in, with the other answers of that pass
 * (pass-writes.ts), every chunk after them as it arrives, with backpressure both ways), one
 * keep-alive pool per replica.
 *
 * A replica on this machine's loopback is sent to with the listener its driver made for it
 * (`send`'s `listener`, GatewaySources.replicaListener), and each new connection is checked
 * once made, before the request is written: that listener must still be listening on the port.
 * When a replica dies its port is free at once, before the driver's exit event and the new
 * endpoints reach this gateway; a process of another deployment that bound it then would get
 * this deployment's calls and its gateway secret. Such a connection is closed unused, and the
 * call goes to another replica as after a refused connection. Connections are pooled per
 * replica and listener, never per address alone: a kept-alive connection to the replica that
 * now holds a reused port is never lent to a call meant for the one before. The check reads
 * /proc/net/tcp, one read shared by the connections made while the one before ran.
 */
export class Upstreams {
  private readonly agent: Agent;
  /** Pools of checked connections, by `<origin> <listener>`. */
  private readonly checked = new Map<string, Pool>();
  private readonly read = sharedReads(() => readFile("/proc/net/tcp", "utf8"));
  private readonly connect: buildConnector.connector;
  private readonly pass = new PassWrites();

  constructor(private readonly o: UpstreamsOptions) {
    this.agent = new Agent({ connections: o.connectionsPerReplica, pipelining: 1, connect: { timeout: o.connectTimeoutMs } });
    this.connect = buildConnector({ timeout: o.connectTimeoutMs });
  }

  /**
   * Sends the exchange's request to `origin`. `timeoutMs` bounds the silence: before the answer's
   * headers, then between two chunks (undici's headersTimeout and bodyTimeout), so a stream (SSE,
   * MCP) lives as long as data keeps flowing. `listener`: the replica's listener, checked on each
   * new connection; null: the address is another deployment's now, so nothing is sent (refused);
   * undefined: not checked (Kubernetes).
   */
  send(ex: Exchange, origin: string, headers: IncomingHttpHeaders, timeoutMs: number, listener?: string | null): Promise<AttemptResult> {
    if (listener === null) {
      this.o.onForeignListener?.(origin, "its port is another deployment's replica's now");
      return Promise.resolve({ failure: "refused", code: NOT_THE_REPLICA });
    }
    const dispatcher = listener === undefined ? this.agent : this.pool(origin, listener);
    return new Promise((resolve) => {
      const handler = new Attempt(ex, this.pass, resolve);
      dispatcher.dispatch({
        origin, path: ex.path + ex.search, method: ex.req.method as Dispatcher.HttpMethod, headers, body: ex.body,
        headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
      }, handler);
    });
  }

  /** The pool of connections to `origin` checked against `listener`. */
  private pool(origin: string, listener: string): Pool {
    const key = `${origin} ${listener}`;
    let pool = this.checked.get(key);
    if (pool) return pool;
    if (this.checked.size >= CHECKED_POOLS) {
      for (const [k, p] of this.checked) {
        const { connected, pending, running } = p.stats;
        if (connected === 0 && pending === 0 && running === 0) {
          this.checked.delete(k);
          void p.close().catch(() => undefined);
        }
      }
    }
    const port = Number(new URL(origin).port);
    pool = new Pool(origin, {
      connections: this.o.connectionsPerReplica, pipelining: 1,
      connect: (opts, callback) => {
        this.connect(opts, (err, socket) => {
          if (err || !socket) return callback(err, null);
          const refuse = (why: string) => {
            socket.destroy();
            this.o.onForeignListener?.(origin, why);
            callback(Object.assign(new Error(`the listener at ${origin} is not the replica's: ${why}`), { code: NOT_THE_REPLICA }), null);
          };
          stillListensAt(this.read, port, listener).then((ok) => {
            if (ok) callback(null, socket as Socket);
            else refuse("its listener is gone");
          }, (e: Error) => refuse(`/proc/net/tcp could not be read (${e.message})`));
        });
      },
    });
    this.checked.set(key, pool);
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([this.agent.close(), ...[...this.checked.values()].map((p) => p.close())]);
    this.checked.clear();
  }
}

const CLIENT_GONE = new Error("the client closed the connection");

/**
 * What one answer may hold until the end of its pass: past it, the answer goes live at once (its
 * held bytes written, backpressure from then on). In one pass undici can hand one connection
 * what libuv reads from it in one poll, up to 32 reads of 64 KiB (2 MiB), all while held, with no
 * backpressure; the pass's batching is for small answers.
 */
export const HOLD_MAX = 64 * 1024;

/** One attempt's undici handler: copies the answer's head and body into the client's response. */
export class Attempt implements Dispatcher.DispatchHandler, Holder {
  private started = false;
  private controller: Dispatcher.DispatchController | undefined;
  private readonly resume = () => this.controller?.resume();
  /** The answer's bytes of this pass, written at its end (pass-writes.ts); undefined: none waiting. */
  private held: Buffer[] | undefined;
  private heldBytes = 0;
  /** The first held bytes went: every later chunk is written as it arrives. */
  private live = false;
  /** The answer ended while its bytes were held: the flush ends it. */
  private endHeld = false;

  constructor(private readonly ex: Exchange, private readonly pass: PassWrites, private readonly settle: (r: AttemptResult) => void) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    const res = this.ex.res;
    if (res.destroyed) return controller.abort(CLIENT_GONE);
    // The client leaving aborts the upstream request (and so frees the replica's connection).
    res.once("close", () => { if (!res.writableFinished) controller.abort(CLIENT_GONE); });
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx: informational, not forwarded
    const { ex } = this;
    this.started = true;
    ex.proxied = true;
    ex.status = statusCode;
    const out = setRevisionHeader(clientResponseHeaders(headers), ex.route!);
    // CORS on: the gateway's headers, never the replica's own (writeHead would let them override those set at handle).
    if (ex.cors) withCors(out, ex.cors);
    out["x-request-id"] = ex.requestId;
    // For the run history: what the client is told (the revision that answered, the replica's error code).
    ex.revision = Number(out[REVISION_HEADER]) || null;
    const code = out[RUN_ERROR_HEADER];
    ex.errorCode = typeof code === "string" ? code : undefined;
    // The head is fixed now; node:http sends it with the first bytes written (or the end).
    if (!ex.res.destroyed) ex.res.writeHead(statusCode, out as Record<string, string | string[]>);
    this.settle(null);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.ex.res.destroyed) return;
    if (this.live) return this.write(chunk);
    if (this.held) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      // Written now (inside undici's callback, so a full client pauses the parser at once).
      if (this.heldBytes >= HOLD_MAX) this.flushHeld();
      return;
    }
    if (chunk.length >= HOLD_MAX) {
      this.live = true;
      return this.write(chunk);
    }
    this.held = [chunk];
    this.heldBytes = chunk.length;
    this.pass.hold(this);
  }

  onResponseEnd(): void {
    if (this.held) {
      this.endHeld = true;
      return;
    }
    if (!this.ex.res.destroyed) this.ex.res.end();
  }

  flushHeld(): void {
    const held = this.held;
    // Written already, before its pass ended (it grew past HOLD_MAX).
    if (held === undefined) return;
    this.held = undefined;
    this.heldBytes = 0;
    this.live = true;
    const res = this.ex.res;
    // The client left, or the replica's answer broke (onResponseError destroyed the response).
    if (res.destroyed) return;
    const bytes = held.length === 1 ? held[0]! : Buffer.concat(held);
    if (this.endHeld) res.end(bytes);
    else this.write(bytes);
  }

  onFlushError(): void {
    this.ex.res.destroy();
  }

  private write(chunk: Buffer): void {
    const res = this.ex.res;
    if (!res.write(chunk)) {
      this.controller?.pause();
      res.once("drain", this.resume);
    }
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (!this.started) {
      this.settle({ failure: failureOf(err), code: (err.cause as { code?: string } | undefined)?.code ?? (err as { code?: string }).code });
      return;
    }
    // The answer had begun: nothing can be said any more; the client sees the stream cut, after
    // the bytes that came before the failure (held ones too: written first, as they would have been).
    this.flushHeld();
    this.ex.res.destroy();
  }
}
