import { setTimeout as sleep } from "node:timers/promises";
import { ConflictError, NotFoundError, ValidationError, type Principal, type RunRecord, type RuntimeDriver, type Store } from "@flowplane/core";
import { DEFAULT_PAGE_SIZE, logsQuerySchema, runsQuerySchema, sinceTime, type LogLine, type Run, type Trace } from "@flowplane/core/api";
import type { DeploymentService } from "../services/deployments.js";
import { parse } from "../services/identity.js";
import { FollowSlots, type FollowSlotLimits } from "./follow-slots.js";
import { mergeChunks } from "./log-lines.js";

/** A run's id is the store's serial: plain decimal digits (`1e2`, `0x10`, ` 7` are 400s naming runId, never another run). */
function checkRunId(runId: string): void {
  if (!/^[1-9][0-9]{0,17}$/.test(runId)) throw new ValidationError([{ field: "runId", message: "runId must be a run id: a whole number in decimal digits (such as 42)" }]);
}

export interface RunsServiceOptions {
  store: Store;
  /** Finds a deployment for a caller, with the project's viewer check. */
  deployments: Pick<DeploymentService, "get">;
  /** The driver that reads replicas' logs; undefined in a process that runs none (split roles: the API alone). */
  logs: Pick<RuntimeDriver, "readLogs"> | undefined;
  now?: () => number;
  /** How often a follow looks for new lines (default 500 ms). */
  followPollMs?: number;
  /** How long one follow lasts at most (default 30 minutes); the client reconnects for more. */
  followMaxMs?: number;
  /**
   * How often a follow checks that its caller may still read the logs (default 5 s, the
   * revocation promise): a revoked key or a removed role ends the stream instead of it
   * streaming on for up to `followMaxMs`.
   */
  followRecheckMs?: number;
  /** How many follows one caller and the whole process may hold open (default 4 and 64). */
  followSlots?: FollowSlotLimits;
}

/** The tail of each replica's log a read answers by default. */
const DEFAULT_TAIL = 100;
/** A replica that appears while a follow runs (a rolling restart) is read from its start, up to this many lines. */
const NEW_REPLICA_LINES = 1000;

/** Core's record as the API shows it: no deployment or project (the path names them), optional parts only when present. */
export function toApiRun(r: RunRecord): Run {
  return {
    id: r.id, time: r.time, revision: r.revision, flowId: r.flowId, route: r.route, tool: r.tool, caller: { ...r.caller },
    sessionId: r.sessionId, requestId: r.requestId, method: r.method, status: r.status, latencyMs: r.latencyMs,
    ...(r.tokens ? { tokens: r.tokens } : {}),
    ...(r.errorCode ? { error: { code: r.errorCode } } : {}),
  };
}

/** The runs and logs endpoints (viewers of the deployment's project). */
export class RunsService {
  private readonly followSlots: FollowSlots;

  constructor(private readonly o: RunsServiceOptions) {
    this.followSlots = new FollowSlots(o.followSlots);
  }

  /**
   * Takes one of the caller's open-follow slots (429 when its share or the server's total is in
   * use); call the returned function when the stream ends.
   */
  reserveFollow(p: Principal): () => void {
    return this.followSlots.acquire(p.keyId ?? `user:${p.userId}`);
  }

  async list(p: Principal, projectId: string, id: string, query: Record<string, string | undefined>): Promise<{ items: Run[]; nextCursor: string | null }> {
    const q = parse(runsQuerySchema, query);
    const d = await this.o.deployments.get(p, projectId, id);
    const page = await this.o.store.listRuns(d.id, {
      ...(q.since ? { since: sinceTime(q.since, this.now()) } : {}),
      ...(q.status ? { statusClass: q.status } : {}),
      ...(q.sessionId ? { sessionId: q.sessionId } : {}),
    }, { limit: q.limit ?? DEFAULT_PAGE_SIZE, cursor: q.cursor });
    return { items: page.items.map(toApiRun), nextCursor: page.nextCursor };
  }

  async get(p: Principal, projectId: string, id: string, runId: string): Promise<Run> {
    checkRunId(runId);
    const d = await this.o.deployments.get(p, projectId, id);
    const r = await this.o.store.getRun(d.id, runId);
    if (!r) throw new NotFoundError(`run ${runId} not found in deployment ${id}`);
    return toApiRun(r);
  }

