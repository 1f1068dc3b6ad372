import { ForbiddenError, TooManyRequestsError, UnauthenticatedError, ValidationError, traceBytes, type IdentityVerifier, type Logger, type RunTrace, type Store } from "@flowplane/core";
import { traceEnvelopeSchema, traceSchema } from "@flowplane/core/api";
import { TrimSchedule } from "../runs/trim-schedule.js";
import type { TraceExporter } from "./otlp.js";
import { monotonicNow } from "../clock.js";

/** How many refused traces an answer names (all are counted). */
const MAX_NAMED_ERRORS = 5;

/**
 * The internal endpoint replicas send their runs' traces to (issue #19 item 2), beside the
 * bundle endpoint and with the same proof: the deployment's identity token. A replica stores
 * traces for its own deployment only (another deployment's token: 403). Each batch is one
 * INSERT; a trace for a request id already stored, or named twice in the batch, is ignored (the
 * first one stays), and the answer says so: `stored` counts the rows written, `ignored` the
 * others, so a batch sent again (a retry) stores nothing and exports nothing twice. Then, when
 * an OTLP collector is configured, the traces stored are handed to the exporter (which batches
 * and sends them on its own time).
 */
export interface TraceIngestOptions {
  store: Pick<Store, "insertTraces" | "trimTraces" | "getDeployment">;
  verifier: IdentityVerifier;
  exporter?: TraceExporter | undefined;
  log?: Logger;
  /**
   * What one deployment may send, in bytes of trace JSON: `burst` at once, refilled at
   * `perSecond` (default 32 MiB and 2 MiB/s). A replica runs its team's code: without a bound,
   * a flow posting 10 MB batches in a loop filled the control plane's database (shared by every
   * team) between two retention sweeps (every 5 minutes). Over it: 429 with Retry-After; the
   * replica sends that batch again after it, a few times at most, then drops it (a trace is
   * diagnostics: apps/runtime trace-retry.ts).
   */
  budget?: { burst: number; perSecond: number };
  /**
   * What one deployment may keep, in bytes of stored traces (core traceBytes; default
   * DEFAULT_TRACE_BYTES, FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT). The rate above bounds how
   * fast, retention how long and how many, not how much: at 10 MiB a trace a deployment kept
   * ~1 TB (100,000 runs' traces) in the database every team shares. Past it the deployment's
   * oldest traces are deleted (an observability store keeps the newest); a trace larger than the
   * whole budget is not stored (counted in `ignored`).
   */
  maxBytes?: number;
  /** Clock of the byte budget's refill, in ms (tests move it). Default monotonic (clock.ts): a stepped wall clock must not hold the budget empty. */
  now?: () => number;
}

/** The default of TraceIngestOptions.maxBytes: 256 MiB per deployment. */
export const DEFAULT_TRACE_BYTES = 256 * 1024 * 1024;

/**
 * How much a deployment stores between two checks of its total, as a share of its budget: the
 * check reads all of its rows' sizes, so not at every batch. It may go over by this much (plus a
 * batch) per control-plane process, briefly.
 */
const CHECK_SHARE = 1 / 16;

/** Most deployments whose budget is held (least recently used forgotten: a fresh budget only forgives). */
const MAX_BUDGETS = 10_000;

/** Proof that a request's token is its deployment's own (TraceIngest.authorize); the batch needs it. */
export interface TraceGrant {
  readonly deploymentId: string;
}

export class TraceIngest {
  private readonly budgets = new Map<string, { bytes: number; at: number }>();
  /** When each deployment's traces are due a trim to its budget. */
  private readonly trims = new TrimSchedule(MAX_BUDGETS);
  /** Per deployment, refused traces not yet logged and when the last line was: one line a minute at most. */
  private readonly refusals = new Map<string, { count: number; at: number }>();
  constructor(private readonly o: TraceIngestOptions) {}

  /** A replica runs its team's code: its bad traces are logged at most once a minute per deployment, with the count since the last line. */
  private warnRefused(deploymentId: string, refused: number, field: string): void {
    const now = (this.o.now ?? monotonicNow)();
    const r = this.refusals.get(deploymentId);
    if (r && now - r.at < 60_000) {
      r.count += refused;
      return;
    }
    if (!r && this.refusals.size >= MAX_BUDGETS) this.refusals.clear();
    this.o.log?.warn({ deploymentId, refused: refused + (r?.count ?? 0), field }, "traces: traces that break the trace contract are not stored; the rest of their batch is");
    this.refusals.set(deploymentId, { count: 0, at: now });
  }

  /** Spends `bytes` of the deployment's budget, or refuses (nothing spent) with the seconds until it has them. */
  private spend(deploymentId: string, bytes: number): void {
    const { burst, perSecond } = this.o.budget ?? { burst: 32 * 1024 * 1024, perSecond: 2 * 1024 * 1024 };
    const now = (this.o.now ?? monotonicNow)();
    const b = this.budgets.get(deploymentId);
    const level = b ? Math.min(burst, b.bytes + (Math.max(0, now - b.at) / 1000) * perSecond) : burst;
    if (level < bytes) {
      const wait = Math.max(1, Math.ceil((Math.min(bytes, burst) - level) / perSecond));
      throw new TooManyRequestsError(`this deployment sent more traces than the control plane keeps (${Math.round(burst / 1048576)} MiB at once, ${Math.round(perSecond / 1048576)} MiB/s); this batch is not stored`, wait);
    }
    this.budgets.delete(deploymentId);
    this.budgets.set(deploymentId, { bytes: level - bytes, at: now });
    if (this.budgets.size > MAX_BUDGETS) this.budgets.delete(this.budgets.keys().next().value as string);
  }

