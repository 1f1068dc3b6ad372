/** The labels of one gateway request; `deployment` and `revision` when the route resolved (and the revision is known). */
export interface RequestLabels {
  route_id: string;
  kind: string;
  status_class: string;
  deployment?: string;
  revision?: string;
}

export interface RequestDurations {
  /** One request of `seconds`, or `times` alike (a native proxy's counted calls: nginx/lua-log.ts). */
  observe(labels: RequestLabels, seconds: number, times?: number): void;
}

/** One entry of prom-client's metric JSON (a bucket, the sum or the count of one label set). */
interface MetricValue {
  value: number;
  metricName: string;
  labels: Record<string, string | number>;
  exemplar: null | undefined;
}

/** One label set's counts: per bucket (not cumulative; the last is +Inf), their sum and count. */
interface Series {
  labels: Readonly<RequestLabels>;
  buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * The gateway's request latency histogram (metrics.ts `gatewayRequestDuration`), observed once
 * per proxied call: by every gateway worker, and by the control plane for each call a native
 * proxy served (fast-path/state.ts `recordCall`, and `recordCount` for calls nginx counted: n
 * alike at once; the sum then differs from n additions only by the float's rounding).
 * prom-client's Histogram checks and hashes the label object on every observe, about 1 µs a
 * call; here a call costs a string key and a Map lookup. prom-client's Registry still serves
 * it: `get()` gives prom-client's own JSON shape (cumulative buckets with `le` first, then
 * `_sum` and `_count`; aggregated by sum across processes), so the text exposition and the
 * workers' merge are prom-client's.
 *
 * Bounded as before (metrics.ts REVISIONS_PER_DEPLOYMENT): a deployment keeps the series of its
 * last revisions only; when one more revision appears, the oldest one's series go. Series
 * without a deployment or a revision are not counted against any.
 */
export class RequestDurationHistogram implements RequestDurations {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, Series>();
  /** Per deployment: its revisions with series, oldest first, and the keys of each one's series. */
  private readonly revisions = new Map<string, Map<string, string[]>>();

  constructor(
    readonly name: string,
    readonly help: string,
    /** Upper bounds, ascending; +Inf is added. */
    private readonly bounds: readonly number[],
    private readonly revisionsPerDeployment: number,
  ) {}

  observe(labels: RequestLabels, seconds: number, times = 1): void {
    // prom-client throws on a value that is not finite; a latency measured here never is one, and a metric must not fail a call.
    if (!Number.isFinite(seconds) || !Number.isSafeInteger(times) || times < 1) return;
    // The label values joined with NUL, \u0001 for a label that is not there. No value holds either:
    // route ids are flowplane's random ids, kinds and status classes fixed words, deployments DNS
    // labels, revisions digits (a replica's header is checked before it becomes one). A value that
    // did would share a series with another label set, as a comma does in prom-client's own key.
    const key = `${labels.route_id}\0${labels.kind}\0${labels.status_class}\0${labels.deployment ?? "\u0001"}\0${labels.revision ?? "\u0001"}`;
    const s = this.series.get(key) ?? this.add(key, labels);
    // prom-client's rule: the first bucket whose bound is at least the value.
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++;
    s.buckets[i]! += times;
    s.sum += seconds * times;
    s.count += times;
  }

  /** prom-client's metric JSON (Registry `getMetricsAsJSON`, `metrics()`; AggregatorRegistry `aggregate`). */
  async get(): Promise<{ name: string; help: string; type: "histogram"; aggregator: "sum"; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        acc += s.buckets[i]!;
        values.push({ value: acc, metricName: `${this.name}_bucket`, exemplar: null, labels: { le: i < this.bounds.length ? this.bounds[i]! : "+Inf", ...s.labels } });
      }
      // (prom-client's own sum and count entries carry an `exemplar` key left undefined: so do these.)
      values.push({ value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined, labels: { ...s.labels } }, { value: s.count, metricName: `${this.name}_count`, exemplar: undefined, labels: { ...s.labels } });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Registry `resetMetrics`. */
  reset(): void {
    this.series.clear();
    this.revisions.clear();
  }

  private add(key: string, labels: RequestLabels): Series {
    const copy: RequestLabels = { route_id: labels.route_id, kind: labels.kind, status_class: labels.status_class };
    if (labels.deployment !== undefined) copy.deployment = labels.deployment;
    if (labels.revision !== undefined) copy.revision = labels.revision;
    const s: Series = { labels: copy, buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
    this.series.set(key, s);
    if (labels.deployment === undefined || labels.revision === undefined) return s;
    let revisions = this.revisions.get(labels.deployment);
    if (!revisions) this.revisions.set(labels.deployment, (revisions = new Map()));
    let keys = revisions.get(labels.revision);
    if (!keys) {
      revisions.set(labels.revision, (keys = []));
      while (revisions.size > this.revisionsPerDeployment) {
        const [oldest, oldKeys] = revisions.entries().next().value!;
        for (const k of oldKeys) this.series.delete(k);
        revisions.delete(oldest);
      }
    }
    keys.push(key);
    return s;
  }
}