  /** A run's trace, joined by its request id (the replica that ran it sent it; traces/ingest.ts). */
  async trace(p: Principal, projectId: string, id: string, runId: string): Promise<Trace> {
    checkRunId(runId);
    const d = await this.o.deployments.get(p, projectId, id);
    const r = await this.o.store.getRun(d.id, runId);
    if (!r) throw new NotFoundError(`run ${runId} not found in deployment ${id}`);
    const t = await this.o.store.getTrace(d.id, r.requestId);
    if (!t) throw new NotFoundError(`run ${runId} has no trace: it ran no flow, or its replica has not sent it yet`);
    return t;
  }

  /**
   * Whether a follow of this deployment's logs goes on (it asks again as it goes): the caller may
   * still read them, and the deployment is not undeployed (its replicas are gone, and no line will
   * come again).
   */
  async mayFollow(p: Principal, projectId: string, id: string): Promise<boolean> {
    try {
      return (await this.o.deployments.get(p, projectId, id)).deletedAt === null;
    } catch {
      return false;
    }
  }

  /** The logs query, checked, and the deployment's driver name for them. */
  async logsTarget(p: Principal, projectId: string, id: string, query: Record<string, string | undefined>) {
    const q = parse(logsQuerySchema, query);
    const d = await this.o.deployments.get(p, projectId, id);
    if (!this.o.logs) throw new ConflictError("this control-plane process runs no driver, so it cannot read replica logs: ask the process that runs the reconciler");
    // An undeployed deployment's logs are read as any other's (the record stays, and its other reads
    // answer); a follow of them ends after the tail (`removed`).
    return { resourceName: d.resourceName, replica: q.replica, requestId: q.requestId, tail: q.tail ?? DEFAULT_TAIL, follow: q.follow === "true", removed: d.deletedAt !== null, logs: this.o.logs };
  }

  async logs(t: Awaited<ReturnType<RunsService["logsTarget"]>>): Promise<{ items: LogLine[]; replicas: { replica: string; error?: string }[] }> {
    const chunks = await t.logs.readLogs(t.resourceName, { tailLines: t.tail, ...(t.replica ? { replica: t.replica } : {}) });
    return {
      items: mergeChunks(chunks, t.requestId),
      replicas: chunks.map((c) => (c.error ? { replica: c.replica, error: c.error } : { replica: c.replica })),
    };
  }

  /**
   * Follows the logs: the tail first, then new lines as they come, from every replica the driver
   * reads, replicas started meanwhile included (a rolling restart). Ends when `signal` aborts
   * (the client went), after `followMaxMs`, when `stillFollowing` says no (checked every
   * `followRecheckMs`: the caller lost access, or the deployment was undeployed), or after the
   * tail when the deployment was undeployed already: a follow that can never get a line held one
   * of its caller's follow slots for its 30 minutes, and `flowplane logs -f` hung.
   */
  async *follow(t: Awaited<ReturnType<RunsService["logsTarget"]>>, signal: AbortSignal, stillFollowing?: () => Promise<boolean>): AsyncGenerator<LogLine[]> {
    const deadline = this.now() + (this.o.followMaxMs ?? 30 * 60_000);
    const cursors: Record<string, string> = {};
    let first = true;
    let checked = this.now();
    while (!signal.aborted && this.now() < deadline) {
      if (stillFollowing && this.now() - checked >= (this.o.followRecheckMs ?? 5_000)) {
        checked = this.now();
        if (!(await stillFollowing().catch(() => false))) return; // the caller lost access, or the deployment is gone: no more lines
      }
      const chunks = await t.logs.readLogs(t.resourceName, { cursors, tailLines: first ? t.tail : NEW_REPLICA_LINES, ...(t.replica ? { replica: t.replica } : {}) });
      first = false;
      for (const c of chunks) cursors[c.replica] = c.cursor;
      const lines = mergeChunks(chunks, t.requestId);
      if (lines.length > 0) yield lines;
      if (t.removed) return; // the tail was all there is
      try {
        await sleep(this.o.followPollMs ?? 500, undefined, { signal });
      } catch {
        return; // aborted
      }
    }
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}
