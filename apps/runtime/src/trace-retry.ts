/**
 * When the replica sends a refused trace batch again (traces.ts), and after how long.
 *
 * Only two answers mean "the same batch, later": 429, which the control plane gives when a
 * deployment's trace rate is spent (traces/ingest.ts: Retry-After = the seconds until the batch
 * fits) or when its body budget has no room (http/body-budget.ts: Retry-After 1 at once, 30 after
 * waiting its 30 s); and 503, which the control plane's own handlers never give but Fastify does,
 * without Retry-After, to a request that reaches it while it shuts down (return503OnClosing: a
 * kept-alive connection during a restart or a rollout), as may a proxy in front of it. Sending a
 * batch again is safe: the endpoint ignores a trace whose request id it already stored, so a
 * batch that was stored though its answer was lost is not stored twice.
 * Every other answer is final: another status will not change by waiting, and a network error
 * or a timeout says nothing about when to come back (those batches are dropped, as before).
 */
export function isRetryable(status: number): boolean {
  return status === 429 || status === 503;
}

export interface TraceRetryPolicy {
  /** Sends of one batch in all, the first included; after the last refusal it is dropped. */
  attempts: number;
  /** The shortest and longest wait taken from a Retry-After: never a busy loop, never a batch held for minutes. */
  minMs: number;
  maxMs: number;
  /**
   * The wait when the answer names none (or one that is not a number of seconds or an HTTP
   * date), doubled at each retry: 5 s then 10 s. The control plane names one on every 429; a 503
   * without one is a control plane shutting down (or a proxy's answer while none is ready), and
   * another replica of it, or its restart, takes seconds.
   */
  fallbackMs: number;
  /**
   * The wait, once read and clamped, is lengthened by up to this fraction of itself at random.
   * Replicas refused together (a body budget that turned away every waiting body at once, a
   * control plane that answered 503 to all while it restarted) are told the same Retry-After
   * at the same moment: without the spread they would all come back in the same instant and
   * meet the same overload again, in step, at each retry. Only ever added: never sooner than
   * the control plane asked.
   */
  jitter: number;
}

/**
 * Three sends in all: the control plane's longest ordinary wait (the body budget's 30 s) is met
 * twice, and a batch is held at most about three minutes (2 × 60 s, and up to half again of
 * spread) before it is sent or dropped.
 */
export const TRACE_RETRY: TraceRetryPolicy = { attempts: 3, minMs: 1000, maxMs: 60_000, fallbackMs: 5000, jitter: 0.5 };

/**
 * The wait before retry number `retry` (1 for the first) of a batch refused with `retryAfter`
 * (the header's value, or null): its delta-seconds or HTTP date, clamped to [minMs, maxMs], then
 * lengthened by `policy.jitter` × `random()` of itself (`random` in [0, 1)).
 */
export function retryDelayMs(retryAfter: string | null, retry: number, policy: TraceRetryPolicy = TRACE_RETRY, now: number = Date.now(), random: () => number = Math.random): number {
  const v = retryAfter?.trim() ?? "";
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else if (v !== "" && /[a-z]/i.test(v) && Number.isFinite(Date.parse(v))) ms = Date.parse(v) - now;
  else ms = policy.fallbackMs * 2 ** Math.max(0, retry - 1);
  const wait = Math.min(policy.maxMs, Math.max(policy.minMs, ms));
  return Math.round(wait * (1 + policy.jitter * random()));
}
