import type { Logger, Store } from "@flowplane/core";
import type { GatewayIdle } from "../gateway/index.js";
import { monotonicNow } from "../clock.js";

/**
 * Scale to zero (docs/rate-limits-and-idle.md), in the control plane's process:
 *
 * - The gateway reports every request's start and end (`activity`): a deployment with a request
 *   in flight (a long stream, an MCP session's GET) is never put to sleep.
 * - Every `sweepMs` one query lists the deployments with scale to zero on; one idle for its
 *   `idleMinutes` (no request started or ended for that long, none in flight, and a replica
 *   ready for that long: a deployment still starting is not idle) is marked
 *   `sleeping` in the store, with an event: the reconciler then stops its replicas (phase Idle).
 *   Its routes stay.
 * - `wake` (the gateway holds the request meanwhile): clears `sleeping` with an event, has the
 *   reconciler start the replicas, and resolves once one is ready. Concurrent calls for one
 *   deployment share one wake-up (one event, one reconcile).
 *
 * Activity lives in this process's memory; after a restart every awake deployment counts as
 * active from the restart (or its last change, whichever is later), so a restart never puts a
 * busy deployment to sleep. Hence the gateway must run in this process (serve.ts wires it only then).
 */
export interface IdleControllerOptions {
  store: Store;
  /** Ready replica URLs of a runtime (the driver's view, as the gateway's). */
  endpoints(resourceName: string): string[];
  /** Asks the reconciler to look at a deployment now. */
  notify(deploymentId: string): void;
  log?: Logger;
  /** How often the sweep runs (default 5 s). */
  sweepMs?: number;
  /** How often a wake-up checks for a ready replica (default 25 ms). */
  pollMs?: number;
  /**
   * Clock of idle windows and waits, in ms (tests move it). Default monotonic (clock.ts): a wall
   * clock stepped forward an hour put every scale-to-zero deployment to sleep at once.
   */
  now?: () => number;
  /** Clock of the times written (sleeping.since, events) and of reading a record's `updatedAt`. Default Date.now. */
  wallNow?: () => number;
}

interface Activity {
  last: number;
  inFlight: number;
}

/** The longest a wake-up waits for a replica, whatever a request's own timeout (the schema's maximum). */
const MAX_WAKE_MS = 600_000;

export class IdleController implements GatewayIdle {
  private readonly activities = new Map<string, Activity>();
  private readonly waking = new Map<string, Promise<void>>();
  private readonly started: number;
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private readonly now: () => number;
  private readonly wallNow: () => number;

