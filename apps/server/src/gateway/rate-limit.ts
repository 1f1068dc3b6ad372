import { bucketEmpty, bucketPolicy, concurrencyShare, takeToken, NO_LIMITS, type BucketPolicy, type BucketState, type Limits } from "@flowplane/core";
import { AuthFailures } from "../auth-failures.js";
import { monotonicNow } from "../clock.js";

/**
 * The gateway's rate limits (docs/rate-limits-and-idle.md), all in this process's memory:
 *
 * 1. Failed authentications per client address (../auth-failures.ts): an address that sent
 *    `badKeys.burst` unknown keys (refilled at `badKeys.perSecond`) is over budget. Then what
 *    cannot be a key is answered 429 before any lookup; a key-shaped one is looked up, and only
 *    a bad one is answered 429 (and charged): a good key is never charged nor limited by the
 *    bad keys others sent from the same address.
 * 2. After admission, the deployment's own limits (`runtime.limits`): a token bucket and a count of
 *    requests in flight for the deployment as a whole, and the same for each access key on it.
 *
 * Several gateway processes: each holds its own counters, and each enforces `share` of every limit
 * (constructor option; 1 / the number of processes). Rates split exactly; bursts and concurrency
 * round down, never below 1. Nothing is shared, so a client whose requests all land on one
 * process meets that process's share: the documented, conservative side of the split.
 *
 * Memory is bounded: at most `maxEntries` buckets per kind, the least recently used evicted first
 * (an evicted bucket starts full again: an eviction can only forgive, never punish); in-flight
 * counts exist only while requests are in flight.
 */
export interface RateLimiterOptions {
  /** This process's share of every limit, 0 < share <= 1 (default 1: one gateway process). */
  share?: number;
  /** Clock in ms (tests move it). Default monotonic (`performance.now()`): only durations are measured. */
  now?: () => number;
  /** Failed authentications allowed per client address: `burst` at once, refilled at `perSecond`. Default 20 and 2/s. */
  badKeys?: { burst: number; perSecond: number };
  /** Most buckets kept per kind (addresses, deployments, keys). Default 10,000. */
  maxEntries?: number;
  /** Called once per refused request, with why (the `flowplane_gateway_rate_limited_total` counter). */
  onRefused?: (reason: RefusalReason) => void;
  /**
   * Another process holds the counters of limited deployments (the control plane's gateway asks
   * a data-plane worker): a limited request is admitted there, not here. Resolves null when that
   * process did not answer; this limiter's own counters decide then.
   */
  elsewhere?: (route: LimitedRoute, keyHash: string) => Promise<Ticket | Refusal | null> | null;
}

/**
 * Why a request was answered 429 (the metric's `reason` label):
 * - `failed-auth`: its address sent too many unknown or invalid keys (before any lookup);
 * - `deployment-rate`, `key-rate`: the deployment's, or the key's on it, token bucket is empty;
 * - `deployment-concurrency`, `key-concurrency`: as many requests in flight as allowed.
 */
export type RefusalReason = "failed-auth" | "deployment-rate" | "deployment-concurrency" | "key-rate" | "key-concurrency";

/** What a refused request is answered: 429 and these headers. */
export interface Refusal {
  ok: false;
  reason: RefusalReason;
  message: string;
  headers: Record<string, string>;
}

/** An admitted request: the headers it is answered with, and `release` once it is done (exactly once). */
export interface Ticket {
  ok: true;
  headers: Record<string, string>;
  release(): void;
}

/** A route as the limiter sees it: whose limits, and which. */
export interface LimitedRoute {
  deploymentId: string;
  limits?: Limits;
}

