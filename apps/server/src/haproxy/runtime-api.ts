import { connect } from "node:net";

/**
 * HAProxy's runtime API over its stats socket (a unix socket, 0600, in the data folder): one
 * connection per batch, commands separated by `;` (non-interactive mode), the answer read to
 * the end. Maps and servers change here, never by a reload, so no connection is dropped.
 */
export class RuntimeApi {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly socketPath: string, private readonly timeoutMs = 5_000) {}

  /** Runs the commands in order, one batch at a time (batches never interleave); resolves with HAProxy's answer. */
  run(commands: string[]): Promise<string> {
    if (commands.length === 0) return Promise.resolve("");
    const next = this.queue.then(() => this.send(commands));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Runs the commands at once, on a connection of their own, not behind the batches in progress. */
  now(commands: string[]): Promise<string> {
    return this.send(commands);
  }

  private send(commands: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect(this.socketPath);
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => { s.destroy(); reject(new Error("haproxy runtime API: no answer in time")); }, this.timeoutMs);
      s.on("connect", () => s.end(`${commands.join(";")}\n`));
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("error", (err) => { clearTimeout(timer); reject(err); });
      s.on("close", () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString("utf8")); });
    });
  }
}
