import { TooManyRequestsError } from "@flowplane/core";

export interface FollowSlotLimits {
  /** Open follows one caller (an access key; a user when the key is unknown) may hold at once. */
  perCaller: number;
  /** Open follows the whole process holds at once: each polls its driver every few hundred ms. */
  total: number;
}

export const DEFAULT_FOLLOW_SLOTS: FollowSlotLimits = { perCaller: 4, total: 64 };

/**
 * Counts open log follows, so one caller cannot hold the control plane's loop and its driver's
 * reads hostage by opening streams without end (each lasts up to 30 minutes). Invariant: a slot
 * taken is released exactly once (the release function is idempotent), so counts never drift
 * below the real number of open streams.
 */
export class FollowSlots {
  private readonly byCaller = new Map<string, number>();
  private open = 0;

  constructor(private readonly limits: FollowSlotLimits = DEFAULT_FOLLOW_SLOTS) {}

  /** Takes a slot for `caller`, or refuses with 429 when its share or the total is used up. */
  acquire(caller: string): () => void {
    const mine = this.byCaller.get(caller) ?? 0;
    if (mine >= this.limits.perCaller) {
      throw new TooManyRequestsError(`you already follow ${mine} log streams (at most ${this.limits.perCaller} at once): close one and try again`);
    }
    if (this.open >= this.limits.total) {
      throw new TooManyRequestsError(`the server already holds ${this.open} open log streams (at most ${this.limits.total}): try again later`);
    }
    this.byCaller.set(caller, mine + 1);
    this.open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open--;
      const n = (this.byCaller.get(caller) ?? 1) - 1;
      if (n <= 0) this.byCaller.delete(caller);
      else this.byCaller.set(caller, n);
    };
  }

  /** Open follows now (for tests and metrics). */
  get size(): number {
    return this.open;
  }
}
