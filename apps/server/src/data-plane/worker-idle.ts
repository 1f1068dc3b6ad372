import type { GatewayIdle } from "../gateway/index.js";
import { ACTIVITY_INTERVAL_MS, type FromWorker } from "./protocol.js";

/**
 * A worker's side of scale to zero (idle/idle-controller.ts runs in the control plane):
 *
 * - `activity`: counted here per deployment and reported as `[id, started, ended]`, throttled:
 *   the first activity after a quiet spell is sent at once (so a deployment about to be put to
 *   sleep learns of a new request without delay), what follows at most every
 *   ACTIVITY_INTERVAL_MS. Never one IPC message per request.
 * - `wake`: one question per deployment at a time from this worker, whatever the number of held
 *   requests; the control plane's IdleController shares one wake-up among all its workers'
 *   questions, so a deployment is woken once however many workers hold requests for it.
 */
export class WorkerIdle implements GatewayIdle {
  private readonly counts = new Map<string, { started: number; ended: number }>();
  private readonly waking = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: {
    send(m: FromWorker): void;
    /** Asks the control plane to wake a deployment; settles when the wake-up is over (WorkerSources.wake). */
    wake(deploymentId: string, timeoutMs: number): Promise<void>;
  }) {}

  activity(deploymentId: string, delta: 1 | -1): void {
    let c = this.counts.get(deploymentId);
    if (!c) {
      c = { started: 0, ended: 0 };
      this.counts.set(deploymentId, c);
    }
    if (delta > 0) c.started++;
    else c.ended++;
    if (this.timer) return; // a report is due at the end of the interval
    this.flush();
    this.arm();
  }

  wake(deploymentId: string, timeoutMs: number): Promise<void> {
    let w = this.waking.get(deploymentId);
    if (!w) {
      w = this.o.wake(deploymentId, timeoutMs).finally(() => this.waking.delete(deploymentId));
      this.waking.set(deploymentId, w);
    }
    return w;
  }

  /** Sends what was counted since the last report (also when the control plane stops). */
  flush(): void {
    if (this.counts.size === 0) return;
    const items: [string, number, number][] = [];
    for (const [id, c] of this.counts) items.push([id, c.started, c.ended]);
    this.counts.clear();
    this.o.send({ t: "activity", items });
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Keep throttling while activity goes on; a quiet interval ends it.
      if (this.counts.size === 0) return;
      this.flush();
      this.arm();
    }, ACTIVITY_INTERVAL_MS);
    this.timer.unref();
  }
}
