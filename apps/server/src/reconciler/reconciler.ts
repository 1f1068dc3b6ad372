import {
  canonicalJson,
  computeStatus,
  extraPools,
  isSettled,
  liveRevisions,
  replicaRuntime,
  resolveRuntime,
  endpointsKeyResource,
  revisionEndpointsKey,
  runsOf,
  warmExpiry,
  DEFAULT_BODY_LIMIT_BYTES,
  runtimeSpec,
  type Deployment,
  type DeploymentEvent,
  type DeploymentCredentials,
  type DeploymentStatus,
  type IdentityTokens,
  type Logger,
  type RuntimeDriver,
  type RuntimeSpec,
  type Store,
} from "@flowplane/core";

/** A deployment asleep is looked at by every this many resyncs (once a minute at the default 10 s). */
const ASLEEP_RESYNC_EVERY = 6;
/** The phase gauge is recounted at most this often: a count is a scan of every deployment. */
const PHASE_COUNT_EVERY_MS = 1_000;

export interface ReconcilerMetrics {
  observeReconcile(seconds: number, result: "ok" | "error" | "skipped"): void;
  setPhaseCounts(counts: Record<string, number>): void;
}

export interface ReconcilerOptions {
  store: Store;
  driver: RuntimeDriver;
  credentials: DeploymentCredentials;
  tokens: IdentityTokens;
  /** The secret the gateway sends to a deployment's replicas (they refuse requests without it). */
  gatewaySecret(deploymentId: string): string;
  /** The internal bundle-download URL for a deployment, as replicas reach the control plane. */
  bundleUrl(deploymentId: string): string;
  /** The gateway's body limit, passed to replicas so both refuse the same bodies (RuntimeSpec.maxBodyBytes). */
  maxBodyBytes?: number;
  /** Unique per process: the lease holder's name. */
  holder: string;
  concurrency?: number;
  resyncMs?: number;
  busyRequeueMs?: number;
  errorRequeueMs?: number;
  leaseMs?: number;
  /**
   * No other process can reach this store (embedded PGlite: its folder is locked to one process),
   * so none can reconcile these deployments: no lease is taken or renewed (a write per pass at
   * a thousand deployments starting, docs/kubernetes-at-scale.md), and none can write a record
   * without this process hearing of it, so resync passes may use the record kept (`records`).
   * Off unless said.
   */
  storeIsOwn?: boolean;
  /**
   * A change the driver reports (onChange) wakes the deployment's pass this much later (default
   * 0), so a burst of them (a Deployment's and its pod's status moving on the watch) makes one
   * pass, not one each.
   */
  changeDelayMs?: number;
  now?: () => Date;
  /** Where the reconciler logs; a line about a deployment carries its `deploymentId`. */
  log?: Logger;
  metrics?: ReconcilerMetrics;
  /**
   * Publish each runtime's ready endpoints in the store after every pass, for gateways in other
   * processes (see README: split roles). Off when every gateway asks the driver in process.
   */
  publishEndpoints?: boolean;
}

