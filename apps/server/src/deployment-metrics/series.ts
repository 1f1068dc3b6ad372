/**
 * Columns of numbers over common sample times, in memory, bounded by age: the sampler's store.
 * Numbers in plain arrays (8 bytes each), NaN where a column had no value at a time; a column
 * that has had none over the whole kept span is dropped (a replica that went away).
 */
export class SeriesColumns {
  readonly times: number[] = [];
  private readonly cols = new Map<string, number[]>();
  /** Per column, the last time it had a value. */
  private readonly lastSeen = new Map<string, number>();

  /** Appends one sample at `t` (ms; not before the last one). */
  push(t: number, values: Record<string, number>): void {
    this.times.push(t);
    for (const [k, col] of this.cols) col.push(k in values ? values[k]! : NaN);
    for (const [k, v] of Object.entries(values)) {
      if (!this.cols.has(k)) this.cols.set(k, [...new Array<number>(this.times.length - 1).fill(NaN), v]);
      this.lastSeen.set(k, t);
    }
  }

  /** Forgets what was sampled before `t`. */
  trim(t: number): void {
    let n = 0;
    while (n < this.times.length && this.times[n]! < t) n++;
    if (n === 0) return;
    this.times.splice(0, n);
    for (const [k, col] of this.cols) {
      if ((this.lastSeen.get(k) ?? 0) < t) {
        this.cols.delete(k);
        this.lastSeen.delete(k);
      } else col.splice(0, n);
    }
  }

  keys(): string[] {
    return [...this.cols.keys()];
  }

  /** The mean of the column's values in each bucket [from + i·step, from + (i+1)·step); null where it had none. */
  buckets(key: string, from: number, step: number, count: number): (number | null)[] {
    const col = this.cols.get(key);
    const sum = new Array<number>(count).fill(0);
    const n = new Array<number>(count).fill(0);
    if (col) {
      for (let i = 0; i < this.times.length; i++) {
        const b = Math.floor((this.times[i]! - from) / step);
        const v = col[i]!;
        if (b < 0 || b >= count || Number.isNaN(v)) continue;
        sum[b]! += v;
        n[b]!++;
      }
    }
    return sum.map((s, i) => (n[i] ? s / n[i]! : null));
  }

  /** The column's value at the last sample time, or null. */
  last(key: string): number | null {
    const col = this.cols.get(key);
    const v = col?.[col.length - 1];
    return v === undefined || Number.isNaN(v) ? null : v;
  }
}

/**
 * Per-minute means of samples, flushed into a SeriesColumns when the minute is over: the
 * day-long tier keeps 1,440 points per column instead of 8,640 raw samples.
 */
export class MinuteRollup {
  private minute = -1;
  private sums: Record<string, { sum: number; n: number }> = {};

  constructor(private readonly into: SeriesColumns, private readonly periodMs = 60_000) {}

  add(t: number, values: Record<string, number>): void {
    const m = Math.floor(t / this.periodMs);
    if (m !== this.minute) this.flush(m);
    for (const [k, v] of Object.entries(values)) {
      const s = (this.sums[k] ??= { sum: 0, n: 0 });
      s.sum += v;
      s.n++;
    }
  }

  private flush(next: number): void {
    const entries = Object.entries(this.sums);
    if (this.minute >= 0 && entries.length > 0) this.into.push(this.minute * this.periodMs, Object.fromEntries(entries.map(([k, s]) => [k, s.sum / s.n])));
    this.minute = next;
    this.sums = {};
  }
}
