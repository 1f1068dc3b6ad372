/**
 * The request timeout of every run in flight, on one timer. Every run has the same timeout, so
 * their deadlines come in the order the runs started (one armed later is given no deadline
 * before the last one given: start): a Set (kept in insertion order) holds the
 * runs still going, a run that ends leaves it, and one timer is armed for the oldest run's
 * deadline. When it fires, the runs whose deadline has passed time out and it is armed again for
 * the next. A setTimeout and clearTimeout per run cost a replica about 1.5 µs per request; this
 * a Set insertion and deletion. A run times out at its deadline, as with its own timer.
 */
export class RunDeadlines {
  private readonly runs = new Set<Deadline>();
  private timer: NodeJS.Timeout | null = null;
  /** The last deadline given: none is given an earlier one (the Set stays in deadline order). */
  private lastAt = -Infinity;

  constructor(private readonly timeoutMs: number) {}

  /**
   * `onTimeout` is called once `timeoutMs` from `from` (now unless given: a run armed only once it
   * waits counts from when it started, by performance.now()) unless the returned function (the
   * run ended) is called first. Runs start and arm on one thread, so a run armed later started
   * after any run armed before it; a `from` given out of order is moved later, to the last
   * deadline given, so the Set stays in deadline order.
   */
  start(onTimeout: () => void, from = performance.now()): () => void {
    const at = Math.max(from + this.timeoutMs, this.lastAt);
    this.lastAt = at;
    const d: Deadline = { at, onTimeout };
    this.runs.add(d);
    if (this.timer === null) this.arm(d.at);
    return () => {
      this.runs.delete(d);
    };
  }

  /** Runs in flight (for tests). */
  get size(): number {
    return this.runs.size;
  }

  private arm(at: number): void {
    // Unref'd: it may outlive the last run by up to a timeout, and must not keep a process up
    // for it (a run in flight has its request's socket, which does).
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - performance.now()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    const now = performance.now();
    for (const d of this.runs) {
      // A timer may fire a little early by this clock; what is due within a millisecond is due.
      if (d.at > now + 1) {
        this.arm(d.at);
        return;
      }
      this.runs.delete(d);
      d.onTimeout();
    }
  }
}

interface Deadline {
  at: number;
  onTimeout: () => void;
}
