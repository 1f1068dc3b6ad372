import type { Logger, RunRetention, Store } from "@flowplane/core";

export interface RunRetentionOptions {
  store: Pick<Store, "pruneRuns" | "maintain">;
  retention: RunRetention;
  /** How often the sweep runs (default every 5 minutes); it also runs once at start. */
  intervalMs?: number;
  log: Logger;
  now?: () => number;
}

/**
 * Enforces the run history's retention (FLOWPLANE_RUNS_MAX_AGE_HOURS, FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT)
 * with a periodic delete, then has the store reclaim deleted rows' space (Store.maintain). Idempotent:
 * several processes sweeping at once delete each run once.
 */
export class RunRetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | null = null;

  constructor(private readonly o: RunRetentionOptions) {}

  start(): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.o.intervalMs ?? 5 * 60_000);
    this.timer.unref();
  }

  /** One pass; answers how many runs it deleted (0 when one is already under way, or on failure, which is logged). */
  async sweep(): Promise<number> {
    if (this.running) return 0;
    this.running = this.o.store.pruneRuns(this.o.retention, new Date((this.o.now ?? Date.now)()))
      .then(async (n) => {
        if (n > 0) this.o.log.info({ deleted: n }, "run history: retention deleted old runs");
        // Then the store takes back what this pass and the recorder's trims deleted (PGlite only:
        // it has no autovacuum). The runs are gone whatever happens to it.
        await this.o.store.maintain().catch((e: unknown) => {
          this.o.log.warn({ error: e instanceof Error ? e.message : String(e) }, "run history: the store's maintenance after the retention sweep failed; it runs again after the next one");
        });
        return n;
      })
      .catch((e: unknown) => {
        this.o.log.warn({ error: e instanceof Error ? e.message : String(e) }, "run history: the retention sweep failed; it runs again later");
        return 0;
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
