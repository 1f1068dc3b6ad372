import { MAX_BODY_WAIT_MS, MAX_TRACES_PER_BATCH, type Logger, type RunTrace } from "@flowplane/core/replica";
import { identityToken } from "./bundle.js";
import type { RuntimeConfig } from "./config.js";
import { TRACE_RETRY, isRetryable, retryDelayMs } from "./trace-retry.js";

/**
 * The replica's side of traces (issue #19 item 2): runs' traces are sent to the control plane
 * off the response path. `add` appends to a bounded buffer (full: the trace is dropped and
 * counted, memory never grows); a timer POSTs the buffer in batches of at most
 * MAX_TRACES_PER_BATCH to the traces endpoint beside the bundle's, with the deployment's
 * identity token, and of at most MAX_BATCH_BYTES of JSON (well under the control plane's body
 * limit, even with inputs and outputs kept). A trace larger than that alone is sent without its
 * inputs and outputs.
 *
 * A batch the control plane asks for later (429 or 503: trace-retry.ts) is kept and sent again
 * once its Retry-After has passed, at most TRACE_RETRY.attempts sends in all; any other failure
 * drops it (a trace is diagnostics, not data to retry forever). The failures are logged at most
 * once a minute. Invariants: one send at a time, and the batch being sent or waiting for its
 * retry goes first (nothing newer is sent ahead of it, which would only spend the rate the
 * control plane just said is spent); its traces count against `maxBuffered` and `maxBufferedChars` with the buffer's.
 */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * How long one send may take: longer than the control plane's body budget keeps a large body
 * waiting for room (MAX_BODY_WAIT_MS, 30 s) before its 429, plus 10 s for the transfer and the
 * insert. With less (it was 10 s) a replica hung up while it waited its turn, lost its place
 * and dropped the batch as a timeout: the 429 with Retry-After that asks for the batch later
 * never arrived.
 */
const SEND_TIMEOUT_MS = MAX_BODY_WAIT_MS + 10_000;

/**
 * The most trace JSON held at once (characters: buffered, plus the batch being sent or waiting
 * for its retry), beside the count bound: the control plane's own burst for a deployment (32
 * MiB, traces/ingest.ts), more than which it would refuse anyway. A count alone does not bound
 * memory: a trace may be up to MAX_BATCH_BYTES, and the deployments whose traces are large are
 * the ones the control plane's rate bound answers 429, whose batches now wait for their
 * Retry-After while the buffer fills to its count (2,000 such traces held for minutes).
 */
export const MAX_BUFFERED_CHARS = 32 * 1024 * 1024;

/** What `close` may take when its caller gives no budget: one send's worth. */
const CLOSE_BUDGET_MS = 10_000;

export interface TraceShipperOptions {
  target: NonNullable<RuntimeConfig["traces"]>;
  log: Logger;
  intervalMs?: number;
  maxBuffered?: number;
  /** The most trace JSON held, in characters (default MAX_BUFFERED_CHARS). */
  maxBufferedChars?: number;
  /** How long one send may take (default SEND_TIMEOUT_MS). */
  sendTimeoutMs?: number;
  /** Told each identity token read for a send (from a file the platform may rotate), so it is redacted from what is recorded. */
  onToken?: (token: string) => void;
}

/** The batch being sent, or waiting to be sent again: its traces' JSON, sends so far, and when it is due. */
interface Batch {
  traces: string[];
  /** The traces' JSON characters, counted in `heldChars` until the batch is sent or dropped. */
  chars: number;
  sends: number;
  /** When it may be sent, on the monotonic clock: a stepped wall clock neither delays nor hastens a retry. */
  dueAt: number;
}

/** How a send ended: sent, refused for later (with the Retry-After), or failed for good. */
type Outcome = { kind: "sent" } | { kind: "later"; status: number; retryAfter: string | null } | { kind: "failed"; error: string };

export class TraceShipper {
  /** Each trace with its JSON, measured once. */
  private buffer: { json: string }[] = [];
  /** The batch in flight or waiting for its retry; null: the next one is taken from the buffer. */
  private current: Batch | null = null;
  private sending: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  /** The send in flight, aborted at its timeout or when `close`'s budget is over. */
  private inFlight: AbortController | null = null;
  private closing = false;
  /** `close`'s budget is over: nothing more is sent, what is left is dropped. */
  private outOfTime = false;
  private lastWarn = 0;
  private readonly max: number;
  private readonly maxChars: number;
  /** The JSON characters of what `held` counts. */
  private heldChars = 0;
  /** Traces dropped (buffer full, a batch that failed or was refused too often), for the log line. */
  dropped = 0;
  /** Traces sent again after a 429 or 503, for the log line. */
  retried = 0;

