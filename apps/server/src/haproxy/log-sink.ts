import { randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "@flowplane/core";

/**
 * Where HAProxy's fast-path log arrives (config.ts `ring fplog`). HAProxy appends each call's
 * line to a ring in its own memory, without a system call per call, and forwards the ring over
 * one loopback TCP connection, octet-counted (RFC 6587: `<length> <line>`), many lines per
 * write. Measured: a line written to a pipe (`log stdout`) cost HAProxy 6-7 µs of CPU per call
 * (30 against 23 µs without a log); the ring costs about 1.
 *
 * Anyone on this machine can connect to a loopback port, so a line counts only when it starts
 * with this process's `token` (random per start, written only into HAProxy's 0600 config). A
 * connection is HAProxy's once its first line carries the token; until then it has
 * UNPROVEN_MS to show one and at most MAX_UNPROVEN such connections are open at once, so a
 * local process can neither forge a run nor hold the control plane's descriptors. A connection
 * whose first line lacks the token is closed, nothing it sent recorded; a later tokenless line
 * on HAProxy's own connection (it should not happen: only the gateway frontend logs) is skipped.
 * Refusals are logged at most once per REFUSAL_LOG_MS.
 *
 * Reads are batched: after a small chunk the socket rests LOG_BATCH_MS before the next read, so
 * one wake-up of the control plane carries many lines; a big chunk (a heavy load) is read on at
 * once. Meanwhile lines wait in the socket's buffers and HAProxy's ring (RING_BYTES).
 */
export class LogSink {
  readonly token = randomBytes(16).toString("hex");
  private readonly sockets = new Set<Socket>();
  private unproven = 0;
  private refused = 0;
  private lastRefusalLog = -Infinity; // performance.now() starts near 0: the first refusal is logged

  private constructor(private readonly server: Server, private readonly o: LogSinkOptions) {
    server.on("connection", (s) => this.accept(s));
  }

  static async start(o: LogSinkOptions): Promise<LogSink> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: 0 }, () => resolve());
    });
    return new LogSink(server, o);
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  private accept(s: Socket): void {
    if (this.unproven >= MAX_UNPROVEN) return this.refuse(s, "too many connections not yet proven");
    this.sockets.add(s);
    this.unproven++;
    let proven = false;
    const prove = () => { if (!proven) { proven = true; this.unproven--; s.setTimeout(0); } };
    s.once("close", () => { this.sockets.delete(s); prove(); });
    s.on("error", () => s.destroy());
    s.setTimeout(UNPROVEN_MS, () => this.refuse(s, "no line within the time allowed"));
    const prefix = `${this.token} `;
    let pending: Buffer = Buffer.alloc(0);
    s.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      for (;;) {
        // The frame's length: a few digits, then a space. Anything else is not HAProxy's framing.
        let len = 0;
        let i = at;
        for (; i < pending.length && pending[i] !== 0x20; i++) {
          const digit = pending[i]! - 0x30;
          if (digit < 0 || digit > 9 || i - at >= MAX_LENGTH_DIGITS) return this.refuse(s, "a bad frame length");
          len = len * 10 + digit;
        }
        if (i === pending.length) break; // the length goes on in the next read
        if (len <= 0 || len > MAX_LINE) return this.refuse(s, "a bad frame length");
        const start = i + 1;
        if (pending.length < start + len) break;
        // Each line a string of its own (a slice of one string of the whole read would keep the read
        // alive as long as any run record made from the line waits to be written).
        const line = pending.toString("utf8", start, start + len);
        at = start + len;
        if (line.startsWith(prefix)) {
          prove();
          this.o.onLine(line.slice(prefix.length).trimEnd());
        } else if (!proven) {
          return this.refuse(s, "a line without this start's token");
        }
      }
      pending = pending.subarray(at);
      if (chunk.length < LOG_BIG_CHUNK) {
        s.pause();
        setTimeout(() => s.resume(), LOG_BATCH_MS).unref();
      }
    });
  }

  private refuse(s: Socket, why: string): void {
    s.destroy();
    this.refused++;
    const now = performance.now();
    if (now - this.lastRefusalLog < REFUSAL_LOG_MS) return;
    this.lastRefusalLog = now;
    this.o.log.warn({ why, refused: this.refused }, "haproxy log sink: a connection that is not flowplane's HAProxy was closed");
    this.refused = 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface LogSinkOptions {
  /** Each fast-path line, without the token (log-line.ts `parseFastLine`). */
  onLine(line: string): void;
  log: Logger;
}

/** The ring's size in HAProxy's memory: lines wait there while the control plane is busy (about 40,000 lines). */
export const RING_BYTES = 4 * 1024 * 1024;
/** The longest line (config.ts `maxlen`); a frame announcing more is not HAProxy's. */
export const MAX_LINE = 4096;
const LOG_BATCH_MS = 10;
/** How long a new connection has to send a line with the token, and how many may be waiting at once. */
export const UNPROVEN_MS = 2_000;
const MAX_UNPROVEN = 4;
const REFUSAL_LOG_MS = 10_000;
const LOG_BIG_CHUNK = 16 * 1024;
/** A frame's length has at most this many digits (MAX_LINE has 4). */
const MAX_LENGTH_DIGITS = 12;