/** See README.md in this folder for the rules (queue, leases, order of effects, orphans). */
export class Reconciler {
  private readonly due = new Map<string, number>();
  private readonly running = new Set<string>();
  /** Enqueued while running: run again right after. */
  private readonly dirty = new Set<string>();
  /**
   * Due only because of a resync: taken after every other due deployment. With a thousand
   * deployments a resync queues all of them, and a deployment just created (or edited, or
   * woken by its watch) must not wait behind a round of passes that find nothing to do.
   */
  private readonly background = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** Resync rounds so far (asleep deployments are enqueued every ASLEEP_RESYNC_EVERY of them). */
  private resyncs = 0;
  private stopped = false;
  private readonly inflight = new Set<Promise<void>>();
  /** resourceName -> deployment id, for the driver's change notifications. */
  private readonly byResource = new Map<string, string>();
  /** resourceName -> the endpoint set last written to the store (canonical JSON), so unchanged sets are not rewritten. */
  private readonly published = new Map<string, string>();
  /**
   * `name@tag` -> the digest and when a pass last found that version: a version is immutable,
   * and reading it whole (its flows) on every pass was most of a pass's database time at a
   * thousand deployments. Trusted for one resync period; a deleted version is seen after that.
   * With it, the names of its plain parameters: those a deployment holds as credentials are kept
   * secret, and its replicas must guard them as credentials (runtimeSpec's `plainParameters`).
   */
  private readonly versions = new Map<string, { digest: string; at: number; plain: readonly string[] }>();
  private phaseCountTimer: NodeJS.Timeout | undefined;
  /** Deployment id -> when (performance.now()) this process last took or renewed its lease. */
  private readonly leases = new Map<string, number>();
  /**
   * Each deployment's record as this process last read it, with its row version; kept only when
   * the store is this process's own (`storeIsOwn`). A pass that only a resync asked for uses it
   * when that resync listed the same version. Sound because every write then comes from this
   * process and wakes the deployment (a pass that reads), and the version changes at every
   * write: a kept record with the listed version is the one in the database, unless a write came
   * after the list, and that write woke its own pass. On a shared PostgreSQL another control
   * plane's write between the list and the pass would wake nothing here, so every pass reads.
   * A pass that writes the record drops it.
   */
  private readonly records = new Map<string, { version: string; deployment: Deployment }>();
  /** Each active deployment's row version in the latest resync's list (`listedSeq`: which list). */
  private listed = new Map<string, string>();
  private listedSeq = 0;
  private listSeq = 0;
  /** Each deployment's sealed credentials and the generation they were read at (sealedCredentials). */
  private readonly sealed = new Map<string, { generation: number; sealed: Buffer | null }>();
  private readonly o: Required<Omit<ReconcilerOptions, "log" | "metrics">> & Pick<ReconcilerOptions, "log" | "metrics">;

  constructor(o: ReconcilerOptions) {
    this.o = { concurrency: 4, resyncMs: 10_000, busyRequeueMs: 300, errorRequeueMs: 2_000, leaseMs: 15_000, changeDelayMs: 0, now: () => new Date(), publishEndpoints: false, storeIsOwn: false, maxBodyBytes: DEFAULT_BODY_LIMIT_BYTES, ...o };
  }

  start(): void {
    this.stopped = false;
    this.o.driver.onChange((name) => {
      const id = this.byResource.get(name);
      if (id) this.enqueue(id, this.o.changeDelayMs);
    });
    void this.resync();
    this.resyncTimer = setInterval(() => void this.resync(), this.o.resyncMs);
  }

  /** Stops taking work and waits for the passes under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    if (this.phaseCountTimer) clearTimeout(this.phaseCountTimer);
    this.phaseCountTimer = undefined;
    await Promise.allSettled([...this.inflight]);
  }

  enqueue(id: string, delayMs = 0, background = false): void {
    if (this.stopped) return;
    if (!background) this.background.delete(id);
    else if (!this.due.has(id) && !this.running.has(id)) this.background.add(id);
    if (this.running.has(id) && delayMs === 0) {
      this.dirty.add(id);
      return;
    }
    const at = performance.now() + delayMs;
    const cur = this.due.get(id);
    if (cur === undefined || at < cur) this.due.set(id, at);
    this.pump();
  }

  private pump(): void {
    if (this.stopped) return;
    // Due times are on the monotonic clock: a wall clock stepped back an hour held every queued pass an hour.
    const now = performance.now();
    let next = Infinity;
    // Foreground first (a change, a requeue), then what only a resync asked for.
    for (const [id, at] of this.foregroundFirst()) {
      if (this.running.size >= this.o.concurrency) break;
      if (this.running.has(id)) continue;
      if (at > now) {
        next = Math.min(next, at);
        continue;
      }
      // Asked for by a resync alone: the record read at the resync may stand in for a read.
      const resyncOnly = this.background.has(id);
      this.due.delete(id);
      this.background.delete(id);
      this.running.add(id);
      const p = this.pass(id, resyncOnly).finally(() => {
        this.running.delete(id);
        this.inflight.delete(p);
        if (this.dirty.delete(id)) this.enqueue(id);
        this.pump();
      });
      this.inflight.add(p);
    }
    if (this.timer) clearTimeout(this.timer);
    if (next !== Infinity) this.timer = setTimeout(() => this.pump(), Math.max(0, next - performance.now()));
  }

  /** The due deployments, those a resync alone asked for last. */
  private *foregroundFirst(): Generator<[string, number]> {
    for (const e of this.due) if (!this.background.has(e[0])) yield e;
    if (this.background.size > 0) for (const e of this.due) if (this.background.has(e[0])) yield e;
  }

