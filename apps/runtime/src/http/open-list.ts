/**
 * The responses under way, for a drain to mark them `Connection: close` before their headers go
 * (app.ts). A list linked through the responses themselves, not a Set: a Set's hash table is
 * reallocated as it grows and shrinks with the requests in flight, and each new table, held by
 * the long-lived Set past two scavenges, was promoted. That was 114 of the 175 bytes a request
 * left in the old space at c16 (the sampling heap profiler, counting what survived the young
 * generation): the old space grew from 5 to 10 MiB under a load, garbage until a mark-compact,
 * and a replica's RSS after a load swung between 57 and 62 MiB with it. Adding and removing here
 * allocates nothing. Invariant: an item is in the list exactly when its NEXT is not undefined
 * (null for the last one), and an item removed keeps no reference to another.
 */
const NEXT = Symbol("openNext");
const PREV = Symbol("openPrev");
type Linked = { [NEXT]?: Linked | null | undefined; [PREV]?: Linked | null | undefined };

export class OpenList<T extends object> implements Iterable<T> {
  private head: Linked | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds an item not in the list (an item already in it is left where it is). */
  add(item: T): void {
    const x = item as Linked;
    if (x[NEXT] !== undefined) return;
    x[PREV] = null;
    x[NEXT] = this.head;
    if (this.head) this.head[PREV] = x;
    this.head = x;
    this.count++;
  }

  /** Removes an item; one not in the list is ignored. */
  delete(item: T): void {
    const x = item as Linked;
    const next = x[NEXT];
    if (next === undefined) return;
    const prev = x[PREV] ?? null;
    if (prev) prev[NEXT] = next;
    else this.head = next;
    if (next) next[PREV] = prev;
    x[NEXT] = undefined;
    x[PREV] = undefined;
    this.count--;
  }

  /**
   * The items, newest first; removing the current one while iterating is safe, removing another
   * is not (removing the next one ends the walk there). An item is in one OpenList at a time:
   * the links are the same symbols for every instance, so another instance's delete corrupts both.
   */
  *[Symbol.iterator](): Iterator<T> {
    for (let x = this.head; x !== null; ) {
      const next = x[NEXT] ?? null;
      yield x as T;
      x = next;
    }
  }
}