  /**
   * Keeps the deployment's stored traces within `maxBytes`, its oldest deleted first, when due
   * (TrimSchedule: each CHECK_SHARE of the budget stored). A failed trim is logged and tried
   * again at the next batch; the batch itself is stored all the same.
   */
  private async trim(deploymentId: string, added: number, maxBytes: number): Promise<void> {
    if (!this.trims.due(deploymentId, added, maxBytes * CHECK_SHARE)) return;
    try {
      const deleted = await this.o.store.trimTraces(deploymentId, maxBytes);
      if (deleted > 0) this.o.log?.info({ deploymentId, deleted, maxBytes }, "traces: the deployment's byte budget is full; its oldest traces were deleted");
      this.trims.trimmed(deploymentId);
    } catch (e) {
      this.o.log?.warn({ deploymentId, error: e instanceof Error ? e.message : String(e) }, "traces: trimming the deployment's oldest traces failed; it is tried again at its next batch");
    }
  }


  /**
   * 401 without a valid identity token, 403 with another deployment's. Called on the headers
   * alone (an onRequest hook), before the body is read: the endpoint sits on the public port, and
   * a body of up to the body limit parsed for anyone who asks cost the server its memory and
   * its API's latency (20 unauthenticated 9 MB posts: +200 MB and 15 s).
   */
  async authorize(deploymentId: string, token: string | undefined): Promise<TraceGrant> {
    const owner = token ? await this.o.verifier.verify(token) : null;
    if (!owner) throw new UnauthenticatedError("a deployment identity token is required");
    if (owner !== deploymentId) throw new ForbiddenError("this identity token belongs to another deployment");
    return { deploymentId };
  }

  /**
   * Stores what it can of a batch: `stored` traces written, `ignored` ones well formed but already
   * stored (or named twice, or over the byte budget alone), `refused` ones that break the trace
   * contract (the first few named in `errors`), which a replica running the deployment's code may
   * send. A batch whose every trace is refused, or that is no batch, is a 400 naming the field.
   */
  async receive(grant: TraceGrant, body: unknown): Promise<{ stored: number; ignored: number; refused: number; errors?: { field: string; message: string }[] }> {
    const { deploymentId } = grant;
    const envelope = traceEnvelopeSchema.safeParse(body);
    if (!envelope.success) {
      const issue = envelope.error.issues[0];
      throw new ValidationError([{ field: issue?.path.join(".") || "body", message: issue?.message ?? "invalid" }]);
    }
    const traces: RunTrace[] = [];
    const errors: { field: string; message: string }[] = [];
    envelope.data.traces.forEach((t, i) => {
      const parsed = traceSchema.safeParse(t);
      if (parsed.success) traces.push(parsed.data as RunTrace);
      else errors.push({ field: ["traces", i, ...(parsed.error.issues[0]?.path ?? [])].join("."), message: parsed.error.issues[0]?.message ?? "invalid" });
    });
    if (errors.length > 0 && traces.length === 0) throw new ValidationError(errors.slice(0, 1));
    const refused = errors.length;
    const named = refused > 0 ? { errors: errors.slice(0, MAX_NAMED_ERRORS) } : {};
    if (refused > 0) this.warnRefused(deploymentId, refused, errors[0]!.field);
    if (traces.length === 0) return { stored: 0, ignored: 0, refused, ...named };
    // In bytes, as the budget is stated and as the database stores it (a CJK text is 3 per character).
    this.spend(deploymentId, Buffer.byteLength(JSON.stringify(traces)));
    // A request id named twice in the batch: its first trace only, whatever order the INSERT takes.
    const seen = new Set<string>();
    const unique = traces.filter((t) => !seen.has(t.requestId) && Boolean(seen.add(t.requestId)));
    // A trace over the whole budget would, once the newest, have every other one trimmed, then itself.
    const maxBytes = this.o.maxBytes ?? DEFAULT_TRACE_BYTES;
    const sizes = new Map(unique.map((t) => [t.requestId, traceBytes(t)]));
    const fits = unique.filter((t) => sizes.get(t.requestId)! <= maxBytes);
    if (fits.length < unique.length) this.o.log?.warn({ deploymentId, refused: unique.length - fits.length, maxBytes }, "traces: a trace larger than the deployment's byte budget is not stored");
    const ids = new Set(fits.length > 0 ? await this.o.store.insertTraces(deploymentId, fits) : []);
    const stored = fits.filter((t) => ids.has(t.requestId));
    await this.trim(deploymentId, stored.reduce((n, t) => n + sizes.get(t.requestId)!, 0), maxBytes);
    if (this.o.exporter && stored.length > 0) {
      const d = await this.o.store.getDeployment(deploymentId);
      this.o.exporter.export({ deploymentId, projectId: d?.projectId ?? null, deploymentName: d?.displayName ?? null }, stored);
    }
    return { stored: stored.length, ignored: traces.length - stored.length, refused, ...named };
  }
}
