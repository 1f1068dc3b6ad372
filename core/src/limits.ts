import type { z } from "zod";
import type { LimitSet, Limits, limitsSchema, ScaleToZero, scaleToZeroSchema } from "./api/deployments.js";

export type { LimitSet, Limits, ScaleToZero } from "./api/deployments.js";

/** Scale to zero is off unless asked; a wake-up may hold the first request this long by default. */
export const NO_SCALE_TO_ZERO: ScaleToZero = { idleMinutes: null, wakeTimeoutSeconds: 60 };

/** Scale to zero after an edit: a field given replaces the stored one (null turns it off). */
export function resolveScaleToZero(input: z.infer<typeof scaleToZeroSchema> | undefined, base: ScaleToZero | undefined = NO_SCALE_TO_ZERO): ScaleToZero {
  const b = base ?? NO_SCALE_TO_ZERO;
  return {
    idleMinutes: input?.idleMinutes === undefined ? b.idleMinutes : input.idleMinutes,
    wakeTimeoutSeconds: input?.wakeTimeoutSeconds ?? b.wakeTimeoutSeconds,
  };
}

/** No limit at all: what a deployment has unless someone sets one. */
export const NO_LIMITS: Limits = {
  deployment: { requestsPerSecond: null, burst: null, maxConcurrent: null },
  perKey: { requestsPerSecond: null, burst: null, maxConcurrent: null },
};

/**
 * A deployment's limits after an edit: each field given (a number, or null to clear it) replaces
 * the stored one; a field left out keeps it. Old records without limits read as NO_LIMITS.
 */
export function resolveLimits(input: z.infer<typeof limitsSchema> | undefined, base: Limits | undefined = NO_LIMITS): Limits {
  const b = base ?? NO_LIMITS;
  const set = (i: Partial<LimitSet> | undefined, s: LimitSet | undefined): LimitSet => {
    const from = s ?? NO_LIMITS.deployment;
    const pick = <K extends keyof LimitSet>(k: K): LimitSet[K] => (i?.[k] === undefined ? from[k] : i[k]);
    const out = { requestsPerSecond: pick("requestsPerSecond"), burst: pick("burst"), maxConcurrent: pick("maxConcurrent") };
    // A burst is the size of a rate's bucket: without the rate it means nothing, so it goes too.
    if (out.requestsPerSecond === null) out.burst = null;
    return out;
  };
  return { deployment: set(input?.deployment, b.deployment), perKey: set(input?.perKey, b.perKey) };
}

/** The rate part of a limit set, as a token bucket: `burst` tokens at most, refilled at `ratePerSecond`. */
export interface BucketPolicy {
  ratePerSecond: number;
  burst: number;
}

/**
 * A limit set's bucket, or null without a rate. `share` (0 < share <= 1) is this process's part
 * of the limit when several gateway processes each hold their own buckets: the rate is split
 * exactly, the burst rounded down but never below 1 (so N processes together admit at most
 * about the configured burst, never N times it).
 */
export function bucketPolicy(l: LimitSet, share = 1): BucketPolicy | null {
  if (l.requestsPerSecond === null) return null;
  const burst = l.burst ?? Math.max(1, Math.ceil(l.requestsPerSecond));
  return { ratePerSecond: l.requestsPerSecond * share, burst: Math.max(1, Math.floor(burst * share)) };
}

/** A concurrency limit's share of one process, rounded down but never below 1; null: none. */
export function concurrencyShare(l: LimitSet, share = 1): number | null {
  return l.maxConcurrent === null ? null : Math.max(1, Math.floor(l.maxConcurrent * share));
}

/** A bucket's level at a moment (ms on whatever clock the caller uses). */
export interface BucketState {
  tokens: number;
  at: number;
}

export interface TakeResult {
  ok: boolean;
  state: BucketState;
  /** Whole tokens left after this take (what `RateLimit`'s `r` reports). */
  remaining: number;
  /** Milliseconds until one token is back (0 when one is there now): `Retry-After` on a refusal. */
  retryAfterMs: number;
  /** Milliseconds until the bucket is full again (`RateLimit`'s `t`). */
  fullInMs: number;
}

/**
 * Takes one token if there is one. Pure: the caller keeps the state. A new bucket (no state)
 * starts full. A clock that goes backwards refills nothing.
 */
export function takeToken(state: BucketState | undefined, p: BucketPolicy, now: number): TakeResult {
  const elapsed = state ? Math.max(0, now - state.at) : 0;
  const level = state ? Math.min(p.burst, state.tokens + (elapsed / 1000) * p.ratePerSecond) : p.burst;
  const ok = level >= 1;
  const tokens = ok ? level - 1 : level;
  const msFor = (n: number) => (n <= 0 ? 0 : Math.ceil((n / p.ratePerSecond) * 1000));
  return {
    ok,
    state: { tokens, at: now },
    remaining: Math.floor(tokens),
    retryAfterMs: msFor(1 - tokens),
    fullInMs: msFor(p.burst - tokens),
  };
}

/** Whether a bucket is empty right now (no token to take), without taking one. */
export function bucketEmpty(state: BucketState | undefined, p: BucketPolicy, now: number): { empty: boolean; retryAfterMs: number } {
  if (!state) return { empty: false, retryAfterMs: 0 };
  const level = Math.min(p.burst, state.tokens + (Math.max(0, now - state.at) / 1000) * p.ratePerSecond);
  return { empty: level < 1, retryAfterMs: level >= 1 ? 0 : Math.ceil(((1 - level) / p.ratePerSecond) * 1000) };
}