  constructor(private readonly o: TraceShipperOptions) {
    this.max = o.maxBuffered ?? 2000;
    this.maxChars = o.maxBufferedChars ?? MAX_BUFFERED_CHARS;
    this.timer = setInterval(() => void this.flush(), o.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Traces held: buffered, plus the batch being sent or waiting for its retry. */
  get held(): number {
    return this.buffer.length + (this.current?.traces.length ?? 0);
  }

  add(trace: RunTrace): void {
    if (this.held >= this.max) {
      this.dropped++;
      return;
    }
    let json = JSON.stringify(trace);
    if (json.length > MAX_BATCH_BYTES - 64) json = JSON.stringify(withoutIO(trace));
    if (this.heldChars + json.length > this.maxChars) {
      this.dropped++;
      return;
    }
    this.heldChars += json.length;
    this.buffer.push({ json });
  }

  /**
   * Sends what is buffered; resolves when sent (or failed), or when the batch ahead waits for its
   * retry (a later tick sends it once due; `close` at once). One send at a time.
   */
  async flush(): Promise<void> {
    while (this.sending) await this.sending;
    if (this.held === 0) return;
    this.sending = this.sendAll().finally(() => (this.sending = null));
    await this.sending;
  }

  private async sendAll(): Promise<void> {
    for (;;) {
      if (this.outOfTime) return this.giveUp();
      const batch = this.current ?? (this.current = this.take());
      if (!batch) return;
      // A batch waiting for its Retry-After holds back every newer one; a draining replica sends it now.
      if (batch.dueAt > performance.now() && !this.closing) return;
      if (batch.sends > 0) this.retried += batch.traces.length;
      batch.sends++;
      const outcome = await this.send(batch.traces);
      if (outcome.kind === "later" && batch.sends < TRACE_RETRY.attempts && !this.closing) {
        batch.dueAt = performance.now() + retryDelayMs(outcome.retryAfter, batch.sends);
        continue;
      }
      this.current = null;
      this.heldChars -= batch.chars;
      if (outcome.kind === "sent") continue;
      this.drop(batch.traces.length, outcome.kind === "failed" ? outcome.error : `the control plane answered ${outcome.status} ${this.closing ? "while the replica drains" : `to each of ${batch.sends} sends`}`);
    }
  }

  /** The next batch off the buffer: at most MAX_TRACES_PER_BATCH traces and MAX_BATCH_BYTES of JSON. */
  private take(): Batch | null {
    if (this.buffer.length === 0) return null;
    let n = 0;
    let bytes = 0;
    while (n < this.buffer.length && n < MAX_TRACES_PER_BATCH && (n === 0 || bytes + this.buffer[n]!.json.length + 1 <= MAX_BATCH_BYTES - 64)) bytes += this.buffer[n++]!.json.length + 1;
    const traces = this.buffer.splice(0, n).map((t) => t.json);
    return { traces, chars: traces.reduce((c, t) => c + t.length, 0), sends: 0, dueAt: 0 };
  }

  private async send(traces: string[]): Promise<Outcome> {
    const ms = this.o.sendTimeoutMs ?? SEND_TIMEOUT_MS;
    const ac = (this.inFlight = new AbortController());
    const timeout = setTimeout(() => ac.abort(new Error(`no answer within ${ms} ms`)), ms);
    try {
      const bearer = await identityToken(this.o.target);
      if (bearer) this.o.onToken?.(bearer);
      const res = await fetch(this.o.target.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
        body: `{"traces":[${traces.join(",")}]}`,
        signal: ac.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { kind: "sent" };
      if (isRetryable(res.status)) return { kind: "later", status: res.status, retryAfter: res.headers.get("retry-after") };
      return { kind: "failed", error: `the control plane answered ${res.status}` };
    } catch (err) {
      return { kind: "failed", error: this.outOfTime ? "the drain's time for traces ran out" : (err as Error).message };
    } finally {
      clearTimeout(timeout);
      this.inFlight = null;
    }
  }

  /** The drain's budget is over: what is still held is dropped. */
  private giveUp(): void {
    const n = this.held;
    this.buffer = [];
    this.current = null;
    this.heldChars = 0;
    if (n > 0) this.drop(n, "the drain's time for traces ran out");
  }

  private drop(n: number, error: string): void {
    this.dropped += n;
    if (Date.now() - this.lastWarn > 60_000) {
      this.lastWarn = Date.now();
      this.o.log.warn({ error, dropped: this.dropped, retried: this.retried }, "traces: a batch could not be sent; dropped");
    }
  }

  /**
   * Stops the timer and sends what is left, each batch once (one answered 429 or 503 now is
   * dropped: the replica is stopping and cannot wait for a Retry-After), within `budgetMs`: then
   * the send in flight is abandoned and what is left is dropped, so a slow or refusing control
   * plane never holds a replica's exit past its grace period.
   */
  async close(budgetMs: number = CLOSE_BUDGET_MS): Promise<void> {
    clearInterval(this.timer);
    this.closing = true;
    const limit = setTimeout(() => {
      this.outOfTime = true;
      this.inFlight?.abort(new Error("the drain's time for traces ran out"));
    }, budgetMs);
    limit.unref();
    try {
      await this.flush();
    } finally {
      clearTimeout(limit);
    }
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
