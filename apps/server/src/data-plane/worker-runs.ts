import { Counter, type Registry } from "prom-client";
import type { NewRun } from "@flowplane/core";
import type { RunRecorder } from "../runs/recorder.js";
import { runOf, type GatewayCall } from "../runs/call.js";
import { RUNS_INTERVAL_MS, type FromWorker } from "./protocol.js";

/** Runs per IPC message at most; a full batch is sent at once. */
const BATCH = 200;
/** Runs held at most while the channel is slow; beyond, dropped and counted (as the control plane's recorder does). */
const MAX_HELD = 10_000;

/**
 * A worker's run recorder: each finished call becomes its run here (runOf: the body is searched
 * in this process, and only the small record crosses the channel), held in a bounded buffer and
 * sent to the control plane's BufferedRunRecorder in batches: every RUNS_INTERVAL_MS, or as soon
 * as BATCH are held. Never one message per request under load; never waits, never throws.
 */
export class IpcRunRecorder implements RunRecorder {
  private held: NewRun[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly dropped: Counter<"outcome">;

  constructor(private readonly o: { send(m: FromWorker): void; registry: Registry }) {
    // The same series as the control plane's recorder: summed at scrape (metrics.ts).
    this.dropped = new Counter({
      name: "flowplane_runs_recorded_total",
      help: "Gateway calls handed to the run history, by outcome: written (to the database), dropped (buffer full, or a failed write with no room to retry).",
      labelNames: ["outcome"] as const,
      registers: [o.registry],
    });
  }

  record(call: GatewayCall): void {
    let run: NewRun | null;
    try {
      run = runOf(call, Date.now());
    } catch {
      return; // a malformed call description must never reach the gateway's own error path
    }
    if (!run) return;
    if (this.held.length >= MAX_HELD) {
      this.dropped.inc({ outcome: "dropped" });
      return;
    }
    this.held.push(run);
    if (this.held.length >= BATCH) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), RUNS_INTERVAL_MS);
      this.timer.unref();
    }
  }

  /** Sends everything held (also when the control plane stops). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.held.length > 0) this.o.send({ t: "runs", runs: this.held.splice(0, BATCH) });
  }
}
