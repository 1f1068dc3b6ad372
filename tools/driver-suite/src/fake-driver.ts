import type { LogRead, ObservedFailure, ObservedReplica, ObservedRuntime, ReplicaLogChunk, ReplicaUsage, ReplicaUsageReading, RuntimeDriver, RuntimeIsolation, RuntimeSpec } from "@flowplane/core";

/** The driver calls a test can count, hold or fail. */
export type FakeDriverMethod = "apply" | "observe" | "delete" | "list";

export interface FakeDriverOptions {
  /**
   * How a started replica becomes ready:
   * - `auto`: by the next driver call for its deployment or the next turn of the event loop,
   *   whichever comes first, announced through `onChange` (a healthy runtime).
   * - `manual`: only when the test calls `makeReady` (to look at the states in between).
   */
  readiness?: "auto" | "manual";
  /** The isolation it reports (default `none`: it runs no process to isolate). */
  isolation?: RuntimeIsolation;
}

/** One driver call as recorded: the method, and the resource name it was for (none for `list`). */
export interface FakeDriverCall {
  method: FakeDriverMethod;
  resourceName?: string;
  /** The spec's generation, for `apply`. */
  generation?: number;
}

type Hook = (resourceName: string | undefined) => void | Promise<void>;

interface Held {
  spec: RuntimeSpec;
  appliedGeneration: number;
  replicas: ObservedReplica[];
  failure?: ObservedFailure;
}

/**
 * A RuntimeDriver that runs nothing: replicas are records that the test moves between states.
 * It keeps the contract the real drivers keep (the shared driver suite runs against it): `apply`
 * moves one step towards the spec and is idempotent, a roll starts the new generation's replicas
 * before it removes the old ones (maxUnavailable 0), `delete` removes everything, `onChange` fires
 * when a replica changes on its own. So tests of what uses a driver (the reconciler) run in
 * milliseconds, and can stage what real processes make hard to stage on cue: a crash, a call
 * that throws, a delete that hangs.
 */
export class FakeDriver implements RuntimeDriver {
  readonly name = "local" as const;
  readonly isolation: RuntimeIsolation;
  /** Every call, in order. */
  readonly calls: FakeDriverCall[] = [];
  private readonly held = new Map<string, Held>();
  private readonly listeners: ((resourceName: string) => void)[] = [];
  private readonly hooks: { method: FakeDriverMethod; resourceName?: string; once: boolean; hook: Hook }[] = [];
  private readiness: "auto" | "manual";
  private nextId = 0;
  /** Resources with replicas that `auto` readiness has yet to make ready. */
  private readonly pendingReady = new Set<string>();
  private closed = false;
  /** Each replica's log lines (`resourceName` → replica id → lines), kept after the replica goes, as a file would be. */
  private readonly logs = new Map<string, Map<string, string[]>>();
  private readonly usages = new Map<string, ReplicaUsage[]>();

  constructor(o: FakeDriverOptions = {}) {
    this.readiness = o.readiness ?? "auto";
    this.isolation = o.isolation ?? { mode: "none", detail: "the fake driver runs no process" };
  }

  // ---- RuntimeDriver ----