  constructor(private readonly o: IdleControllerOptions) {
    this.now = o.now ?? monotonicNow;
    this.wallNow = o.wallNow ?? (() => Date.now());
    this.started = this.now();
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.o.sweepMs ?? 5_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  activity(deploymentId: string, delta: 1 | -1): void {
    const a = this.activities.get(deploymentId) ?? { last: 0, inFlight: 0 };
    a.last = this.now();
    a.inFlight = Math.max(0, a.inFlight + delta);
    this.activities.set(deploymentId, a);
  }

  /** `started` and `ended` requests at once (a data-plane worker's batched report; supervisor.ts). */
  report(deploymentId: string, started: number, ended: number): void {
    const a = this.activities.get(deploymentId) ?? { last: 0, inFlight: 0 };
    a.last = this.now();
    a.inFlight = Math.max(0, a.inFlight + started - ended);
    this.activities.set(deploymentId, a);
  }

  /** Counts now as activity, without a request in flight. */
  private touch(deploymentId: string): void {
    const a = this.activities.get(deploymentId);
    if (a) a.last = this.now();
    else this.activities.set(deploymentId, { last: this.now(), inFlight: 0 });
  }

  /** Requests to the deployment under way at the gateway now (held ones included): what the metrics sampler reads. */
  inFlight(deploymentId: string): number {
    return this.activities.get(deploymentId)?.inFlight ?? 0;
  }

  wake(deploymentId: string, timeoutMs: number): Promise<void> {
    let w = this.waking.get(deploymentId);
    if (!w) {
      w = this.wakeOnce(deploymentId).finally(() => this.waking.delete(deploymentId));
      this.waking.set(deploymentId, w);
    }
    // Each caller waits at most its own timeout; the wake-up itself goes on for the others.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
    return Promise.race([w, timeout]).finally(() => clearTimeout(timer));
  }

  /** One pass of the sweep: puts to sleep what has been idle long enough. Public for tests. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = this.now();
      for (const c of await this.o.store.listScaleToZero()) {
        if (c.sleeping) continue;
        // No replica ready yet (starting, or crashed): it has not served, so it is not idle. Its
        // window starts once one is ready; a slow start is never put to sleep half way.
        if (this.o.endpoints(c.resourceName).length === 0) {
          this.touch(c.id);
          continue;
        }
        const a = this.activities.get(c.id);
        if (a && a.inFlight > 0) continue;
        // The record's last change (an edit, a wake) on this clock: its age by the wall clock, so
        // a wall clock's step moves this term alone, never the requests' or the process's start.
        const changed = now - Math.max(0, this.wallNow() - Date.parse(c.updatedAt));
        const last = Math.max(a?.last ?? 0, this.started, changed);
        if (now - last < c.idleMinutes * 60_000) continue;
        await this.sleep(c.id, c.idleMinutes);
      }
    } catch (e) {
      this.o.log?.error({ error: e instanceof Error ? e.message : String(e) }, "idle sweep failed");
    } finally {
      this.sweeping = false;
    }
  }

  private async sleep(id: string, idleMinutes: number): Promise<void> {
    const at = new Date(this.wallNow()).toISOString();
    let slept = false;
    await this.o.store.updateDeployment(id, (cur) => {
      // Checked again under the row lock: a wake, an edit, a disable or an undeploy may have come in between.
      const a = this.activities.get(id);
      if (cur.sleeping || cur.disabled || cur.deletionRequestedAt || cur.deletedAt || cur.runtime.scaleToZero?.idleMinutes == null || (a && a.inFlight > 0)) return { deployment: cur };
      slept = true;
      return {
        deployment: { ...cur, sleeping: { since: at } },
        events: [{ time: at, type: "Normal", reason: "ScaledToZero", message: `no request for ${idleMinutes} min: every replica is stopped; the next request wakes it` }],
      };
    });
    if (!slept) return;
    this.o.log?.info({ deploymentId: id, idleMinutes }, "idle: scaled to zero");
    this.o.notify(id);
  }

  private async wakeOnce(id: string): Promise<void> {
    const d = await this.o.store.getDeployment(id);
    if (!d) return;
    if (d.sleeping) {
      const at = new Date(this.wallNow()).toISOString();
      let woke = false;
      await this.o.store.updateDeployment(id, (cur) => {
        if (!cur.sleeping) return { deployment: cur };
        woke = true;
        return {
          deployment: { ...cur, sleeping: null, updatedAt: at, status: { ...cur.status, phase: "Starting" } },
          events: [{ time: at, type: "Normal", reason: "Woken", message: `a request woke it after ${Math.round((Date.parse(at) - Date.parse(cur.sleeping.since)) / 1000)} s idle: starting ${cur.resources.replicas} replica(s)` }],
        };
      });
      if (woke) {
        this.activity(id, 1);
        this.activity(id, -1);
        this.o.log?.info({ deploymentId: id }, "idle: woken by a request");
        this.o.notify(id);
      }
    }
    // Until one replica is ready, however the deployment got here (woken now, or still starting).
    const deadline = this.now() + MAX_WAKE_MS;
    while (this.o.endpoints(d.resourceName).length === 0 && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, this.o.pollMs ?? 25));
    }
  }
}