  private async pass(id: string, resyncOnly: boolean): Promise<void> {
    const started = performance.now();
    let result: "ok" | "error" | "skipped" = "ok";
    try {
      if (!(await this.holdLease(id))) {
        result = "skipped";
        this.enqueue(id, this.o.leaseMs / 2);
        return;
      }
      const requeue = await this.reconcile(id, resyncOnly);
      if (requeue !== null) this.enqueue(id, requeue);
    } catch (e) {
      result = "error";
      this.o.log?.child({ deploymentId: id }).error({ error: e instanceof Error ? e.message : String(e) }, "reconcile failed");
      this.enqueue(id, this.o.errorRequeueMs);
    } finally {
      this.o.metrics?.observeReconcile((performance.now() - started) / 1000, result);
    }
  }

  /**
   * Takes or renews the deployment's lease. A lease this process took or renewed less than a
   * third of `leaseMs` ago is its own for two thirds of `leaseMs` more, whatever other
   * processes do (they take only expired leases): the pass goes on without a write. At a
   * thousand deployments starting at once, that write was a good part of each pass.
   */
  private async holdLease(id: string): Promise<boolean> {
    if (this.o.storeIsOwn) return true;
    const held = this.leases.get(id);
    if (held !== undefined && performance.now() - held < this.o.leaseMs / 3) return true;
    const asked = performance.now(); // before the statement: the lease runs from no earlier than this
    this.leases.delete(id);
    if (!(await this.o.store.acquireLease(id, this.o.holder, this.o.leaseMs))) return false;
    this.leases.set(id, asked);
    return true;
  }

  /**
   * One pass for one deployment. Returns when to look again (ms), or null to wait for the resync.
   * `resyncOnly`: only a resync asked for it (see `records`).
   */
  async reconcile(id: string, resyncOnly = false): Promise<number | null> {
    const { driver } = this.o;
    const d = await this.record(id, resyncOnly);
    if (!d || d.deletedAt) {
      this.leases.delete(id);
      this.sealed.delete(id);
      return null;
    }
    this.byResource.set(d.resourceName, id);
    if (d.deletionRequestedAt) {
      await this.remove(d);
      return null;
    }
    const plainParameters = await this.plainParameters(d.bundle);
    if (plainParameters === null) {
      await this.writeStatus(d, computeStatus(d, await driver.observe(d.resourceName), { now: this.nowIso(), versionMissing: true }));
      return null;
    }
    const credentials = this.o.credentials.open(id, await this.sealedCredentials(d));
    const now = this.o.now();
    const common = { identityToken: this.o.tokens.issue(id), gatewaySecret: this.o.gatewaySecret(id), maxBodyBytes: this.o.maxBodyBytes };
    const spec = runtimeSpec({ deployment: { ...d, revision: runsOf(d) }, credentials, plainParameters, bundleUrl: this.o.bundleUrl(id), ...common });
    const others = await this.otherSpecs(d, now, common);
    if (others.length > 0) spec.others = others;
    try {
      await driver.apply(spec);
    } catch (e) {
      // A driver's error may quote what it was given (a client library echoing a field): the
      // values go no further than this pass. The pass fails and is retried after errorRequeueMs.
      const values = [spec, ...others].flatMap((s) => [...Object.values(s.env), s.gatewaySecret, s.identityToken]);
      throw new Error(`the driver could not apply the deployment: ${redactValues(e instanceof Error ? e.message : String(e), values)}`);
    }
    const status = computeStatus(d, await driver.observe(d.resourceName), { now: now.toISOString() });
    await this.publish(d.resourceName, driver.endpoints(d.resourceName));
    // Per live revision too, for the traffic split of gateways in other processes (revisionEndpointsKey).
    await this.publishRevisions(d.resourceName, liveRevisions(d, now).map((l) => l.runs));
    await this.writeStatus(d, status);
    // The warm revision's grace period ends: look again then, to let its replica go.
    const expiry = warmExpiry(d, now);
    const settledNext = expiry === null ? null : Math.max(0, expiry - now.getTime()) + 50;
    return isSettled(status.phase) ? settledNext : this.o.busyRequeueMs;
  }

