/**
 * When a deployment's stored history (its runs, its traces) is due a trim to its bound: at its
 * first write in this process (the database may hold more from before), then each time it has
 * written `every` (runs, bytes) since its last trim. A trim reads all of the deployment's rows,
 * so not at every batch; the bound may be passed by that much (plus a batch) per process,
 * briefly. A failed trim keeps the count, so the next write tries again. At most `maxKeys`
 * deployments are remembered, the least recently written forgotten first: forgetting one only
 * makes its next write trim.
 */
export class TrimSchedule {
  /** Written since each deployment's last trim; absent: not trimmed since this process started. */
  private readonly since = new Map<string, number>();

  constructor(private readonly maxKeys = 10_000) {}

  /** Counts `added` for `key`; true when a trim is due. */
  due(key: string, added: number, every: number): boolean {
    const before = this.since.get(key);
    const total = (before ?? 0) + added;
    // Re-inserted: the Map's first key is the least recently written.
    this.since.delete(key);
    this.since.set(key, total);
    while (this.since.size > this.maxKeys) this.since.delete(this.since.keys().next().value as string);
    return before === undefined || total >= every;
  }

  /** The trim `due` asked for succeeded: counting starts again from nothing. */
  trimmed(key: string): void {
    this.since.set(key, 0);
  }
}
