import { connect, type Socket } from "node:net";

/**
 * `GET /ready` to one replica over one kept-alive loopback connection, written and read by hand.
 * A `fetch` per probe (a new connection, an undici request, an AbortSignal timer) cost the control
 * plane about a millisecond of CPU per probe, a quarter of a percent of a core per idle
 * deployment at one probe a second; this costs a write and a read on an open socket. The
 * answer is read only as far as its status line and length: a 200 is ready, anything else, a
 * timeout, a refused or closed connection is a failed probe (the caller counts them against
 * its failure threshold). A replica that hangs (stopped, or its main thread stuck) accepts the
 * connection but never answers: its probes time out, as they did over fetch.
 */
export class ReadyProbe {
  private socket: Socket | null = null;
  private buffer = "";
  /** Answers the probe under way; null when none is. */
  private pending: ((ok: boolean) => void) | null = null;
  /** True once the current socket has carried an answer: a close before any answer on a reused socket is retried once. */
  private reused = false;
  /** True once the probe under way has been sent again on a new connection (at most once per probe). */
  private retried = false;

  constructor(readonly port: number) {}

  /** True only for a 200 within `timeoutMs`. One probe at a time: a second call while one is out fails at once. */
  check(timeoutMs: number): Promise<boolean> {
    if (this.pending) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => this.settle(false, true), timeoutMs);
      this.pending = (ok) => {
        clearTimeout(timer);
        resolve(ok);
      };
      this.retried = false;
      this.send();
    });
  }

  /** Ends the connection; a probe under way fails. */
  close(): void {
    this.drop();
    this.settle(false, false);
  }

  private send(): void {
    if (!this.socket) this.open();
    this.socket!.write(REQUEST);
  }

  private open(): void {
    const socket = connect({ port: this.port, host: "127.0.0.1" });
    socket.unref();
    socket.setNoDelay(true);
    socket.setEncoding("latin1");
    this.socket = socket;
    this.buffer = "";
    this.reused = false;
    socket.on("data", (chunk: string) => {
      if (this.socket !== socket) return;
      this.buffer += chunk;
      this.parse();
    });
    socket.on("error", () => undefined); // "close" follows and settles
    socket.on("close", () => {
      if (this.socket !== socket) return;
      const wasReused = this.reused;
      this.drop();
      // The replica closed an idle kept-alive connection just as this probe went out: once more, on a new one.
      if (this.pending && wasReused && !this.retried) {
        this.retried = true;
        this.send();
      } else this.settle(false, false);
    });
  }

  /** One answer: its head, then as many body bytes as it announces. */
  private parse(): void {
    // A probe answer is a few dozen bytes: anything this large is not one.
    if (this.buffer.length > 16_384) return this.settle(false, true);
    const end = this.buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = this.buffer.slice(0, end);
    const ok = head.startsWith("HTTP/1.1 200 ") || head.startsWith("HTTP/1.0 200 ");
    let total: number;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (length) total = end + 4 + Number(length[1]);
    else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      // In chunks: it ends with the zero-length chunk, after the head's or the previous chunk's line end.
      const last = this.buffer.indexOf("\r\n0\r\n\r\n", end + 2);
      if (last < 0) return;
      total = last + 7;
    } else {
      // No length (read to the close): the status is known; this connection is not reused.
      this.settle(ok, true);
      return;
    }
    if (this.buffer.length < total) return;
    this.buffer = this.buffer.slice(total);
    this.reused = true;
    this.settle(ok, /\r\nconnection:\s*close/i.test(head));
  }

  private settle(ok: boolean, drop: boolean): void {
    if (drop) this.drop();
    const pending = this.pending;
    this.pending = null;
    pending?.(ok);
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = null;
    this.buffer = "";
    socket?.destroy();
  }
}

const REQUEST = "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
