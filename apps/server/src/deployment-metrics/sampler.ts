import type { Logger, RuntimeDriver } from "@flowplane/core";
import { MinuteRollup, SeriesColumns } from "./series.js";

export interface SamplerOptions {
  /** The deployments to sample (the store's live ones). */
  targets(): Promise<{ id: string; resourceName: string }[]>;
  driver: Pick<RuntimeDriver, "observe" | "usage">;
  /**
   * Requests being proxied to a deployment now: the gateway's activity count (the idle
   * controller's). Absent when this process's gateway does not report to it (split roles).
   */
  inFlight?: (deploymentId: string) => number;
  log: Logger;
  /** Sampling period (default 10 s). */
  periodMs?: number;
  now?: () => number;
}

/** What the sampler knows of one deployment. */
interface Tracked {
  /** Raw samples of the last hour. */
  recent: SeriesColumns;
  /** Per-minute means of the last day. */
  day: SeriesColumns;
  rollup: MinuteRollup;
  /** The driver's last reason for not measuring CPU and memory; undefined when it measures. */
  usageUnavailable?: string;
  /** Per replica, the last cumulative CPU reading, to turn the next one into a rate. */
  cpu: Map<string, { t: number; seconds: number }>;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The columns of a sample: `inFlight`, `ready`, and `cpu:<replica>`, `mem:<replica>` per replica. */
export const col = { inFlight: "inFlight", ready: "ready", cpu: (r: string) => `cpu:${r}`, mem: (r: string) => `mem:${r}` };

/**
 * Samples every live deployment's ready replicas, in-flight requests and each replica's CPU and
 * memory, in the process that runs the driver. Kept in memory only: the last hour raw (one
 * sample per period), the last day as per-minute means. A restart starts empty; the request
 * series come from the run history, in the database, and survive it.
 */
export class DeploymentSampler {
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  readonly periodMs: number;

  constructor(private readonly o: SamplerOptions) {
    this.periodMs = o.periodMs ?? 10_000;
  }

  /** Whether in-flight requests are measured in this process. */
  get measuresInFlight(): boolean {
    return this.o.inFlight !== undefined;
  }

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.periodMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One round over every deployment (one at a time: a round is a few reads of memory or /proc). */
  sample(): Promise<void> {
    this.running ??= this.round().catch((e: unknown) => {
      this.o.log.warn({ error: e instanceof Error ? e.message : String(e) }, "metrics sampler: a round failed; the next one tries again");
    }).finally(() => { this.running = null; });
    return this.running;
  }

  private async round(): Promise<void> {
    const targets = await this.o.targets();
    const live = new Set(targets.map((t) => t.resourceName));
    for (const name of this.tracked.keys()) if (!live.has(name)) this.tracked.delete(name);
    for (const t of targets) await this.sampleOne(t).catch((e: unknown) => {
      this.o.log.warn({ deploymentId: t.id, error: e instanceof Error ? e.message : String(e) }, "metrics sampler: a deployment could not be sampled");
    });
  }

  private async sampleOne({ id, resourceName }: { id: string; resourceName: string }): Promise<void> {
    const [observed, usage] = await Promise.all([this.o.driver.observe(resourceName), this.o.driver.usage(resourceName)]);
    const now = this.now();
    let t = this.tracked.get(resourceName);
    if (!t) {
      const day = new SeriesColumns();
      t = { recent: new SeriesColumns(), day, rollup: new MinuteRollup(day), cpu: new Map() };
      this.tracked.set(resourceName, t);
    }
    const values: Record<string, number> = { [col.ready]: observed.replicas.filter((r) => r.state === "ready").length };
    if (this.o.inFlight) values[col.inFlight] = this.o.inFlight(id);
    if (usage.available) {
      t.usageUnavailable = undefined;
      const seen = new Set<string>();
      for (const u of usage.replicas) {
        seen.add(u.replica);
        values[col.mem(u.replica)] = u.memoryBytes;
        if (u.cpuCores !== undefined) values[col.cpu(u.replica)] = u.cpuCores;
        else if (u.cpuSecondsTotal !== undefined) {
          const before = t.cpu.get(u.replica);
          t.cpu.set(u.replica, { t: now, seconds: u.cpuSecondsTotal });
          // A rate needs two readings; a counter that went back is a restarted process: start again.
          if (before && now > before.t && u.cpuSecondsTotal >= before.seconds) values[col.cpu(u.replica)] = (u.cpuSecondsTotal - before.seconds) / ((now - before.t) / 1000);
        }
      }
      for (const r of t.cpu.keys()) if (!seen.has(r)) t.cpu.delete(r);
    } else t.usageUnavailable = usage.reason;
    t.recent.push(now, values);
    t.recent.trim(now - HOUR - this.periodMs);
    t.rollup.add(now, values);
    t.day.trim(now - DAY - 60_000);
  }

  /**
   * The samples of a deployment over [from, from + step·count): the raw tier when it covers the
   * range (the last hour), else the per-minute tier. Undefined for a deployment never sampled.
   */
  series(resourceName: string, from: number, step: number, count: number): SampledSeries | undefined {
    const t = this.tracked.get(resourceName);
    if (!t) return undefined;
    const tier = from >= this.now() - HOUR ? t.recent : t.day;
    const replicas = [...new Set(t.recent.keys().concat(tier.keys()).filter((k) => k.startsWith("mem:")).map((k) => k.slice(4)))].sort();
    return {
      inFlight: tier.buckets(col.inFlight, from, step, count),
      ready: tier.buckets(col.ready, from, step, count),
      replicas: replicas.map((r) => ({ replica: r, cpuCores: tier.buckets(col.cpu(r), from, step, count), memoryBytes: tier.buckets(col.mem(r), from, step, count) }))
        .filter((r) => r.memoryBytes.some((v) => v !== null)),
      usageUnavailable: t.usageUnavailable,
      latest: {
        inFlight: t.recent.last(col.inFlight),
        ready: t.recent.last(col.ready),
        replicas: replicas.map((r) => ({ cpuCores: t.recent.last(col.cpu(r)), memoryBytes: t.recent.last(col.mem(r)) })).filter((r) => r.memoryBytes !== null),
      },
    };
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

export interface SampledSeries {
  inFlight: (number | null)[];
  ready: (number | null)[];
  replicas: { replica: string; cpuCores: (number | null)[]; memoryBytes: (number | null)[] }[];
  usageUnavailable: string | undefined;
  /** The last sample's values (replicas present in it). */
  latest: { inFlight: number | null; ready: number | null; replicas: { cpuCores: number | null; memoryBytes: number | null }[] };
}