  /** The deployment's record: the one kept, when a resync alone asked and listed its version; else read (and kept). */
  private async record(id: string, resyncOnly: boolean): Promise<Deployment | null> {
    const kept = this.records.get(id);
    if (resyncOnly && kept !== undefined && kept.version === this.listed.get(id)) return kept.deployment;
    const read = await this.o.store.getVersionedDeployment(id);
    if (!this.o.storeIsOwn || read === null || read.deployment.deletedAt) this.records.delete(id);
    else this.records.set(id, read);
    return read?.deployment ?? null;
  }

  /**
   * The deployment's sealed credentials, read once per generation: the store changes them only
   * with a new generation, in the same transaction (Store.updateDeployment), so bytes read after
   * a record of generation g are g's or newer, and a record of a newer generation reads them
   * again. Sealed bytes only: each pass opens them, so no plaintext outlives a pass.
   */
  private async sealedCredentials(d: Deployment): Promise<Buffer | null> {
    const kept = this.sealed.get(d.id);
    if (kept?.generation === d.generation) return kept.sealed;
    const sealed = await this.o.store.getSealedCredentials(d.id);
    this.sealed.set(d.id, { generation: d.generation, sealed });
    return sealed;
  }

  /**
   * The names of the bundle version's plain parameters, or null when the version is gone
   * (cached: see `versions`).
   */
  private async plainParameters(bundle: Deployment["bundle"]): Promise<readonly string[] | null> {
    const key = `${bundle.name}@${bundle.version}`;
    const seen = this.versions.get(key);
    if (seen && seen.digest === bundle.digest && performance.now() - seen.at < this.o.resyncMs) return seen.plain;
    const version = await this.o.store.getVersion(bundle.name, bundle.version, null);
    if (!version) {
      this.versions.delete(key);
      return null;
    }
    if (this.versions.size > 10_000) this.versions.clear();
    const plain = version.parameters.filter((p) => p.kind === "plain").map((p) => p.name);
    this.versions.set(key, { digest: version.digest, at: performance.now(), plain });
    return plain;
  }

  /**
   * The specs of the live revisions besides the current one (a canary's stable revision, the
   * warm one): each from its revision record and that revision's own sealed credentials, so it
   * runs exactly what it ran. A revision whose record is gone is left out.
   */
  private async otherSpecs(d: Deployment, now: Date, common: { identityToken: string; gatewaySecret: string; maxBodyBytes: number }): Promise<RuntimeSpec[]> {
    const out: RuntimeSpec[] = [];
    for (const pool of extraPools(d, now)) {
      const r = await this.o.store.getRevision(d.id, pool.runs);
      if (!r) continue;
      // Its version gone (the store refuses that while the revision is live, but a warm one's grace
      // may end meanwhile): the pool is kept as it was, without kept-secret names, rather than
      // dropped while the gateway may still send it traffic.
      const plainParameters = (await this.plainParameters(r.bundle)) ?? [];
      const credentials = this.o.credentials.open(d.id, await this.o.store.getRevisionCredentials(d.id, pool.runs));
      out.push(runtimeSpec({
        deployment: {
          ...d, revision: pool.runs, bundle: r.bundle, parameters: r.parameters, runtime: { ...d.runtime, ...replicaRuntime(resolveRuntime(undefined, r.runtime)) },
          resources: { replicas: pool.replicas, cpu: r.resources.cpu, memory: r.resources.memory },
        },
        credentials, plainParameters, bundleUrl: `${this.o.bundleUrl(d.id)}?revision=${pool.runs}`, ...common,
      }));
    }
    return out;
  }

