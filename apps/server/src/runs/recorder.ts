import { Counter, type Registry } from "prom-client";
import { TrimSchedule } from "./trim-schedule.js";
import type { Logger, NewRun, RunStore } from "@flowplane/core";
import { runOf, type GatewayCall } from "./call.js";

/** Writes of one batch before it is dropped (counted): the database refusing it three times is no passing outage. */
const MAX_ATTEMPTS = 3;

/** The one thing the gateway knows of the run history: it hands over each finished call. Never throws, never waits. */
export interface RunRecorder {
  record(call: GatewayCall): void;
}

export interface BufferedRunRecorderOptions {
  store: Pick<RunStore, "insertRuns" | "trimRuns">;
  /**
   * Each deployment's newest runs kept (FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT), enforced as they are
   * written, not only at retention's sweep: a run is at most ~2.3 KB stored (its caller-given
   * texts are cut to 200 characters), so a count is a byte bound, but between two sweeps (5
   * minutes) a deployment called as fast as the gateway goes wrote millions. Checked at a
   * deployment's first batch in this process, then each 1/16 of it written. Unset: sweep only.
   */
  maxPerDeployment?: number;
  /** Prometheus registry for the recorder's counters (the process's one, metrics.ts). */
  registry: Registry;
  log: Logger;
  /** Runs held in memory at most; beyond it a run is dropped and counted (default 10,000). */
  maxBuffered?: number;
  /** Rows per INSERT (default 500); a full batch is written at once, a partial one every `flushIntervalMs`. */
  batchSize?: number;
  flushIntervalMs?: number;
  now?: () => number;
}

/**
 * The run history's writer (issue #19): off the request path. `record` only appends to a
 * bounded in-memory buffer; batches go to the database in one multi-row INSERT each, every
 * second or as soon as a batch is full, one write at a time. When the database falls behind and
 * the buffer is full, new runs are dropped and counted (`flowplane_runs_dropped_total`) rather
 * than memory growing: the gateway's latency and memory never depend on the database. A batch
 * whose write failed goes back to the front of the buffer while there is room, up to three
 * attempts. `close` writes
 * what is left (graceful shutdown).
 */
export class BufferedRunRecorder implements RunRecorder {
  private buffer: NewRun[] = [];
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastFailureLog = 0;
  /** Failed writes in a row of the batch at the front. */
  private failures = 0;
  private readonly max: number;
  private readonly batch: number;
  private readonly now: () => number;
  private readonly recorded: Counter<"outcome">;
  /** When each deployment's runs are due a trim to maxPerDeployment. */
  private readonly trims = new TrimSchedule();

  constructor(private readonly o: BufferedRunRecorderOptions) {
    this.max = o.maxBuffered ?? 10_000;
    this.batch = o.batchSize ?? 500;
    this.now = o.now ?? Date.now;
    this.recorded = new Counter({
      name: "flowplane_runs_recorded_total",
      help: "Gateway calls handed to the run history, by outcome: written (to the database), dropped (buffer full, or a failed write with no room to retry).",
      labelNames: ["outcome"] as const,
      registers: [o.registry],
    });
    this.timer = setInterval(() => void this.flush(), o.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  record(call: GatewayCall): void {
    if (this.closed) return;
    if (this.buffer.length >= this.max) {
      this.recorded.inc({ outcome: "dropped" });
      return;
    }
    let run: NewRun | null;
    try {
      run = runOf(call, this.now());
    } catch {
      return; // a malformed call description must never reach the gateway's own error path
    }
    if (!run) return;
    this.add([run]);
  }

  /** Runs already built elsewhere (a data-plane worker's batch, data-plane/worker-runs.ts): buffered as `record`'s. */
  add(runs: NewRun[]): void {
    if (this.closed) return;
    const room = Math.max(0, this.max - this.buffer.length);
    if (runs.length > room) this.recorded.inc({ outcome: "dropped" }, runs.length - room);
    for (let i = 0; i < Math.min(room, runs.length); i++) this.buffer.push(runs[i]!);
    if (this.buffer.length >= this.batch && !this.writing) void this.flush();
  }

  /** How many runs wait in memory. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Writes everything buffered so far, batch by batch; resolves once it is written (or has failed). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.buffer.length === 0) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = null;
    });
    await this.writing;
  }

  private async writeAll(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batch);
      try {
        await this.o.store.insertRuns(batch);
        this.failures = 0;
        this.recorded.inc({ outcome: "written" }, batch.length);
        await this.trim(batch);
      } catch (e) {
        // A batch the database keeps refusing (not a passing outage) must not block those behind it.
        this.failures++;
        const room = this.failures >= MAX_ATTEMPTS ? 0 : Math.max(0, this.max - this.buffer.length);
        if (room === 0) this.failures = 0;
        this.buffer.unshift(...batch.slice(0, room));
        if (batch.length > room) this.recorded.inc({ outcome: "dropped" }, batch.length - room);
        if (this.now() - this.lastFailureLog > 60_000) {
          this.lastFailureLog = this.now();
          this.o.log.warn({ error: e instanceof Error ? e.message : String(e), pending: this.buffer.length }, "run history: a batch could not be written; it is retried");
        }
        return; // the next tick retries
      }
    }
  }

  /** Deletes the oldest runs of the batch's deployments past maxPerDeployment, when due; a failure is logged and retried later. */
  private async trim(batch: NewRun[]): Promise<void> {
    const max = this.o.maxPerDeployment;
    if (max === undefined) return;
    const written = new Map<string, number>();
    for (const r of batch) written.set(r.deploymentId, (written.get(r.deploymentId) ?? 0) + 1);
    for (const [deploymentId, n] of written) {
      if (!this.trims.due(deploymentId, n, Math.max(1, max / 16))) continue;
      try {
        const deleted = await this.o.store.trimRuns(deploymentId, max);
        if (deleted > 0) this.o.log.debug({ deploymentId, deleted }, "run history: a deployment's oldest runs deleted (FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT)");
        this.trims.trimmed(deploymentId);
      } catch (e) {
        if (this.now() - this.lastFailureLog > 60_000) {
          this.lastFailureLog = this.now();
          this.o.log.warn({ error: e instanceof Error ? e.message : String(e), deploymentId }, "run history: trimming a deployment's oldest runs failed; it is retried");
        }
      }
    }
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