  async apply(spec: RuntimeSpec): Promise<void> {
    await this.enter("apply", spec.resourceName, spec.generation);
    let h = this.held.get(spec.resourceName);
    if (!h) {
      h = { spec, appliedGeneration: spec.generation, replicas: [] };
      this.held.set(spec.resourceName, h);
    }
    if (spec.generation !== h.appliedGeneration) delete h.failure; // a new generation starts afresh
    h.spec = spec;
    h.appliedGeneration = spec.generation;
    // Pools: the spec's own (its revision, or its generation when it names none) and one per other live revision.
    const pools = [spec, ...(spec.others ?? [])];
    const own = (r: ObservedReplica) => (spec.revision !== undefined && r.revision !== undefined ? r.revision === spec.revision : r.generation === spec.generation);
    // Another live revision claims up to its count of its replicas (ready ones first); the rest of them are old.
    const claimed = new Map<ObservedReplica, RuntimeSpec>();
    for (const pool of pools.slice(1)) {
      const mine = h.replicas.filter((r) => !own(r) && r.revision !== undefined && r.revision === pool.revision).sort((a, b) => (a.state === "ready" ? 0 : 1) - (b.state === "ready" ? 0 : 1));
      for (const r of mine.slice(0, pool.resources.replicas)) claimed.set(r, pool);
    }
    const poolOf = (r: ObservedReplica) => (own(r) ? spec : claimed.get(r));
    // Of no pool: what does not serve goes at once; what serves stays until the new generation can take over.
    h.replicas = h.replicas.filter((r) => poolOf(r) !== undefined || r.state === "ready");
    // Scale down: the replicas that do not serve go first.
    const rank = (r: ObservedReplica) => (r.state === "ready" ? 1 : 0);
    for (const pool of pools) {
      const mine = () => h.replicas.filter((r) => poolOf(r) === pool);
      for (const extra of [...mine()].sort((a, b) => rank(a) - rank(b)).slice(0, Math.max(0, mine().length - pool.resources.replicas))) {
        h.replicas.splice(h.replicas.indexOf(extra), 1);
      }
      for (let i = mine().length; i < pool.resources.replicas; i++) {
        const id = `${spec.resourceName}-${++this.nextId}`;
        const r: ObservedReplica = { id, generation: pool.generation, ...(pool.revision !== undefined ? { revision: pool.revision } : {}), state: "starting", restarts: 0 };
        h.replicas.push(r);
        if (pool !== spec) claimed.set(r, pool);
        this.writeLog(spec.resourceName, id, JSON.stringify({ time: new Date().toISOString(), level: "info", msg: "listening", generation: pool.generation }));
      }
    }
    if (h.replicas.filter((r) => poolOf(r) === spec && r.state === "ready").length >= spec.resources.replicas) {
      h.replicas = h.replicas.filter((r) => poolOf(r) !== undefined);
    }
    if (this.readiness === "auto" && h.replicas.some((r) => r.state === "starting")) {
      const name = spec.resourceName;
      this.pendingReady.add(name);
      setImmediate(() => this.promote(name));
    }
  }

  async observe(resourceName: string): Promise<ObservedRuntime> {
    await this.enter("observe", resourceName);
    const h = this.held.get(resourceName);
    if (!h) return { exists: false, appliedGeneration: 0, replicas: [] };
    return {
      exists: true,
      appliedGeneration: h.appliedGeneration,
      replicas: h.replicas.map((r) => ({ ...r })),
      isolation: { ...this.isolation },
      ...(h.failure ? { failure: { ...h.failure } } : {}),
    };
  }

  async delete(resourceName: string): Promise<void> {
    await this.enter("delete", resourceName);
    this.held.delete(resourceName);
    this.logs.delete(resourceName);
  }

  async list(): Promise<string[]> {
    await this.enter("list", undefined);
    return [...this.held.keys()];
  }

  onChange(listener: (resourceName: string) => void): void {
    this.listeners.push(listener);
  }

  endpoints(resourceName: string, revision?: number): string[] {
    const h = this.held.get(resourceName);
    // Addresses that resolve nowhere (RFC 2606): nothing listens behind a fake replica.
    return (h?.replicas ?? []).filter((r) => r.state === "ready" && (revision === undefined || r.revision === revision)).map((r) => `http://${r.id}.fake.invalid`);
  }

  /** The lines written for each replica (`writeLog`); a cursor is the count of lines already read. */
  async readLogs(resourceName: string, read: LogRead): Promise<ReplicaLogChunk[]> {
    const out: ReplicaLogChunk[] = [];
    for (const [replica, lines] of this.logs.get(resourceName) ?? []) {
      if (read.replica !== undefined && replica !== read.replica) continue;
      const cursor = read.cursors?.[replica];
      const from = cursor === undefined ? Math.max(0, lines.length - (read.tailLines ?? 100)) : Math.min(Number(cursor) || 0, lines.length);
      out.push({ replica, lines: lines.slice(from), cursor: String(lines.length) });
    }
    return out;
  }