  /** Undeploy, in an order that a crash can interrupt anywhere: runtime, then credentials, then the record. */
  private async remove(d: Deployment): Promise<void> {
    try {
      await this.o.driver.delete(d.resourceName);
    } catch (e) {
      // Say so where the user looks (a hanging finalizer, say); the next pass tries again.
      await this.o.store.appendEvent(d.id, { time: this.nowIso(), type: "Warning", reason: "DeleteStuck", message: e instanceof Error ? e.message : String(e) });
      throw e;
    }
    this.byResource.delete(d.resourceName);
    this.leases.delete(d.id);
    this.sealed.delete(d.id);
    this.records.delete(d.id);
    await this.publish(d.resourceName, []);
    await this.publishRevisions(d.resourceName, []);
    this.published.delete(d.resourceName);
    await this.o.store.deleteCredentials(d.id);
    const now = this.nowIso();
    await this.o.store.updateDeployment(d.id, (cur) => ({
      deployment: { ...cur, deletedAt: now, updatedAt: now, status: { ...cur.status, phase: "Deleting", readyReplicas: 0, observedGeneration: cur.generation } },
      events: [{ time: now, type: "Normal", reason: "Deleted", message: "runtime, routes and credentials removed; the record stays for audit" }],
    }));
  }

  /** Writes a runtime's ready endpoints for other processes' gateways when they changed (or were never written by this process). */
  private async publish(resourceName: string, urls: string[]): Promise<void> {
    if (!this.o.publishEndpoints) return;
    // With each URL's listener: a gateway elsewhere checks its connections against it (gateway/forward.ts).
    const listeners: Record<string, string> = {};
    for (const url of urls) {
      const id = this.o.driver.replicaListener?.(endpointsKeyResource(resourceName), url);
      if (id) listeners[url] = id;
    }
    const key = JSON.stringify([urls, listeners]);
    if (this.published.get(resourceName) === key) return;
    await this.o.store.publishEndpoints(resourceName, urls, listeners);
    this.published.set(resourceName, key);
  }

  /**
   * Publishes the ready endpoints of each live revision (`runs`), and empties the sets of
   * revisions this process published before that are live no longer: a revision live again
   * later (a cold rollback to it) must never be sent to its old replicas' addresses.
   */
  private async publishRevisions(resourceName: string, live: number[]): Promise<void> {
    if (!this.o.publishEndpoints) return;
    const keys = new Set(live.map((runs) => revisionEndpointsKey(resourceName, runs)));
    for (const runs of live) await this.publish(revisionEndpointsKey(resourceName, runs), this.o.driver.endpoints(resourceName, runs));
    for (const [key, urls] of [...this.published]) {
      if (!key.startsWith(`${resourceName}@`) || keys.has(key)) continue;
      if (urls !== JSON.stringify([[], {}])) await this.publish(key, []);
      this.published.delete(key);
    }
  }

  private async writeStatus(d: Deployment, status: DeploymentStatus): Promise<void> {
    if (sameStatus(d.status, status)) return;
    const now = this.nowIso();
    this.records.delete(d.id); // written below: a new row version
    let event: DeploymentEvent | null = null;
    if (d.status.phase !== status.phase) {
      const available = status.conditions.find((c) => c.type === "RuntimeAvailable");
      const warn = status.phase === "Failed" || status.phase === "Degraded";
      event = { time: now, type: warn ? "Warning" : "Normal", reason: available?.reason ?? status.phase, message: `${d.status.phase} -> ${status.phase}: ${available?.message ?? ""}`.trim() };
    }
    // Not written when the record moved on since this pass read it: a newer spec (its own pass
    // writes the status), a flip of the kill switch or a scale (neither is a new generation),
    // perhaps made in another process, a sleep or a wake (scale to zero), or another status
    // write. The store checks it in the same statement.
    const wrote = await this.o.store.writeStatus(d, status, event);
    if (!wrote || event === null) return;
    this.o.log?.child({ deploymentId: d.id }).info({ generation: d.generation, from: d.status.phase, to: status.phase }, "phase changed");
    this.countPhasesSoon();
  }

