/**
 * Least-in-flight balancing over a set of upstream base URLs that may change on every call
 * (replicas become ready, are drained, die). Counts are kept per URL rather than per
 * deployment, so they stay right across endpoint-set changes; a URL whose count falls back to 0
 * is forgotten, so replicas that come and go leave nothing behind.
 */
export class LeastInFlight {
  private readonly inFlight = new Map<string, number>();
  /** Rotates the scan's start, so ties (the idle case) spread round-robin instead of piling on the first URL. */
  private turn = 0;

  /**
   * The candidate with the fewest requests in flight, skipping `exclude` (a URL that just
   * refused a connection). Undefined when no candidate is left. Does not count the request:
   * call `acquire` for the chosen one.
   */
  pick(candidates: readonly string[], exclude?: string): string | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    const start = this.turn++ % n;
    if (this.turn > 1e9) this.turn = 0;
    let best: string | undefined;
    let bestCount = Infinity;
    for (let i = 0; i < n; i++) {
      const url = candidates[(start + i) % n]!;
      if (url === exclude) continue;
      const c = this.inFlight.get(url) ?? 0;
      if (c < bestCount) {
        best = url;
        bestCount = c;
        if (c === 0) break; // nothing beats an idle replica
      }
    }
    return best;
  }

  /** Counts one request on `url`. The caller pairs it with exactly one `release`. */
  acquire(url: string): void {
    this.inFlight.set(url, (this.inFlight.get(url) ?? 0) + 1);
  }

  release(url: string): void {
    const c = (this.inFlight.get(url) ?? 1) - 1;
    if (c <= 0) this.inFlight.delete(url);
    else this.inFlight.set(url, c);
  }

  /** Requests in flight on `url` (for tests and diagnostics). */
  count(url: string): number {
    return this.inFlight.get(url) ?? 0;
  }
}
