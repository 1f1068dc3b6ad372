import { clientKey } from "./ipv6.js";
import { TooManyRequestsError, UnauthenticatedError, bucketEmpty, takeToken, type BucketPolicy, type BucketState } from "@flowplane/core";
import { monotonicNow } from "./clock.js";

/**
 * Failed authentications per client address (an IPv6 client: per /64; docs/rate-limits-and-idle.md), for the gateway
 * (gateway/rate-limit.ts) and the management API (http/app.ts) alike: an address that sent
 * `burst` bad keys (refilled at `perSecond`) is over budget. The order of checks is what keeps
 * a good key from ever being limited by someone else's bad ones (the same address: a NAT, a
 * proxy, a shared CI runner):
 *
 * 1. Before any lookup (`refuseEarly`): an address over budget whose request carries no key, or
 *    a string that cannot be a key (core's accessKeyShaped; public knowledge), is refused at once,
 *    no lookup. A key-shaped one is looked up, whatever the budget.
 * 2. After the lookup: a key that was found passes, budget or not; it is never charged. A key
 *    that was not found costs its address one token, and is answered 429 (not 401) when the
 *    address was already over budget: what an over-budget address learns of a bad key is the
 *    same 429 either way; only a valid key (256 bits) gets through, as it would anyway.
 *
 * What this costs: from an address over budget, a key-shaped bad key is still one lookup (the
 * gateway's key cache answers a repeated one from memory for 4 s), but one at a time
 * (`lookupTurn`): such an address's lookups wait in line, so a flood of key-shaped bad keys from
 * it costs the store one lookup at a time in this process, not as many as it has connections (on
 * PGlite every lookup runs on the control plane's main thread, before every other team's API
 * call). A good key from it waits its turn, never refused. Memory is bounded: at most
 * `maxEntries` addresses, least recently used evicted first (an eviction can only forgive). A line
 * holds a closure per request waiting in it, and requests are bounded by the connection cap (one
 * request at a time per connection; 1,024 connections per address and process by default):
 * refusing a long line instead would refuse good keys from an address shared with a flood (a NAT,
 * an ingress), which the order of checks above exists to prevent.
 */
export interface AuthFailuresOptions {
  /** `burst` bad keys at once, refilled at `perSecond`. Default 20 and 2/s. */
  budget?: { burst: number; perSecond: number };
  /** This process's share of the budget, 0 < share <= 1 (several gateway processes split it). */
  share?: number;
  /** Clock of the buckets, in ms (tests move it). Default monotonic (clock.ts). */
  now?: () => number;
  maxEntries?: number;
}

/** An address over budget: how long until it has a token again, and the headers that say so. */
export interface AuthRefusal {
  retryAfterSeconds: number;
  headers: Record<string, string>;
}

const tooMany = (r: AuthRefusal) => new TooManyRequestsError("too many requests with an unknown or invalid access key from this address; retry later", r.retryAfterSeconds);

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** One over-budget address's line of lookups: the promise the next one waits for, and how many are in it. */
interface Line {
  tail: Promise<void>;
  size: number;
}

export class AuthFailures {
  private readonly policy: BucketPolicy;
  private readonly now: () => number;
  private readonly max: number;
  /** Least recently used first (a Map keeps insertion order; a touch re-inserts). */
  private readonly addresses = new Map<string, BucketState>();
  /** Lines of lookups, per address over budget (lookupTurn); an address leaves when its line is empty. */
  private readonly lines = new Map<string, Line>();

  constructor(o: AuthFailuresOptions = {}) {
    const share = o.share ?? 1;
    const b = o.budget ?? { burst: 20, perSecond: 2 };
    this.policy = { ratePerSecond: b.perSecond * share, burst: Math.max(1, Math.floor(b.burst * share)) };
    this.now = o.now ?? monotonicNow;
    this.max = o.maxEntries ?? 10_000;
  }

  /** Step 1: a refusal for an address over budget whose request cannot hold a valid key (`mayBeKey` false); else null (look it up). */
  refuseEarly(address: string, mayBeKey: () => boolean): AuthRefusal | null {
    const over = this.over(clientKey(address));
    return over && !mayBeKey() ? over : null;
  }