  /**
   * Recounts the phase gauge within PHASE_COUNT_EVERY_MS, once for all the phase changes made
   * meanwhile: a count per change was a scan of every deployment per change, quadratic when a
   * thousand deployments start at once.
   */
  private countPhasesSoon(): void {
    const metrics = this.o.metrics;
    if (!metrics || this.phaseCountTimer || this.stopped) return;
    this.phaseCountTimer = setTimeout(() => {
      this.phaseCountTimer = undefined;
      this.o.store.countDeploymentsByPhase().then((c) => metrics.setPhaseCounts(c), (e: unknown) => {
        this.o.log?.warn({ error: e instanceof Error ? e.message : String(e) }, "could not count deployments by phase");
      });
    }, PHASE_COUNT_EVERY_MS);
  }

  private async resync(): Promise<void> {
    try {
      // Driver first, database second: see README (a deployment created meanwhile is never an orphan).
      const held = await this.o.driver.list();
      const seq = ++this.listSeq;
      const active = await this.o.store.listActiveDeployments();
      const owned = new Set(active.map((a) => a.resourceName));
      // Resyncs may overlap (a slow one and the next): an older list never replaces a newer one.
      if (seq > this.listedSeq) {
        this.listedSeq = seq;
        this.listed = new Map(active.map((a) => [a.id, a.version]));
        // What is no longer active gets no pass here that would drop what is kept of it.
        for (const id of this.records.keys()) if (!this.listed.has(id)) this.records.delete(id);
        for (const id of this.sealed.keys()) if (!this.listed.has(id)) this.sealed.delete(id);
      }
      for (const name of held) {
        if (!owned.has(name)) {
          this.o.log?.warn({ resourceName: name }, "deleting an orphan runtime");
          // One orphan that cannot be deleted must not stop the sweep, nor the enqueueing below.
          await this.o.driver.delete(name).catch((e: unknown) => this.o.log?.error({ resourceName: name, error: e instanceof Error ? e.message : String(e) }, "could not delete an orphan runtime"));
        }
      }
      // A deployment asleep (scaled to zero, Idle) runs nothing and changes only by a wake or an
      // edit, which enqueue it themselves: a pass over it finds nothing to do, so the resync
      // looks at it only every ASLEEP_RESYNC_EVERY rounds (and at the first). With a fleet mostly
      // asleep this is most of the idle control plane's CPU (`npm run bench -- fleet`).
      const round = this.resyncs++;
      for (const a of active) if (!a.asleep || round % ASLEEP_RESYNC_EVERY === 0) this.enqueue(a.id, 0, true);
      this.o.metrics?.setPhaseCounts(await this.o.store.countDeploymentsByPhase());
    } catch (e) {
      this.o.log?.error({ error: e instanceof Error ? e.message : String(e) }, "resync failed");
    }
  }

  private nowIso(): string {
    return this.o.now().toISOString();
  }
}

/** `text` with every value of `values` (at least 4 characters long) replaced by `***`. */
export function redactValues(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of [...values].sort((a, b) => b.length - a.length)) if (v.length >= 4) out = out.split(v).join("***");
  return out;
}

/** Equal but for condition timestamps (which only move when a status changes). */
function sameStatus(a: DeploymentStatus, b: DeploymentStatus): boolean {
  const strip = (s: DeploymentStatus) => ({ ...s, conditions: s.conditions.map(({ lastTransitionTime: _t, ...c }) => c) });
  return canonicalJson(strip(a)) === canonicalJson(strip(b));
}
