import { closeWithConnection } from "./close-with-connection.js";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { TooManyRequestsError } from "@flowplane/core";
import { MAX_BODY_WAIT_MS } from "@flowplane/core/api";
import { hasBody } from "../gateway/body.js";

/**
 * How much request-body memory the API's callers may hold at once.
 *
 * Every request body is read whole, parsed, and held by its handler until it answers (a publish
 * is then checked on a thread and stored: about three times its size in memory at its peak).
 * Nothing else bounded how many at once: 30 publishes of 10 MiB sent together took the control
 * plane from 130 MiB to 1.1 GB, and a few more than a hundred, which any member who may publish
 * can send, would take it past V8's heap limit, a crash for every team. Counting bytes, not
 * requests: a body counts its declared `Content-Length` (a chunked one, of unknown length, the
 * whole body limit) from before it is read until its handler is done, even when its client has
 * left meanwhile (what the handler holds is still held). Bodies of at most `smallBytes` are not
 * counted: the API's everyday calls never wait here.
 *
 * A body that does not fit waits its turn (first come, first served; one over its own caller's
 * share does not hold back other callers' bodies, and a large one is not passed by smaller ones), its
 * bytes not read meanwhile (TCP holds them back); it is answered 429 with `Retry-After` when it
 * waited `maxWaitMs`, or at once when its caller already has `maxWaitingPerCaller` waiting or the
 * server `maxWaiting`. One caller (a user; a replica for its traces) holds at most
 * `perCallerBytes`, so one team's burst of large publishes is theirs to wait for, not everyone's.
 */
export interface BodyBudgetLimits {
  /** Body bytes held at once, all callers. */
  totalBytes: number;
  /** Body bytes one caller holds at once. */
  perCallerBytes: number;
  /** Bodies up to this size are not counted. */
  smallBytes: number;
  /** Requests waiting for room, all callers. */
  maxWaiting: number;
  /** Requests waiting for room, one caller. */
  maxWaitingPerCaller: number;
  /** How long a request waits for room before its 429. */
  maxWaitMs: number;
}

/** Bodies up to 64 KiB are everyday calls (a deploy, a key); a large publish is megabytes. */
const SMALL_BYTES = 64 * 1024;

/**
 * The limits for a body limit of `bodyLimit` bytes: six bodies of the largest size at once (about
 * 200 MiB of memory at the default 10 MiB limit), two of them one caller's.
 */
export function bodyBudgetLimits(bodyLimit: number): BodyBudgetLimits {
  return { totalBytes: 6 * bodyLimit, perCallerBytes: 2 * bodyLimit, smallBytes: SMALL_BYTES, maxWaiting: 256, maxWaitingPerCaller: 8, maxWaitMs: MAX_BODY_WAIT_MS };
}

/**
 * A body's bytes while they are held: call it once the handler is done (a second call does
 * nothing). `keep(bytes)`: from now on hold only `bytes` (never more than was taken; nothing when
 * they are a small body's), e.g. a chunked body's real size once it has been read.
 */
export interface BodyRelease {
  (): void;
  keep(bytes: number): void;
}

/** The release of a body that holds nothing. */
const NOTHING: BodyRelease = Object.assign(() => {}, { keep: () => {} });

interface Waiter {
  caller: string;
  bytes: number;
  admit: (release: BodyRelease) => void;
  refuse: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class BodyBudget {
  private held = 0;
  private readonly heldBy = new Map<string, number>();
  private readonly waiting: Waiter[] = [];
  private readonly waitingBy = new Map<string, number>();

  constructor(readonly limits: BodyBudgetLimits) {
    if (limits.perCallerBytes > limits.totalBytes) throw new Error("perCallerBytes must not exceed totalBytes");
  }

  /**
   * Room for a body of `bytes` (its declared length, or the body limit when unknown) for
   * `caller`: a release at once, or after a wait; a 429 (TooManyRequestsError) when it cannot
   * wait or waited too long. `signal`: the client left while waiting, which then ends (rejected
   * with the signal's reason) and frees its place.
   */
  async take(caller: string, bytes: number, signal?: AbortSignal): Promise<BodyRelease> {
    // A body larger than a caller's share could never fit: it counts as that share (the body limit refuses larger ones).
    const size = Math.min(bytes, this.limits.perCallerBytes);
    if (size <= this.limits.smallBytes) return NOTHING;
    if (this.fits(caller, size) && !this.waiting.some((w) => this.held + w.bytes > this.limits.totalBytes)) return this.hold(caller, size);
    if (this.waiting.length >= this.limits.maxWaiting || (this.waitingBy.get(caller) ?? 0) >= this.limits.maxWaitingPerCaller) {
      throw new TooManyRequestsError(this.busy(caller), 1);
    }
    signal?.throwIfAborted();
    return new Promise<BodyRelease>((resolve, reject) => {
      const w: Waiter = {
        caller, bytes: size,
        admit: (release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
        refuse: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
        timer: setTimeout(() => this.drop(w, new TooManyRequestsError(this.busy(caller), Math.ceil(this.limits.maxWaitMs / 1000))), this.limits.maxWaitMs),
      };
      w.timer.unref();
      const onAbort = () => this.drop(w, signal?.reason ?? new Error("the client left"));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(w);
      this.waitingBy.set(caller, (this.waitingBy.get(caller) ?? 0) + 1);
    });
  }

  /** Body bytes held now (for tests and a gauge). */
  get heldBytes(): number {
    return this.held;
  }

  /** Requests waiting now. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  private busy(caller: string): string {
    const own = (this.heldBy.get(caller) ?? 0) + this.limits.smallBytes >= this.limits.perCallerBytes;
    return own
      ? "you are sending as many large request bodies at once as the server reads for one caller; retry when one of them is answered"
      : "the server is reading as many large request bodies at once as it holds; retry shortly";
  }

  private fits(caller: string, size: number): boolean {
    return this.held + size <= this.limits.totalBytes && (this.heldBy.get(caller) ?? 0) + size <= this.limits.perCallerBytes;
  }

  private hold(caller: string, bytes: number): BodyRelease {
    let size = 0;
    const change = (to: number) => {
      const by = to - size;
      size = to;
      this.held += by;
      const left = (this.heldBy.get(caller) ?? 0) + by;
      if (left > 0) this.heldBy.set(caller, left);
      else this.heldBy.delete(caller);
    };
    change(bytes);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      change(0);
      this.admitWaiting();
    };
    return Object.assign(release, {
      keep: (kept: number) => {
        if (released) return;
        const to = kept <= this.limits.smallBytes ? 0 : Math.min(kept, size);
        if (to >= size) return;
        change(to);
        this.admitWaiting();
      },
    });
  }

  /**
   * Admits waiters oldest first. One held back by its own caller's share does not hold back the
   * others; one held back by the total does (as a new request does not pass it in take): smaller
   * bodies coming on must not starve a larger one.
   */
  private admitWaiting(): void {
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i] as Waiter;
      if (this.held + w.bytes > this.limits.totalBytes) return;
      if ((this.heldBy.get(w.caller) ?? 0) + w.bytes > this.limits.perCallerBytes) {
        i++;
        continue;
      }
      this.forget(w, i);
      w.admit(this.hold(w.caller, w.bytes));
    }
  }

