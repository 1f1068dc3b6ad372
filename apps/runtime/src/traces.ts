import { MAX_TRACES_PER_BATCH, type Logger, type RunTrace } from "@flowplane/core/replica";
import { identityToken } from "./bundle.js";
import type { RuntimeConfig } from "./config.js";

/**
 * The replica's side of traces (issue #19 item 2): runs' traces are sent to the control plane
 * off the response path. `add` appends to a bounded buffer (full: the trace is dropped and
 * counted, memory never grows); a timer POSTs the buffer in batches of at most
 * MAX_TRACES_PER_BATCH to the traces endpoint beside the bundle's, with the deployment's
 * identity token, and of at most MAX_BATCH_BYTES of JSON (well under the control plane's body
 * limit, even with inputs and outputs kept). A trace larger than that alone is sent without its
 * inputs and outputs. A batch that fails is dropped (a trace is diagnostics, not data to retry
 * forever); the failures are logged at most once a minute.
 */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
export interface TraceShipperOptions {
  target: NonNullable<RuntimeConfig["traces"]>;
  log: Logger;
  intervalMs?: number;
  maxBuffered?: number;
  /** Told each identity token read for a send (from a file the platform may rotate), so it is redacted from what is recorded. */
  onToken?: (token: string) => void;
}

export class TraceShipper {
  /** Each trace with its JSON, measured once. */
  private buffer: { json: string }[] = [];
  private sending: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private lastWarn = 0;
  private readonly max: number;
  /** Traces dropped (buffer full, or a batch that failed), for the log line. */
  dropped = 0;

  constructor(private readonly o: TraceShipperOptions) {
    this.max = o.maxBuffered ?? 2000;
    this.timer = setInterval(() => void this.flush(), o.intervalMs ?? 1000);
    this.timer.unref();
  }

  add(trace: RunTrace): void {
    if (this.buffer.length >= this.max) {
      this.dropped++;
      return;
    }
    let json = JSON.stringify(trace);
    if (json.length > MAX_BATCH_BYTES - 64) json = JSON.stringify(withoutIO(trace));
    this.buffer.push({ json });
  }

  /** Sends what is buffered; resolves when sent (or failed). One send at a time. */
  async flush(): Promise<void> {
    while (this.sending) await this.sending;
    if (this.buffer.length === 0) return;
    this.sending = this.sendAll().finally(() => (this.sending = null));
    await this.sending;
  }

  private async sendAll(): Promise<void> {
    while (this.buffer.length > 0) {
      let n = 0;
      let bytes = 0;
      while (n < this.buffer.length && n < MAX_TRACES_PER_BATCH && (n === 0 || bytes + this.buffer[n]!.json.length + 1 <= MAX_BATCH_BYTES - 64)) bytes += this.buffer[n++]!.json.length + 1;
      const batch = this.buffer.splice(0, n).map((t) => t.json);
      try {
        const bearer = await identityToken(this.o.target);
        if (bearer) this.o.onToken?.(bearer);
        const res = await fetch(this.o.target.url, {
          method: "POST",
          headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
          body: `{"traces":[${batch.join(",")}]}`,
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) throw new Error(`the control plane answered ${res.status}`);
      } catch (err) {
        this.dropped += batch.length;
        if (Date.now() - this.lastWarn > 60_000) {
          this.lastWarn = Date.now();
          this.o.log.warn({ error: (err as Error).message, dropped: this.dropped }, "traces: a batch could not be sent; dropped");
        }
      }
    }
  }

  /** Stops the timer and sends what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

/**
 * Who asked for a run, which runFlow traces under its request id: the request's id, and whether
 * the gateway gave it (only the gateway's names a run). Passed down by the handlers rather than
 * kept in an AsyncLocalStorage, whose promise hooks, once enabled, slow every await of the
 * process (a few percent of a short run's cost, issue #16).
 */
export interface RunCaller {
  requestId: string;
  fromGateway: boolean;
}

/** A trace without its inputs and outputs (too large to send with them). */
function withoutIO(t: RunTrace): RunTrace {
  const { input: _i, output: _o, ...rest } = t;
  return { ...rest, spans: t.spans.map(({ inputs: _in, outputs: _out, ...s }) => s) };
}