/** Least-recently-used bounded map: a hit moves the entry to the end; the oldest go when full. */
class Lru<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) {
      this.m.delete(k);
      this.m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    while (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
  get size(): number {
    return this.m.size;
  }
}

/** One bucket under its policy; the policy is re-read on every request, so an edit applies at once. */
interface Bucket {
  policy: BucketPolicy;
  state: BucketState | undefined;
}

type Scope = "deployment" | "key";

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
/** Whether any of a deployment's limits is set (else a request takes nothing). */
const limited = (l: Limits | undefined): boolean => l !== undefined
  && [l.deployment, l.perKey].some((s) => s.requestsPerSecond !== null || s.maxConcurrent !== null);
/** A bucket's policy as `RateLimit-Policy` states it: `q` requests per `w` seconds (the time to fill it). */
const policyItem = (name: string, p: BucketPolicy) => `"${name}";q=${p.burst};w=${seconds((p.burst / p.ratePerSecond) * 1000)}`;

export class RateLimiter {
  private readonly share: number;
  private readonly now: () => number;
  private readonly failures: AuthFailures;
  private readonly buckets: Lru<Bucket>;
  private readonly inFlight = new Map<string, number>();
  private readonly onRefused: ((reason: RefusalReason) => void) | undefined;
  private readonly elsewhere: RateLimiterOptions["elsewhere"];

  constructor(o: RateLimiterOptions = {}) {
    const share = o.share ?? 1;
    if (!(share > 0 && share <= 1)) throw new Error(`rate limiter: share must be in (0, 1], got ${share}`);
    this.share = share;
    this.now = o.now ?? monotonicNow;
    this.onRefused = o.onRefused;
    this.elsewhere = o.elsewhere;
    const max = o.maxEntries ?? 10_000;
    this.failures = new AuthFailures({ budget: o.badKeys, share, now: this.now, maxEntries: max });
    // Deployments and keys share one map (their names cannot collide): one bound for both.
    this.buckets = new Lru(2 * max);
  }

  /**
   * Before any lookup: a refusal when `address` has used up its failed-authentication budget
   * and `mayBeKey()` (cheap, memory only: a key this gateway verified, or a key-shaped string)
   * says the request cannot hold a good key. Otherwise null: look the key up.
   */
  beforeAdmission(address: string, mayBeKey: () => boolean): Refusal | null {
    const r = this.failures.refuseEarly(address, mayBeKey);
    return r ? this.failedAuth(r.retryAfterSeconds) : null;
  }

  /**
   * When the key's lookup may run (auth-failures.ts `lookupTurn`): null at once, or a promise of
   * its turn, for an address over budget (its lookups wait in line, so its flood of key-shaped bad
   * keys costs the control plane one lookup at a time).
   */
  lookupTurn(address: string, verified: () => boolean): Promise<() => void> | null {
    return this.failures.lookupTurn(address, verified);
  }

  /**
   * After admission. A key sent and not found costs `address` one token, and is refused (429)
   * when the address was over budget already, else answered as it is (null: its 401). An
   * admitted request meets the deployment's limits: a Ticket to release when it is done, or a
   * Refusal; never the failed-authentication budget. Other refusals (404, 401 without a key): null.
   * A promise when another process holds the deployment's counters (`elsewhere`).
   */
  afterAdmission(address: string, keySent: boolean, a: { ok: false; status: number; unknownKey?: boolean }): Refusal | null;
  afterAdmission(address: string, keySent: boolean, a: { ok: true; route: LimitedRoute; keyHash: string } | { ok: false; status: number; unknownKey?: boolean }): Ticket | Refusal | null | Promise<Ticket | Refusal>;
  afterAdmission(address: string, keySent: boolean, a: { ok: true; route: LimitedRoute; keyHash: string } | { ok: false; status: number; unknownKey?: boolean }): Ticket | Refusal | null | Promise<Ticket | Refusal> {
    if (!a.ok) {
      const r = a.unknownKey && keySent ? this.failures.failed(address) : null;
      return r ? this.failedAuth(r.retryAfterSeconds) : null;
    }
    const asked = this.elsewhere && limited(a.route.limits) ? this.elsewhere(a.route, a.keyHash) : null;
    return asked ? asked.then((r) => r ?? this.admit(a.route, a.keyHash)) : this.admit(a.route, a.keyHash);
  }

  private failedAuth(retryAfterSeconds: number): Refusal {
    return this.refusal("failed-auth", "too many requests with an unknown or invalid access key from this address; retry later", retryAfterSeconds * 1000,
      [this.failures.policyHeader], [`"failed-auth";r=0;t=${retryAfterSeconds}`]);
  }

