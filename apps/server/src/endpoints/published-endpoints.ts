import { endpointsKeyResource, type Logger, type Store } from "@flowplane/core";
import { ReplicaListeners } from "../gateway/replica-listeners.js";

export interface PublishedEndpointsOptions {
  store: Store;
  /** How often the store is read (default 250 ms): how stale a set may be, at most, plus one read. */
  intervalMs?: number;
  log?: Logger;
}

/**
 * A gateway's read-only view of the replica endpoints a reconciler in another process
 * publishes in the store (see README.md in this folder). `endpoints` answers from memory, so
 * the gateway's hot path never waits on the database; a timer reads what changed since the
 * last read. When the store cannot be read (the database is restarting), the last known sets
 * stay in use: the replicas they name keep running whether or not the control plane does.
 */
export class PublishedEndpoints {
  private readonly sets = new Map<string, string[]>();
  /** Each published URL's listener, as last read. */
  private readonly listeners = new ReplicaListeners();
  private cursor: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private failing = false;
  private readonly intervalMs: number;

  private constructor(private readonly o: PublishedEndpointsOptions) {
    this.intervalMs = o.intervalMs ?? 250;
  }

  /** Reads every published set once (a failure here stops the start: nothing known yet), then keeps reading. */
  static async start(o: PublishedEndpointsOptions): Promise<PublishedEndpoints> {
    const v = new PublishedEndpoints(o);
    await v.read();
    v.timer = setInterval(() => void v.refresh(), v.intervalMs);
    v.timer.unref();
    return v;
  }

  /** Base URLs of the runtime's ready replicas, as last published. */
  endpoints(resourceName: string): string[] {
    return this.sets.get(resourceName) ?? [];
  }

  /** The listener `resourceName`'s replica at `endpoint` serves on, as published (GatewaySources.replicaListener). */
  replicaListener(resourceName: string, endpoint: string): string | undefined {
    return this.listeners.get(resourceName, endpoint);
  }

  /** One read now (also what the timer does); never throws, never runs twice at once. */
  refresh(): Promise<void> {
    this.reading ??= this.read().then(() => {
      if (this.failing) this.o.log?.info("published endpoints readable again");
      this.failing = false;
    }, (e: unknown) => {
      if (!this.failing) this.o.log?.warn({ error: e instanceof Error ? e.message : String(e) }, "cannot read the published endpoints; serving the last known ones");
      this.failing = true;
    }).finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.reading;
  }

  private async read(): Promise<void> {
    const { items, cursor } = await this.o.store.endpointsSince(this.cursor);
    for (const { resourceName, urls, listeners } of items) {
      if (urls.length > 0) this.sets.set(resourceName, urls);
      else this.sets.delete(resourceName);
      // A revision's set (revisionEndpointsKey) names the same runtime's replicas.
      this.listeners.told(endpointsKeyResource(resourceName), urls, listeners);
    }
    this.cursor = cursor;
  }
}
