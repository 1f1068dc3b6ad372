/**
 * A token bucket: `qps` requests a second on average, `burst` at once after a quiet spell (the
 * client-side limit client-go's controllers keep). `take` resolves when the caller may send;
 * callers beyond the bucket wait in arrival order, each for its own slot, so a thousand
 * deployments created at once reach the API server as a steady stream instead of a spike that
 * its own max-inflight limits would answer with 429s.
 */
export class TokenBucket {
  /** Tokens in the bucket; below zero, the slots already promised to waiting callers. */
  private tokens: number;
  private last = performance.now();

  constructor(private readonly qps: number, private readonly burst: number) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error("TokenBucket: qps must be > 0 and burst >= 1");
    this.tokens = burst;
  }

  /** Milliseconds the caller must wait before sending (0 when a token was there); the slot is its own. */
  reserve(now = performance.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.qps) / 1000);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.qps;
  }

  async take(): Promise<void> {
    const wait = this.reserve();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}