  /** The deployment's and the key's limits; nothing is consumed unless all of them admit the request. */
  admit(route: LimitedRoute, keyHash: string): Ticket | Refusal {
    const limits = route.limits ?? NO_LIMITS;
    const now = this.now();
    const scopes: { scope: Scope; id: string; policy: BucketPolicy | null; max: number | null }[] = [
      { scope: "deployment", id: `d ${route.deploymentId}`, policy: bucketPolicy(limits.deployment, this.share), max: concurrencyShare(limits.deployment, this.share) },
      { scope: "key", id: `k ${route.deploymentId} ${keyHash}`, policy: bucketPolicy(limits.perKey, this.share), max: concurrencyShare(limits.perKey, this.share) },
    ];
    const active = scopes.filter((s) => s.policy !== null || s.max !== null);
    if (active.length === 0) return { ok: true, headers: {}, release: () => {} };

    const policies: string[] = [];
    for (const s of active) {
      if (s.policy) policies.push(policyItem(s.scope, s.policy));
      if (s.max !== null) policies.push(`"${s.scope}-concurrency";q=${s.max}`);
    }
    // Check every scope first: a refusal by the key's bucket must not spend the deployment's token.
    for (const s of active) {
      if (s.max !== null && (this.inFlight.get(s.id) ?? 0) >= s.max) {
        return this.refusal(`${s.scope}-concurrency`, `too many concurrent requests for this ${s.scope === "key" ? "access key on this deployment" : "deployment"} (at most ${s.max}); retry shortly`, 1000, policies, [`"${s.scope}-concurrency";r=0`]);
      }
      if (s.policy) {
        const { empty, retryAfterMs } = bucketEmpty(this.bucket(s.id, s.policy).state, s.policy, now);
        if (empty) {
          return this.refusal(`${s.scope}-rate`, `rate limit of this ${s.scope === "key" ? "access key on this deployment" : "deployment"} exceeded (${s.policy.ratePerSecond} requests per second, bursts of ${s.policy.burst}); retry after the Retry-After seconds`, retryAfterMs, policies, [`"${s.scope}";r=0;t=${seconds(retryAfterMs)}`]);
        }
      }
    }
    const status: string[] = [];
    const held: string[] = [];
    for (const s of active) {
      if (s.policy) {
        const b = this.bucket(s.id, s.policy);
        const r = takeToken(b.state, s.policy, now);
        b.state = r.state;
        status.push(`"${s.scope}";r=${r.remaining};t=${seconds(r.fullInMs)}`);
      }
      if (s.max !== null) {
        const n = (this.inFlight.get(s.id) ?? 0) + 1;
        this.inFlight.set(s.id, n);
        held.push(s.id);
        status.push(`"${s.scope}-concurrency";r=${s.max - n}`);
      }
    }
    let released = false;
    return {
      ok: true,
      headers: { "ratelimit-policy": policies.join(", "), ratelimit: status.join(", ") },
      release: () => {
        if (released) return;
        released = true;
        for (const id of held) {
          const n = (this.inFlight.get(id) ?? 1) - 1;
          if (n <= 0) this.inFlight.delete(id);
          else this.inFlight.set(id, n);
        }
      },
    };
  }

  /** How many buckets and in-flight counters are held (tests check the bound). */
  get size(): { addresses: number; buckets: number; inFlight: number } {
    return { addresses: this.failures.size, buckets: this.buckets.size, inFlight: this.inFlight.size };
  }

  private bucket(id: string, policy: BucketPolicy): Bucket {
    let b = this.buckets.get(id);
    if (!b) {
      b = { policy, state: undefined };
      this.buckets.set(id, b);
    } else if (b.policy.burst !== policy.burst || b.policy.ratePerSecond !== policy.ratePerSecond) {
      // The deployment's limits were edited: keep the level, capped to the new size.
      b.policy = policy;
      if (b.state) b.state = { tokens: Math.min(b.state.tokens, policy.burst), at: b.state.at };
    }
    return b;
  }

  private refusal(reason: RefusalReason, message: string, retryAfterMs: number, policies: string[], status: string[]): Refusal {
    this.onRefused?.(reason);
    return {
      ok: false,
      reason,
      message,
      headers: { "retry-after": String(seconds(retryAfterMs)), "ratelimit-policy": policies.join(", "), ratelimit: status.join(", ") },
    };
  }
}
