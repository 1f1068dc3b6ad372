import type { Principal, RunStatsRow, Store } from "@flowplane/core";
import { DEFAULT_METRICS_STEP_SECONDS, METRICS_WINDOW_SECONDS, metricsQuerySchema, stepSeconds, type DeploymentMetrics } from "@flowplane/core/api";
import type { DeploymentService } from "../services/deployments.js";
import { parse } from "../services/identity.js";
import type { DeploymentSampler } from "./sampler.js";

export interface MetricsServiceOptions {
  store: Pick<Store, "runStats">;
  deployments: Pick<DeploymentService, "get">;
  /** The sampler of this process's driver; undefined in a process that runs none (split roles: the API alone). */
  sampler: DeploymentSampler | undefined;
  now?: () => number;
}

const NO_DRIVER = "this control-plane process runs no driver: the process with the reconciler role samples replicas";
const NO_GATEWAY = "in-flight requests are counted where the gateway and the reconciler run in one process; here they do not";
const NOT_YET = "no sample yet: the sampler takes one every few seconds (and starts empty after a restart)";

type Requests = DeploymentMetrics["requests"];
type RequestSeries = Omit<Requests, "revisions">;

function emptySeries(n: number): RequestSeries {
  return { requests: new Array<number>(n).fill(0), errors: new Array<number>(n).fill(0), serverErrors: new Array<number>(n).fill(0), p50: new Array<null>(n).fill(null), p95: new Array<null>(n).fill(null), p99: new Array<null>(n).fill(null) };
}

function place(s: RequestSeries, r: RunStatsRow, i: number): void {
  s.requests[i] = r.requests;
  s.errors[i] = r.errors;
  s.serverErrors[i] = r.serverErrors;
  s.p50[i] = r.p50;
  s.p95[i] = r.p95;
  s.p99[i] = r.p99;
}

const sum = (xs: (number | null)[]): number | null => (xs.length === 0 || xs.some((x) => x === null) ? null : xs.reduce<number>((a, x) => a + x!, 0));

/**
 * How long one aggregate of the run history serves again, per window: at the retention limit a
 * day's aggregate costs seconds on PGlite (bench/metrics.mjs), and every open page polls.
 */
const REUSE_MS: Record<string, number> = { "5m": 5_000, "1h": 10_000, "24h": 60_000 };
/** Aggregates kept for reuse at most (one per deployment, window and step viewed lately). */
const MAX_CACHED = 256;

/** The metrics endpoint: the run history's aggregates and the sampler's series, on one time axis. */
export class MetricsService {
  /**
   * Recent aggregates by deployment, window and step, with the bucket start they were made for:
   * concurrent and repeated asks (several viewers, polling pages, `top --watch`) share one query.
   */
  private readonly cache = new Map<string, { from: number; at: number; rows: Promise<RunStatsRow[]> }>();

  constructor(private readonly o: MetricsServiceOptions) {}

  private runStats(deploymentId: string, window: string, from: number, end: number, step: number): Promise<RunStatsRow[]> {
    const key = `${deploymentId} ${window} ${step}`;
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.from === from && now - hit.at < (REUSE_MS[window] ?? 0)) return hit.rows;
    const rows = this.o.store.runStats(deploymentId, { from: new Date(from), to: new Date(end), stepMs: step });
    this.cache.delete(key);
    this.cache.set(key, { from, at: now, rows });
    rows.catch(() => this.cache.delete(key)); // a failure is not kept: the next ask tries again
    if (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    return rows;
  }

  async get(p: Principal, projectId: string, id: string, query: Record<string, string | undefined>): Promise<DeploymentMetrics> {
    const q = parse(metricsQuerySchema, query);
    const d = await this.o.deployments.get(p, projectId, id);
    const window = q.window ?? "1h";
    const step = (q.step ? stepSeconds(q.step)! : DEFAULT_METRICS_STEP_SECONDS[window]) * 1000;
    const count = Math.ceil((METRICS_WINDOW_SECONDS[window] * 1000) / step);
    // Buckets aligned on the step (the same buckets from one call to the next); the last one is the current, partial one.
    const end = (Math.floor(this.now() / step) + 1) * step;
    const from = end - count * step;
    const times = Array.from({ length: count }, (_, i) => (from + i * step) / 1000);

    const rows = await this.runStats(d.id, window, from, end, step);
    const all = emptySeries(count);
    const byRevision = new Map<number | null, RequestSeries>();
    let whole: RunStatsRow | undefined;
    for (const r of rows) {
      if (r.bucket === null) whole = r;
      else if (r.revision === "all") place(all, r, r.bucket);
      else {
        let s = byRevision.get(r.revision);
        if (!s) byRevision.set(r.revision, (s = emptySeries(count)));
        place(s, r, r.bucket);
      }
    }
    const revisions = [...byRevision].sort(([a], [b]) => (a ?? 0) - (b ?? 0)).map(([revision, s]) => ({ revision, ...s }));

    const sampled = this.o.sampler?.series(d.resourceName, from, step, count);
    const unavailable = (reason: string) => ({ available: false as const, reason });
    const noSamples = this.o.sampler ? NOT_YET : NO_DRIVER;
    const latest = sampled?.latest;
    const usageKnown = sampled && !sampled.usageUnavailable && latest;
    return {
      window, stepSeconds: step / 1000, from: new Date(from).toISOString(), to: new Date(end).toISOString(), times,
      requests: { ...all, revisions },
      inFlight: !this.o.sampler ? unavailable(NO_DRIVER) : !this.o.sampler.measuresInFlight ? unavailable(NO_GATEWAY) : sampled ? { available: true, values: sampled.inFlight } : unavailable(noSamples),
      replicasReady: sampled ? { available: true, values: sampled.ready } : unavailable(noSamples),
      replicas: !sampled ? unavailable(noSamples) : sampled.usageUnavailable ? unavailable(sampled.usageUnavailable) : { available: true, items: sampled.replicas },
      summary: {
        requests: whole?.requests ?? 0,
        requestsPerSecond: (whole?.requests ?? 0) / METRICS_WINDOW_SECONDS[window],
        errors: whole?.errors ?? 0,
        serverErrors: whole?.serverErrors ?? 0,
        p50: whole?.p50 ?? null, p95: whole?.p95 ?? null, p99: whole?.p99 ?? null,
        inFlight: this.o.sampler?.measuresInFlight ? latest?.inFlight ?? null : null,
        replicasReady: latest?.ready ?? null,
        replicasDesired: d.resources.replicas,
        cpuCores: usageKnown ? sum(latest.replicas.map((r) => r.cpuCores)) : null,
        memoryBytes: usageKnown ? sum(latest.replicas.map((r) => r.memoryBytes)) : null,
      },
    };
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}