  /** Step 2, for a key sent and not found: charges the address; a refusal when it was over budget already (answer 429, not 401). */
  failed(given: string): AuthRefusal | null {
    const address = clientKey(given);
    const over = this.over(address);
    const state = takeToken(this.touch(address), this.policy, this.now()).state;
    this.addresses.set(address, state);
    while (this.addresses.size > this.max) this.addresses.delete(this.addresses.keys().next().value as string);
    return over;
  }

  /**
   * When a lookup for `address` may run: null at once (the address is within its budget and has
   * no line, or `verified()`: the key is one this process has found before, answered from memory);
   * else a promise of this lookup's turn, resolved with the function that ends it (call it once
   * the lookup is over, whatever its outcome).
   */
  lookupTurn(given: string, verified: () => boolean): Promise<() => void> | null {
    // No address has sent a bad key lately: nothing to look at (every request passes here).
    if (this.addresses.size === 0 && this.lines.size === 0) return null;
    const address = clientKey(given);
    const waiting = this.lines.get(address);
    if ((waiting === undefined && this.over(address) === null) || verified()) return null;
    const line = waiting ?? { tail: Promise.resolve(), size: 0 };
    if (waiting === undefined) this.lines.set(address, line);
    let ended!: () => void;
    const mine = new Promise<void>((resolve) => (ended = resolve));
    const before = line.tail;
    line.tail = before.then(() => mine);
    line.size++;
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      ended();
      if (--line.size === 0 && this.lines.get(address) === line) this.lines.delete(address);
    };
    return before.then(() => end);
  }

  /**
   * Steps 1 and 2 around one lookup, for a credential sent to the control plane (the API, and
   * /metrics: one budget per address for both, so neither is a way around the other's): `lookup`
   * runs unless the address is over budget and `mayBeKey` is false; an UnauthenticatedError from
   * it, for a credential that was sent, charges the address and becomes a TooManyRequestsError
   * when the address was over budget already. Over budget, the lookup waits its turn in the
   * address's line (lookupTurn) unless `verified()`: a credential checked without a lookup (the
   * metrics token) costs the store nothing and never waits.
   */
  async authenticate<T>(address: string, sent: string | undefined, mayBeKey: () => boolean, lookup: () => Promise<T>, verified: () => boolean = () => false): Promise<T> {
    const early = this.refuseEarly(address, mayBeKey);
    if (early) throw tooMany(early);
    const turn = this.lookupTurn(address, verified);
    const end = turn === null ? null : await turn;
    try {
      return await lookup();
    } catch (err) {
      const over = err instanceof UnauthenticatedError && sent ? this.failed(address) : null;
      throw over ? tooMany(over) : err;
    } finally {
      end?.();
    }
  }

  /** The policy as `RateLimit-Policy` states it. */
  get policyHeader(): string {
    return `"failed-auth";q=${this.policy.burst};w=${seconds((this.policy.burst / this.policy.ratePerSecond) * 1000)}`;
  }

  /** Addresses held (tests check the bound). */
  get size(): number {
    return this.addresses.size;
  }

  /** Addresses with lookups in line (tests check that a line ends). */
  get lined(): number {
    return this.lines.size;
  }

  private over(address: string): AuthRefusal | null {
    const { empty, retryAfterMs } = bucketEmpty(this.touch(address), this.policy, this.now());
    return empty ? this.refusal(retryAfterMs) : null;
  }

  private refusal(retryAfterMs: number): AuthRefusal {
    const retryAfterSeconds = seconds(retryAfterMs);
    return {
      retryAfterSeconds,
      headers: { "retry-after": String(retryAfterSeconds), "ratelimit-policy": this.policyHeader, ratelimit: `"failed-auth";r=0;t=${retryAfterSeconds}` },
    };
  }

  private touch(address: string): BucketState | undefined {
    const s = this.addresses.get(address);
    if (s !== undefined) {
      this.addresses.delete(address);
      this.addresses.set(address, s);
    }
    return s;
  }
}
