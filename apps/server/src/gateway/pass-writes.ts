/**
 * The first bytes of each proxied answer that arrive in one pass of the event loop, written at
 * the end of that pass, all together (one `setImmediate`, the check phase right after the poll).
 *
 * Why: under load a gateway worker handles, in one pass, every replica connection that became
 * readable, one after the other. Written as each arrived, every answer's `writev` ran between
 * two answers' JavaScript and woke its client, asleep again since the last one. Held to the end
 * of the pass, the pass's JavaScript runs back to back and its writes go out back to back (the
 * runtime does the same with its own answers: apps/runtime/src/http/answer-batch.ts).
 * Measured with `bench/gateway.mjs` against the commit before (FLOWPLANE_BENCH_BASELINE): less
 * CPU per proxied call and more calls a second through the workers (docs/gateway.md, "Session 54").
 *
 * Invariants:
 * - No byte waits past the pass it arrived in: a stream's first bytes go at the end of their
 *   pass, and everything after them is written as it arrives (the holder goes live).
 * - What is held is what undici handed over in one pass, which is not one socket read: libuv
 *   reads a readable connection up to 32 times (64 KiB each) in one poll, and each read reaches
 *   the handler at once. An answer holds at most HOLD_MAX (forward.ts), then goes live before its
 *   pass ends; backpressure applies from the first write on.
 * - A holder that throws is ended by its own `flushHeld`'s caller (`onFlushError`) and does not
 *   keep the others from being written.
 */
export interface Holder {
  /** Writes what it holds (and ends the answer if it ended meanwhile). */
  flushHeld(): void;
  /** `flushHeld` threw: the answer can no longer be trusted to be whole. */
  onFlushError(err: unknown): void;
}

/** One per gateway worker (Upstreams owns it): the holders of the current pass, written at its end. */
export class PassWrites {
  private queue: Holder[] = [];
  private scheduled = false;
  private readonly flush = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const h of queue) {
      try {
        h.flushHeld();
      } catch (err) {
        h.onFlushError(err);
      }
    }
  };

  /** `h` holds bytes of this pass: written at its end. Call once per holder and pass. */
  hold(h: Holder): void {
    this.queue.push(h);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }
}