  private drop(w: Waiter, err: Error): void {
    const i = this.waiting.indexOf(w);
    if (i < 0) return;
    this.forget(w, i);
    w.refuse(err);
    // It may have held back the ones behind it (the total it waited for): they may fit now.
    this.admitWaiting();
  }

  private forget(w: Waiter, i: number): void {
    clearTimeout(w.timer);
    this.waiting.splice(i, 1);
    const n = (this.waitingBy.get(w.caller) ?? 1) - 1;
    if (n > 0) this.waitingBy.set(w.caller, n);
    else this.waitingBy.delete(w.caller);
  }
}

/** What registerBodyBudget gives the routes: `handle` runs a handler and holds its body's bytes until it is done. */
export interface BodyBudgetHooks {
  handle<T>(req: FastifyRequest, handler: () => Promise<T>): Promise<T>;
}

const HOLD = Symbol("flowplane.bodyBudget");
const BODYLESS = new Set(["GET", "HEAD", "TRACE"]);
interface Hold {
  release: () => void;
  /** The answer closed, or its connection: the client is gone. */
  gone: () => boolean;
  /** A handler holds the body now: the client's leaving no longer frees its bytes. */
  handling: boolean;
}
type Held = FastifyRequest & { [HOLD]?: Hold };

/**
 * Takes room in `budget` for every request body before it is read (a `preParsing` hook: register
 * it before early-refusal's, so that `100 Continue` is written only once there is room), for
 * the caller `callerOf` names (set by the routes' `onRequest` hooks). The room is given back when
 * the handler `handle` ran is done, or, when no such handler runs (a refused or unparsable body,
 * a route without one), when the answer ends or the client leaves (its answer's `close`, made to
 * come with its connection's for a request pipelined behind a slow answer, whose room was held
 * for the life of the process when the client hung up first: close-with-connection.ts).
 */
export function registerBodyBudget(app: FastifyInstance, budget: BodyBudget, callerOf: (req: FastifyRequest) => string): BodyBudgetHooks {
  app.addHook("preParsing", async (req, reply, payload) => {
    // Fastify never reads the body of a GET, HEAD or TRACE: it holds nothing, and must not wait
    // here (nor take a waiting place: a web page or openapi.json counts against an address).
    if (!hasBody(req.raw) || BODYLESS.has(req.method)) return payload;
    const limit = req.routeOptions.bodyLimit ?? budget.limits.totalBytes;
    const declared = req.headers["content-length"] === undefined ? NaN : Number(req.headers["content-length"]);
    // Over the limit: the body parser answers 413 without reading it. Small: never counted.
    if (declared > limit || declared <= budget.limits.smallBytes) return payload;
    const res = reply.raw;
    closeWithConnection(req.raw, res);
    const gone = () => res.closed || res.destroyed;
    const left = new AbortController();
    // Not an unexpected error (nobody reads its answer; the access log shows a 429).
    const onLeft = () => left.abort(new TooManyRequestsError("the client left while its body waited for room"));
    res.once("close", onLeft);
    let room: BodyRelease;
    try {
      room = await budget.take(callerOf(req), Number.isFinite(declared) ? declared : limit, left.signal);
    } finally {
      res.removeListener("close", onLeft);
    }
    const hold: Hold = {
      release: () => {
        res.removeListener("close", onGone);
        room();
      },
      gone,
      handling: false,
    };
    const onGone = () => {
      if (!hold.handling) hold.release();
    };
    (req as Held)[HOLD] = hold;
    res.once("close", onGone);
    if (gone()) hold.release();
    return payload;
  });
  return {
    async handle(req, handler) {
      const hold = (req as Held)[HOLD];
      // The client left before its handler began: the bytes were given back then, and this run is not counted (a few microtasks' window).
      if (hold && !hold.gone()) hold.handling = true;
      try {
        return await handler();
      } finally {
        hold?.release();
      }
    },
  };
}