  /** What `setUsage` last set for each replica of the deployment's that still exist; none: not available. */
  async usage(resourceName: string): Promise<ReplicaUsageReading> {
    const set = this.usages.get(resourceName);
    if (!set) return { available: false, reason: "the fake driver measures nothing until a test sets usage" };
    const live = new Set(this.held.get(resourceName)?.replicas.map((r) => r.id) ?? []);
    return { available: true, replicas: set.filter((u) => live.has(u.replica)) };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Sets what `usage` answers for the deployment's replicas (as a platform would measure them). */
  setUsage(resourceName: string, usage: ReplicaUsage[]): void {
    this.usages.set(resourceName, usage);
  }

  /** Appends a line to a replica's log, as its process would write it. */
  writeLog(resourceName: string, replica: string, line: string): void {
    let byReplica = this.logs.get(resourceName);
    if (!byReplica) this.logs.set(resourceName, (byReplica = new Map()));
    const lines = byReplica.get(replica) ?? [];
    lines.push(line);
    byReplica.set(replica, lines);
  }

  // ---- controls for tests ----

  /** How many calls of `method` (for `resourceName`, when given) were made. */
  count(method: FakeDriverMethod, resourceName?: string): number {
    return this.calls.filter((c) => c.method === method && (resourceName === undefined || c.resourceName === resourceName)).length;
  }

  /**
   * Runs `hook` at the start of every call of `method` (for `resourceName`, when given), before the
   * call has any effect: a hook that throws fails the call, one that awaits holds it. Returns a
   * function that removes the hook.
   */
  intercept(method: FakeDriverMethod, hook: Hook, o: { resourceName?: string; once?: boolean } = {}): () => void {
    const entry = { method, hook, once: o.once ?? false, ...(o.resourceName !== undefined ? { resourceName: o.resourceName } : {}) };
    this.hooks.push(entry);
    return () => {
      const i = this.hooks.indexOf(entry);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /** Makes the next call of `method` (for `resourceName`, when given) throw `error`, with no effect. */
  failNext(method: FakeDriverMethod, error: Error, resourceName?: string): void {
    this.intercept(method, () => { throw error; }, { once: true, ...(resourceName !== undefined ? { resourceName } : {}) });
  }

  /** The spec last applied for `resourceName` (what a real replica would have been given). */
  spec(resourceName: string): RuntimeSpec | undefined {
    return this.held.get(resourceName)?.spec;
  }

  /** Switches how replicas started from now on become ready (see FakeDriverOptions). */
  setReadiness(mode: "auto" | "manual"): void {
    this.readiness = mode;
    if (mode === "manual") this.pendingReady.clear();
  }

  /** Every starting or crashed replica of `resourceName` becomes ready, and the failure clears. */
  makeReady(resourceName: string): void {
    const h = this.mustHold(resourceName);
    let changed = h.failure !== undefined;
    delete h.failure;
    for (const r of h.replicas) {
      if (r.state === "starting" || r.state === "crashed") {
        r.state = "ready";
        changed = true;
      }
    }
    if (changed) this.changed(resourceName);
  }

  /**
   * `count` replicas of `resourceName` (all when not given) exit with `message`: each is counted as
   * a restart and stays crashed until `makeReady`. With `failure`, the driver also reports why
   * nothing can serve (CrashLoopBackOff, DigestMismatch...).
   */
  crash(resourceName: string, o: { message: string; count?: number; failure?: ObservedFailure }): void {
    const h = this.mustHold(resourceName);
    for (const r of h.replicas.slice(0, o.count ?? h.replicas.length)) {
      r.state = "crashed";
      r.restarts += 1;
      r.lastError = o.message;
    }
    if (o.failure) h.failure = { ...o.failure };
    this.changed(resourceName);
  }

  private promote(resourceName: string): void {
    if (this.pendingReady.delete(resourceName) && !this.closed && this.held.has(resourceName)) this.makeReady(resourceName);
  }

  private mustHold(resourceName: string): Held {
    const h = this.held.get(resourceName);
    if (!h) throw new Error(`the fake driver holds nothing for ${resourceName}`);
    return h;
  }

  private changed(resourceName: string): void {
    for (const l of this.listeners) l(resourceName);
  }

  private async enter(method: FakeDriverMethod, resourceName: string | undefined, generation?: number): Promise<void> {
    if (this.closed) throw new Error("the fake driver is closed");
    if (resourceName !== undefined) this.promote(resourceName);
    this.calls.push({ method, ...(resourceName !== undefined ? { resourceName } : {}), ...(generation !== undefined ? { generation } : {}) });
    for (const h of [...this.hooks]) {
      if (h.method !== method || (h.resourceName !== undefined && h.resourceName !== resourceName)) continue;
      if (h.once) this.hooks.splice(this.hooks.indexOf(h), 1);
      await h.hook(resourceName);
    }
  }
}
