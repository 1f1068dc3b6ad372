import type { Principal } from "@flowplane/core";
import { LookupTimeoutError, type GatewayRoute, type GatewaySources } from "../gateway/index.js";
import { ReplicaListeners } from "../gateway/replica-listeners.js";
import { fromWire, type FromWorker, type ReadySet, type ToWorker } from "./protocol.js";

/**
 * A worker's view of the control plane (the gateway's sources, over IPC): ready sets (a
 * deployment's, and each live revision's) and secrets as the control plane pushed them, keys and routes asked on a cache miss. The
 * gateway's own TTL caches sit in front, so a lookup here happens once per key or route per
 * TTL (4 s, 1 s), whatever the request rate.
 *
 * Every question has a deadline (`timeoutMs`): a control plane that does not answer (stopped,
 * stuck on a long task) makes the lookup fail with LookupTimeoutError, which the pipeline
 * answers 504, rather than hold the request for ever. A late answer is dropped.
 */
export class WorkerSources implements GatewaySources {
  private readonly ready = new Map<string, string[]>();
  /** Per deployment, its live revisions' ready sets (by `runs`), as of its last route answer and pushes since. */
  private readonly revisions = new Map<string, Map<number, string[]>>();
  private readonly secrets = new Map<string, string>();
  /** Each replica's listener as last pushed (ReadySet.listeners). */
  private readonly listeners = new ReplicaListeners();
  private readonly pending = new Map<number, { resolve(m: ToWorker): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private next = 1;

  constructor(private readonly send: (m: FromWorker) => void, private readonly onForget: () => void, private readonly timeoutMs: number) {}

  /** Every message from the control plane passes here. */
  receive(m: ToWorker): void {
    switch (m.t) {
      case "authenticate": case "route": case "wake": {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (!p) return; // answered after its deadline
        clearTimeout(p.timer);
        if (m.t === "wake") this.setReady(m.ready);
        if (m.t !== "wake" && m.error) p.reject(new Error(`the control plane failed to answer a ${m.t} lookup`));
        else p.resolve(m);
        return;
      }
      case "endpoints":
        this.setReady([m.ready]);
        return;
      case "forget-routes":
        this.onForget();
        return;
      case "metrics": case "flush":
        return; // answered by the worker's main
    }
  }

  /** The channel closed: nothing pending will be answered. */
  failAll(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("the control plane is gone"));
    }
    this.pending.clear();
  }

  private ask(m: { t: "authenticate"; key: string } | { t: "route"; routeId: string } | { t: "wake"; deploymentId: string; timeoutMs: number }, timeoutMs = this.timeoutMs): Promise<ToWorker> {
    const id = this.next++;
    if (this.next > 2 ** 30) this.next = 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LookupTimeoutError(m.t === "authenticate" ? "key" : m.t, timeoutMs));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      this.send({ ...m, id });
    });
  }

  /**
   * Asks the control plane to wake a deployment (scale to zero); resolves once it says the
   * wake-up is over, with the ready set updated, or rejects after `timeoutMs` plus this
   * channel's own deadline (the control plane's wait is bounded by `timeoutMs` itself).
   */
  async wake(deploymentId: string, timeoutMs: number): Promise<void> {
    await this.ask({ t: "wake", deploymentId, timeoutMs }, timeoutMs + this.timeoutMs);
  }

  async authenticate(key: string): Promise<Principal | null> {
    const m = await this.ask({ t: "authenticate", key });
    return m.t === "authenticate" && m.principal ? fromWire(m.principal) : null;
  }

  async resolveRoute(routeId: string): Promise<GatewayRoute | null> {
    const m = await this.ask({ t: "route", routeId });
    if (m.t !== "route" || !m.route) return null;
    // The route's live revisions replace those known before: a revision no longer live keeps no stale set.
    this.revisions.set(m.route.resourceName, new Map());
    this.setReady(m.ready);
    if (m.secret) this.secrets.set(m.route.deploymentId, m.secret);
    return m.route;
  }

  /** A deployment's ready replicas; with `revision`, that live revision's only (the traffic split). */
  endpoints(resourceName: string, revision?: number): string[] {
    return (revision === undefined ? this.ready.get(resourceName) : this.revisions.get(resourceName)?.get(revision)) ?? [];
  }

  replicaListener(resourceName: string, endpoint: string): string | undefined {
    return this.listeners.get(resourceName, endpoint);
  }

  private setReady(sets: ReadySet[]): void {
    for (const { resourceName, runs, urls, listeners } of sets) {
      this.listeners.told(resourceName, urls, listeners);
      if (runs === undefined) { this.ready.set(resourceName, urls); continue; }
      let mine = this.revisions.get(resourceName);
      if (!mine) this.revisions.set(resourceName, (mine = new Map()));
      mine.set(runs, urls);
    }
  }

  gatewaySecret(deploymentId: string): string {
    // Always known: a request is forwarded only after its route was resolved, which brought the secret.
    return this.secrets.get(deploymentId) ?? "";
  }
}
