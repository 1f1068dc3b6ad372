/**
 * A small bounded cache of lookups with a time to live. It stores the promise, not the value,
 * so concurrent misses for one key share one lookup (a burst of requests with a new key makes
 * one database query, not hundreds). A rejected lookup is dropped at once: errors are not cached.
 *
 * Eviction is oldest-inserted first (a Map keeps insertion order), which is enough here: the
 * TTLs are a few seconds, so the set of live entries turns over quickly anyway, and the bound
 * only protects memory against a flood of distinct keys.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: Promise<V>; expires: number; settled?: { value: V } }>();

  constructor(private readonly o: { ttlMs: number; maxEntries: number; now: () => number }) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.o.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    if (hit) this.entries.delete(key);
    const value = load();
    const entry: { value: Promise<V>; expires: number; settled?: { value: V } } = { value, expires: now + this.o.ttlMs };
    this.entries.set(key, entry);
    value.then((v) => { entry.settled = { value: v }; }, () => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    while (this.entries.size > this.o.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return value;
  }

  /** The value, when it is cached, loaded and fresh: lets a caller skip the promise on the hot path. */
  peek(key: string): { value: V } | undefined {
    const hit = this.entries.get(key);
    return hit?.settled && hit.expires > this.o.now() ? hit.settled : undefined;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
