import type { ChildProcess } from "node:child_process";
import { constants } from "node:fs";
import { createHash } from "node:crypto";
import { access, mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import type { LogRead, Logger, ObservedFailure, ObservedRuntime, ReplicaLogChunk, ReplicaState, ReplicaUsageReading, RuntimeDriver, RuntimeIsolation, RuntimeSpec } from "@flowplane/core";
import { emptyUid, endProcesses, straysOf, treeOf, uidsWithStrays } from "./containment.js";
import { LAST_FAILURE_BYTES, hasMarker, isAlive, isZombie, lastFailure, loopbackListener, probeReady, realUid, type PassedListener } from "./processes.js";
import { loweredOomScore, memoryLimitBytes, overLimit } from "./memory-limit.js";
import { ProcessTableCache, readProcessTableSync, treePids, treeUsage, type ProcessTable } from "./process-usage.js";
import { ReadyProbe } from "./ready-probe.js";
import { LogLocks, keptPath, logPath, openLog, rotateReplicaLog, type LogRotation } from "./log-rotation.js";
import { pruneReplicaLogs, readReplicaLogs } from "./replica-logs.js";
import { envProblem, replicaEnv } from "./replica-env.js";
import { Confinement, DEFAULT_SCRATCH_BYTES, defaultMaxFileBytes, type IsolationOptions, type ReplicaIdentity } from "./sandbox.js";
import { readState, StateFile, type PersistedReplica } from "./state.js";

export interface LocalDriverOptions {
  /** Folder holding one private folder per deployment (created 0700). */
  root: string;
  /** The runtime command, e.g. [process.execPath, ".../apps/runtime/dist/main.js"]. */
  command: string[];
  /**
   * What every replica's environment starts from: PATH and the operator's passthrough list.
   * Never the control plane's whole environment. The runtime's settings and the spec's
   * parameters (reserved names dropped) come on top (see replica-env.ts).
   */
  baseEnv?: Record<string, string>;
  /**
   * How often the driver looks at deployments with something under way (starting, draining or
   * crashed replicas); ready ones are probed every `readyProbeIntervalMs`, and a deployment
   * whose replicas are all ready and not due costs nothing in between (exits arrive as events).
   */
  probeIntervalMs?: number;
  readyProbeIntervalMs?: number;
  /** How long one `/ready` probe may take; longer than the ready interval, so one slow answer under load is not a failure. */
  probeTimeoutMs?: number;
  /** Consecutive failed probes after which a ready replica stops being ready (Kubernetes' failureThreshold). */
  readyFailureThreshold?: number;
  /** Restart back-off: base doubled per restart, capped. */
  backoff?: { baseMs: number; maxMs: number };
  /** A replica not ready after this long is killed and counted as a crash. */
  startTimeoutMs?: number;
  /** How long a draining replica may finish its requests before SIGKILL. */
  shutdownGraceMs?: number;
  /** Restarts after which a replica that never got ready counts as a crash loop. */
  crashLoopRestarts?: number;
  /**
   * How often replicas' memory is held against their deployment's memory limit (memory-limit.ts):
   * a replica whose process tree holds more is killed, as the kubelet's OOM kill would. Only
   * while some replica runs: idle and sleeping deployments cost nothing. In isolation `user` the
   * same timer ends a deployment's processes that left their replicas (containment.ts) while
   * any deployment is managed: one reading of /proc for all of them.
   */
  memoryCheckIntervalMs?: number;
  /**
   * When a running replica's log is rotated (log-rotation.ts), checked on the memory timer. Default:
   * past 16 MiB (or half the replica's file-size limit, if that is lower), keeping its last
   * quarter: the rotation must come before the kernel's limit stops the replica's writes.
   */
  logRotation?: LogRotation;
  /** How replicas are kept from the control plane's data and each other (sandbox.ts); default: the strongest available. */
  isolation?: IsolationOptions;
  /** Where the driver logs; each line about a deployment carries its `deploymentId` (and `replica`). */
  log?: Logger;
  /** Makes each of a replica's two listeners (default: processes.ts loopbackListener); tests make it fail as a busy machine does. */
  listener?: () => Promise<PassedListener>;
}

/**
 * The clock of every duration the driver bounds (probe intervals, the start timeout, restart
 * back-off, drain deadlines, the 60 s that clear a restart count): monotonic, so a step of the
 * machine's wall clock (NTP, a laptop or VM resumed, an operator's `date`) neither stalls nor cuts
 * them. On `Date.now`, stepped back an hour, no ready replica was probed and no crashed one
 * restarted for that hour; stepped forward, every starting replica was killed for its start
 * timeout. `startedAt` stays wall-clock time: it is persisted and read by the next process.
 */
const clock = (): number => performance.now();

interface Replica extends PersistedReplica {
  state: ReplicaState;
  /** When it was spawned or adopted, on `clock` (its restart count is cleared 60 s after, once ready). */
  since: number;
  lastProbeAt?: number;
  /** Consecutive failed probes since the last success. */
  failedProbes: number;
  /** When it last entered `starting` (spawned, adopted, or no longer ready): the start timeout counts from here. */
  waitingSince: number;
  /**
   * Spawned by this driver and not yet ready once: it has served nothing, so stopping it drains
   * nothing (drain() kills it at once). False for an adopted replica: it may have served.
   */
  loading?: boolean;
  child?: ChildProcess;
  lastError?: ObservedFailure;
  nextStartAt?: number;
  drainDeadline?: number;
  /** Its `/ready` connection, kept open between probes; closed when the replica stops being probed. */
  prober?: ReadyProbe;
  /** Why the driver killed it (over its memory limit), reported when its exit arrives instead of a bare exit. */
  killedFor?: ObservedFailure;
  /**
   * Its process is gone (an exit event, or an adopted replica found dead): out of `endpoints()`
   * at once, before the exit is handled in the deployment's queue, for its port is free for
   * anyone to bind from then on.
   */
  gone?: boolean;
}

interface Managed {
  resourceName: string;
  deploymentId: string;
  dir: string;
  /** The uid its replicas run as and their working folder (sandbox.ts). */
  identity: ReplicaIdentity;
  /** The last spec applied in this process (with its values); undefined after an adoption until the next apply. */
  spec?: RuntimeSpec;
  appliedGeneration: number;
  replicas: Replica[];
  /** Serialises steps for one deployment: apply, probe results and exits all go through it. */
  queue: Promise<void>;
  /** True while this deployment's probes are out (they run outside the queue). */
  probing: boolean;
  state: StateFile;
  /** The generation whose dropped parameter names were last reported (once per generation). */
  warnedGeneration?: number;
}

/**
 * Runs each deployment's replicas as `flowplane-runtime` processes on loopback ports.
 * A rolling update is a Kubernetes Deployment's (maxSurge 1, maxUnavailable 0): start one new
 * replica, wait for /ready, drain one old one; ready replicas never drop below the count asked.
 * Replicas are started detached, so they outlive a control-plane crash and are adopted by the
 * next driver instance (recognised by pid and a marker in their command line).
 */
export class LocalDriver implements RuntimeDriver {
  readonly name = "local" as const;
  private readonly managed = new Map<string, Managed>();
  private readonly o: Required<Omit<LocalDriverOptions, "log" | "baseEnv" | "isolation">> & Pick<LocalDriverOptions, "log" | "baseEnv" | "isolation">;
  /** True while a rotation pass is under way: the next tick skips rather than doubles it. */
  private rotating = false;
  /** Reads, rotations and reopenings of each replica's log, one at a time (log-rotation.ts). */
  private readonly logLocks = new LogLocks();
  private confinement!: Confinement;
  private readonly markerPrefix: string;
  private timer: NodeJS.Timeout | undefined;
  private memoryTimer: NodeJS.Timeout | undefined;
  private checkingMemory = false;
  /** Set by close: the replicas' exit events still arrive, but belong to the next driver instance. */
  private closed = false;
  private seq = 0;
  private readonly listeners: ((resourceName: string) => void)[] = [];
  private readonly processes = new ProcessTableCache();
  /**
   * Per loopback port, the last listener this driver made there (or adopted): kept after its
   * replica dies, until the driver makes another on that port, so that a gateway still sending
   * to the dead replica's URL checks against it, and is refused by whatever bound the port since.
   */
  private readonly portListeners = new Map<number, { id: string; resourceName: string }>();

  private constructor(o: LocalDriverOptions) {
    this.o = {
      probeIntervalMs: 100, readyProbeIntervalMs: 1000, probeTimeoutMs: 2000, readyFailureThreshold: 3, backoff: { baseMs: 1000, maxMs: 30_000 }, startTimeoutMs: 120_000, shutdownGraceMs: 15_000, crashLoopRestarts: 3,
      memoryCheckIntervalMs: 5000, listener: loopbackListener,
      logRotation: defaultLogRotation(o.isolation),
      ...o, root: resolve(o.root),
    };
    // The marker names this driver's folder, so two flowplane installs on one machine never adopt each other's replicas.
    this.markerPrefix = `--flowplane-replica=${createHash("sha256").update(this.o.root).digest("hex").slice(0, 12)}/`;
  }

  static async create(o: LocalDriverOptions): Promise<LocalDriver> {
    const d = new LocalDriver(o);
    await mkdir(d.o.root, { recursive: true, mode: 0o700 });
    d.confinement = await Confinement.create({ ...o.isolation, root: d.o.root, command: d.o.command, ...(o.baseEnv?.PATH ? { searchPath: o.baseEnv.PATH } : {}) });
    if (d.confinement.mode === "none") d.o.log?.warn({ isolation: d.confinement.detail }, "replicas are NOT isolated from the control plane's data");
    const pidSpace = d.confinement.pidSpaceWarning();
    if (pidSpace) d.o.log?.warn({ reason: pidSpace }, "the machine's process ids can be exhausted by a few deployments");
    await d.adopt();
    d.timer = setInterval(() => d.probeAll(), d.o.probeIntervalMs);
    d.timer.unref();
    d.memoryTimer = setInterval(() => {
      void d.checkMemory();
      void d.rotateLogs();
    }, d.o.memoryCheckIntervalMs);
    d.memoryTimer.unref();
    return d;
  }

  async apply(spec: RuntimeSpec): Promise<void> {
    const m = await this.ensure(spec.resourceName, spec.deploymentId);
    m.spec = spec;
    m.appliedGeneration = spec.generation;
    await this.enqueue(m, () => this.step(m));
  }

  async observe(resourceName: string): Promise<ObservedRuntime> {
    const m = this.managed.get(resourceName);
    if (!m) return { exists: false, appliedGeneration: 0, replicas: [] };
    const out: ObservedRuntime = {
      exists: true,
      appliedGeneration: m.appliedGeneration,
      isolation: this.confinement.isolationOf(m.identity),
      replicas: m.replicas.map((r) => ({
        id: r.id, generation: r.generation, state: r.state, restarts: r.restarts,
        ...(r.revision !== undefined ? { revision: r.revision } : {}),
        ...(r.lastError ? { lastError: `${r.lastError.reason}: ${r.lastError.message}` } : {}),
      })),
    };
    const failure = this.failureOf(m);
    if (failure) out.failure = failure;
    return out;
  }

  async delete(resourceName: string): Promise<void> {
    const m = this.managed.get(resourceName);
    if (m) {
      await this.enqueue(m, async () => {
        m.spec = undefined;
        for (const r of m.replicas) this.drain(r);
        for (const r of m.replicas) r.prober?.close();
        const deadline = clock() + this.o.shutdownGraceMs + 5_000;
        while (m.replicas.some((r) => isAlive(r.pid)) && clock() < deadline) await sleep(100);
        for (const r of m.replicas) if (isAlive(r.pid)) this.killReplica(r.pid);
        m.replicas = [];
      });
      this.managed.delete(resourceName);
      await m.state.settled();
    }
    await this.confinement.remove(resourceName);
    // Retried: a log rotation under way when the deployment went may still write its kept part there (ENOTEMPTY).
    await rm(join(this.o.root, resourceName), { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }

  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.o.root, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
  }

  onChange(listener: (resourceName: string) => void): void {
    this.listeners.push(listener);
  }

  /** What this driver's replicas get (sandbox, own uid, or nothing), decided at create by trying it. */
  get isolation(): RuntimeIsolation {
    return this.confinement.isolation;
  }

  endpoints(resourceName: string, revision?: number): string[] {
    const m = this.managed.get(resourceName);
    return m ? m.replicas.filter((r) => r.state === "ready" && !r.gone && (revision === undefined || r.revision === revision)).map((r) => `http://127.0.0.1:${r.port}`) : [];
  }

  /**
   * The listener the driver made for `resourceName`'s replica at `endpoint` (one of its
   * `endpoints()`, now or before): the gateway checks each new connection against it (core's
   * loopback-listeners.ts), for a dead replica's port is anyone's before the gateway hears of
   * the death. Kept after the replica is gone (portListeners), until the driver makes another
   * listener on that port; `null` once that one is another deployment's (a stale URL is never
   * sent there, with its calls and its secret). Undefined for a port this driver made no
   * listener on, or one adopted from before listeners were recorded.
   */
  replicaListener(resourceName: string, endpoint: string): string | null | undefined {
    const m = /^http:\/\/127\.0\.0\.1:(\d+)$/.exec(endpoint);
    const made = m ? this.portListeners.get(Number(m[1])) : undefined;
    if (!made) return undefined;
    return made.resourceName === resourceName ? made.id : null;
  }

  /** The replicas' log files in the deployment's folder (replica-logs.ts); the driver need not supervise the deployment. */
  async readLogs(resourceName: string, read: LogRead): Promise<ReplicaLogChunk[]> {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(resourceName)) return [];
    return readReplicaLogs(join(this.o.root, resourceName), read, { locks: this.logLocks });
  }

  /** Each running replica's process tree (bwrap, the runtime, its children), read from /proc (process-usage.ts). */
  async usage(resourceName: string): Promise<ReplicaUsageReading> {
    const live = (this.managed.get(resourceName)?.replicas ?? []).filter((r) => r.pid > 0 && r.state !== "crashed");
    if (live.length === 0) return { available: true, replicas: [] };
    const table = await this.processes.read();
    const replicas = [];
    for (const r of live) {
      const u = treeUsage(table, r.pid);
      if (u) replicas.push({ replica: r.id, ...u });
    }
    return { available: true, replicas };
  }

  /** Stops supervising; replicas keep running, for the next driver instance to adopt. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.memoryTimer) clearInterval(this.memoryTimer);
    for (const m of this.managed.values()) for (const r of m.replicas) r.prober?.close();
    await Promise.all([...this.managed.values()].map(async (m) => { await m.queue; await m.state.settled(); }));
  }

  /** The pids of every replica, for tests and diagnostics. */
  pids(resourceName: string): number[] {
    return this.managed.get(resourceName)?.replicas.map((r) => r.pid) ?? [];
  }

  // ---- the rollout -----------------------------------------------------------------------

  /**
   * One level-triggered step towards the spec; called after apply, after every probe round and on
   * exits. Replicas belong to a pool: the spec's own (its revision, or its generation when it
   * names none) and one per other live revision (`spec.others`, by revision). A pool short of
   * replicas starts some; the spec's own pool rolls (below); a replica of no pool is drained,
   * the ready ones only as the spec's own pool can take over.
   */
  private async step(m: Managed): Promise<void> {
    const spec = m.spec;
    if (!spec) return;
    const desired = spec.resources.replicas;
    const now = clock();
    const others = spec.others ?? [];
    // Another live revision claims up to its count of its replicas (ready ones first); the rest
    // of them are old ones, rolled away as the spec's own pool takes over (maxUnavailable 0).
    const claimed = new Map<Replica, RuntimeSpec>();
    for (const o of others) {
      const mine = m.replicas.filter((r) => !inPool(r, spec) && r.revision !== undefined && r.revision === o.revision && r.state !== "draining")
        .sort((a, b) => rank(b) - rank(a) || a.startedAt - b.startedAt);
      for (const r of mine.slice(0, o.resources.replicas)) claimed.set(r, o);
    }
    const poolOf = (r: Replica): RuntimeSpec | undefined => (inPool(r, spec) ? spec : claimed.get(r));
    // A replica of no pool that crashed is not restarted: what it ran is gone or replaced.
    m.replicas = m.replicas.filter((r) => {
      const stays = !(r.state === "crashed" && !poolOf(r));
      if (!stays) r.prober?.close();
      return stays;
    });
    for (const r of m.replicas) {
      const pool = poolOf(r);
      // None asked for (a deployment disabled with its replicas stopped): a crashed one just goes.
      if (pool && r.state === "crashed" && pool.resources.replicas > 0 && (r.nextStartAt ?? 0) <= now) await this.restart(m, r, pool);
    }
    const live = m.replicas.filter((r) => r.state !== "draining");
    // The other live revisions: each keeps its count, starting what is missing.
    for (const o of others) {
      const mine = live.filter((r) => poolOf(r) === o);
      for (let i = mine.length; i < o.resources.replicas; i++) await this.start(m, o);
    }
    const current = live.filter((r) => poolOf(r) === spec);
    const old = live.filter((r) => !poolOf(r));
    if (old.length === 0) {
      for (let i = current.length; i < desired; i++) await this.start(m, spec);
      const extra = current.length - desired;
      if (extra > 0) {
        const order = [...current].sort((a, b) => rank(a) - rank(b) || b.startedAt - a.startedAt);
        for (const r of order.slice(0, extra)) this.drain(r);
      }
    } else {
      // Old replicas that serve nothing go at once; ready ones only when a new one can take over.
      for (const r of old) if (r.state !== "ready") this.drain(r);
      const oldReady = old.filter((r) => r.state === "ready");
      if (current.length < desired && current.length + oldReady.length < desired + 1) await this.start(m, spec);
      const readyNew = current.filter((r) => r.state === "ready").length;
      const excess = Math.min(oldReady.length, readyNew + oldReady.length - desired);
      const oldest = [...oldReady].sort((a, b) => a.startedAt - b.startedAt);
      for (const r of oldest.slice(0, Math.max(0, excess))) this.drain(r);
    }
    await this.persist(m);
  }

  /** The driver's logger for lines about `m` (and one of its replicas): same field names as the reconciler's and the runtime's. */
  private logOf(m: Managed, replica?: string): Logger | undefined {
    return this.o.log?.child(replica === undefined ? { deploymentId: m.deploymentId } : { deploymentId: m.deploymentId, replica });
  }

  /**
   * Starts one replica. Contained: whatever goes wrong (a value no process environment can
   * hold, E2BIG, a missing runtime binary, a full disk) leaves a crashed replica with a reason
   * that names no value, which `observe` reports as the deployment's failure. Nothing here
   * throws to the caller, so one deployment's bad values never stop the driver.
   */
  private async start(m: Managed, spec: RuntimeSpec, reuse?: Replica): Promise<void> {
    const id = reuse?.id ?? `${Date.now().toString(36)}${(this.seq++).toString(36)}`;
    const r: Replica = reuse ?? { id, pid: 0, port: 0, generation: spec.generation, startedAt: 0, since: 0, restarts: 0, state: "starting", failedProbes: 0, waitingSince: 0 };
    Object.assign(r, { pid: 0, generation: spec.generation, revision: spec.revision, startedAt: Date.now(), since: clock(), waitingSince: clock(), state: "starting" as const, loading: true, child: undefined, drainDeadline: undefined, failedProbes: 0, gone: false });
    // A restart's record still names the last process's listener until this start makes its own.
    delete r.listener;
    if (!reuse) m.replicas.push(r);
    // Its two listeners, made by the driver and inherited (processes.ts loopbackListener): no
    // moment when another process could bind its ports first. Made last, just before the spawn,
    // and the driver's copies closed right after it (they refuse what reaches them meanwhile).
    const sockets: PassedListener[] = [];
    try {
      const [fd, probeFd] = this.confinement.passedFds(2) as [number, number];
      const envFor = (port: number, probePort: number) => replicaEnv(spec, { replica: id, port, probePort, fd, probeFd, baseEnv: this.o.baseEnv ?? {}, shutdownGraceMs: this.o.shutdownGraceMs });
      // Checked before anything is made, with ports of the longest spelling.
      const { env: widest, dropped } = envFor(65535, 65535);
      if (dropped.length > 0 && m.warnedGeneration !== spec.generation) {
        m.warnedGeneration = spec.generation;
        this.logOf(m)?.warn({ names: dropped }, "reserved parameter names dropped: they configure the replica's process, not the flow");
      }
      const problem = envProblem(widest);
      if (problem) throw new StartFailure("InvalidConfiguration", problem);
      // Inside a sandbox a missing runtime is only bwrap's exit code: look before starting.
      const bin = this.o.command[0]!;
      if (isAbsolute(bin)) await access(bin, constants.X_OK).catch(() => { throw new StartFailure("RuntimeNotFound", `the runtime command ${bin} cannot be run`); });
      // Appending: after a rotation truncates the file, the replica's next write lands at its new
      // end (log-rotation.ts); a new output under this id starts without the old one's rotations.
      const log = await openLog(m.dir, id, this.logLocks);
      r.appendLog = true;
      // A new id is a new file: the oldest logs of gone replicas make room (replica-logs.ts says why).
      if (!reuse) await pruneReplicaLogs(m.dir, new Set(m.replicas.map((x) => x.id)));
      try {
        sockets.push(await this.o.listener());
        sockets.push(await this.o.listener());
        const [calls, probes] = sockets as [PassedListener, PassedListener];
        Object.assign(r, { port: calls.port, probePort: probes.port, listener: calls.id });
        this.portListeners.set(calls.port, { id: calls.id, resourceName: m.resourceName });
        const { env } = envFor(calls.port, probes.port);
        // The replica runs confined (sandbox.ts): its own uid and view, never the data folder.
        const launched = this.confinement.launch(m.identity, [...this.o.command, `${this.markerPrefix}${m.resourceName}/${id}`], env, log.fd, sockets.map((s) => s.fd));
        for (const s of sockets.splice(0)) s.close();
        this.supervise(m, r, launched.child);
        // Inside bubblewrap the runtime is not the spawned process: signals and liveness go to the runtime itself.
        r.pid = await launched.pid;
      } finally {
        await log.close();
      }
    } catch (e) {
      await this.startFailed(m, r, startFailure(e));
      return;
    } finally {
      for (const s of sockets) s.close();
    }
    this.logOf(m, id)?.info({ generation: spec.generation, port: r.port }, "replica started");
    // Persist before anything else can happen, so a crash right now still knows this pid.
    await this.persist(m);
  }

  /**
   * Listens to a just-spawned process, synchronously: a spawn that fails late (ENOENT, EACCES)
   * emits "error" on the next tick and no "exit", and an unheard "error" would end this process.
   */
  private supervise(m: Managed, r: Replica, child: ChildProcess): void {
    child.unref();
    Object.assign(r, { pid: child.pid ?? 0, child });
    child.once("error", (err) => this.background(m, () => (r.child === child ? this.startFailed(m, r, startFailure(err)) : Promise.resolve())));
    child.once("exit", (code, signal) => {
      if (r.child === child) this.lost(m, r);
      this.background(m, () => this.exited(m, r, child, code, signal));
    });
  }

  /** A replica that could not be started: crashed, with the reason, and retried after its back-off. */
  private async startFailed(m: Managed, r: Replica, failure: ObservedFailure): Promise<void> {
    Object.assign(r, { state: "crashed" as const, pid: 0, child: undefined, lastError: failure });
    r.nextStartAt = clock() + Math.min(this.o.backoff.baseMs * 2 ** r.restarts, this.o.backoff.maxMs);
    this.logOf(m, r.id)?.warn({ reason: failure.reason, message: failure.message }, "replica could not be started");
    await this.persist(m);
    this.notify(m.resourceName);
  }

  private async restart(m: Managed, r: Replica, pool: RuntimeSpec): Promise<void> {
    r.restarts += 1;
    await this.start(m, pool, r);
  }

  /**
   * Stops a replica: SIGTERM, and SIGKILL once the grace period is over (probed()). A replica
   * still loading (never ready since its spawn) is SIGKILLed at once instead: it has served
   * nothing, so there is nothing to drain, and a SIGTERM could be lost. Inside its sandbox the
   * runtime is pid 1 (sandbox.ts), and the kernel delivers a pid 1 no signal it has no handler
   * for: a SIGTERM sent while Node boots, before the runtime installs its handler, is dropped,
   * and the replica then lived on for the whole grace period, past the server's own exit with
   * FLOWPLANE_STOP_RUNTIMES_ON_EXIT. As pid 1, its SIGKILL also ends everything it started.
   */
  private drain(r: Replica): void {
    if (r.state === "draining") return;
    const loading = r.loading === true && r.state !== "ready";
    r.state = "draining";
    r.prober?.close();
    r.prober = undefined;
    r.drainDeadline = clock() + this.o.shutdownGraceMs;
    if (loading) this.killReplica(r.pid);
    else kill(r.pid, "SIGTERM");
  }

  /**
   * SIGKILL for a replica and everything it started. In the sandbox the kernel does it (the
   * runtime is its pid namespace's pid 1); elsewhere the tree is ended here, or a child in a
   * session of its own (lfx's Python) would outlive its runtime (containment.ts).
   */
  private killReplica(pid: number): void {
    if (this.confinement.mode === "sandbox") kill(pid, "SIGKILL");
    else if (isAlive(pid)) endProcesses(treeOf(pid));
  }

  private async exited(m: Managed, r: Replica, child: ChildProcess | undefined, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (child && r.child !== child) return; // an exit of a process this replica no longer is (restarted since)
    r.prober?.close();
    r.prober = undefined;
    // Under bubblewrap the process that ended may be bwrap itself (killed by someone), while the
    // runtime, pid 1 of its namespace, lives on: orphaned, still on its port with the
    // deployment's credentials, and about to be forgotten. It goes with its replica.
    if (child && r.pid > 0 && r.pid !== child.pid && isAlive(r.pid)) this.killReplica(r.pid);
    if (r.state === "draining") {
      m.replicas = m.replicas.filter((x) => x !== r);
    } else {
      const failure = await replicaFailure(m.dir, r.id);
      r.state = "crashed";
      r.child = undefined;
      // Its pid is free for the machine to give anyone: never signalled again (a stop during the
      // back-off would otherwise kill whatever process, and tree, now holds it).
      r.pid = 0;
      r.lastError = r.killedFor ?? failure ?? { reason: "CrashLoopBackOff", message: `the runtime exited (${signal ?? `code ${code}`})` };
      r.killedFor = undefined;
      r.nextStartAt = clock() + Math.min(this.o.backoff.baseMs * 2 ** r.restarts, this.o.backoff.maxMs);
      this.logOf(m, r.id)?.warn({ code, signal, reason: r.lastError.reason }, "replica exited");
    }
    await this.step(m);
    await this.persist(m);
    this.notify(m.resourceName);
  }

  private failureOf(m: Managed): ObservedFailure | undefined {
    const spec = m.spec;
    const current = m.replicas.filter((r) => (spec ? inPool(r, spec) : r.generation === m.appliedGeneration) && r.state !== "draining");
    const crashed = current.filter((r) => r.state === "crashed" && r.lastError);
    if (crashed.length === 0) return undefined;
    const worst = crashed.sort((a, b) => b.restarts - a.restarts)[0]!;
    // An exit or a memory kill may pass with a restart: only a loop of them is the deployment's failure.
    const decisive = !RESTARTABLE.has(worst.lastError!.reason) || worst.restarts >= this.o.crashLoopRestarts;
    return decisive ? { reason: worst.lastError!.reason, message: `${worst.lastError!.message} (restarted ${worst.restarts} time(s))` } : undefined;
  }

  // ---- supervision -------------------------------------------------------------------------

  /**
   * One reading of /proc for every running replica; each over its deployment's memory limit, or
   * with a process that lowered its OOM score adjustment, is killed (memory-limit.ts).
   */
  private async checkMemory(): Promise<void> {
    if (this.checkingMemory || this.closed) return;
    if (this.confinement.findsStrays && this.managed.size > 0) {
      this.checkingMemory = true;
      try {
        this.endStrays(await this.processes.read());
      } finally {
        this.checkingMemory = false;
      }
    }
    const wantedAdj = this.confinement.oomScoreAdj;
    const watched = [...this.managed.values()].flatMap((m) => {
      return m.replicas.filter((r) => r.pid > 0 && (r.state === "starting" || r.state === "ready")).flatMap((r) => {
        const limit = memoryLimitBytes(m.spec, r);
        return limit === null && wantedAdj === undefined ? [] : [{ m, r, limit }];
      });
    });
    if (watched.length === 0) return;
    this.checkingMemory = true;
    try {
      const table = await this.processes.read();
      for (const { m, r, limit } of watched) {
        let over = limit === null ? null : overLimit(table, r.pid, limit);
        if (!over && wantedAdj !== undefined) over = await loweredOomScore(treePids(table, r.pid), wantedAdj);
        if (!over || r.killedFor || !m.replicas.includes(r)) continue;
        r.killedFor = over;
        this.logOf(m, r.id)?.warn({ reason: over.reason }, `replica killed: ${over.message}`);
        this.killReplica(r.pid);
      }
    } finally {
      this.checkingMemory = false;
    }
  }

  /**
   * Rotates the logs of running replicas that grew past `logRotation.atBytes` (log-rotation.ts).
   * Only those this driver version started (`appendLog`): a replica started before writes without
   * O_APPEND, and truncating its file would leave a hole as long as what it wrote before.
   */
  private async rotateLogs(): Promise<void> {
    if (this.rotating || this.closed) return;
    this.rotating = true;
    try {
      for (const m of this.managed.values()) {
        for (const r of m.replicas) {
          // Not for a deployment deleted or a replica gone since the pass began.
          if (!r.appendLog || r.pid <= 0 || this.managed.get(m.resourceName) !== m || !m.replicas.includes(r)) continue;
          await rotateReplicaLog(m.dir, r.id, this.o.logRotation, this.logLocks).catch((e: unknown) =>
            this.logOf(m, r.id)?.warn({ error: describeError(e) }, "the replica's log could not be rotated"));
        }
      }
    } finally {
      this.rotating = false;
    }
  }

  /**
   * In `user` mode, a deployment's processes (its uid) in none of its replicas' trees left them
   * (a double fork, or lfx's Python outliving a runtime that crashed): ended, as the sandbox's pid
   * namespace would have ended them with their replica (containment.ts). `table` may be a second
   * old: it only tells whether to look; the look itself reads /proc again.
   */
  private endStrays(table: ProcessTable): void {
    const owners = new Map([...this.managed.values()].map((m) => [m.identity.uid, m.replicas.map((r) => r.pid).filter((pid) => pid > 0)]));
    if (uidsWithStrays(table, owners).size === 0) return;
    // Every deployment's strays in one selection, in at most three readings of /proc: the loop
    // is held a few readings per check, however many deployments have strays.
    const uidOf = new Map<number, number>();
    const killed = endProcesses((t) => {
      const pids = [...straysOf(owners)(t)];
      for (const pid of pids) uidOf.set(pid, t.get(pid)!.uid);
      return pids;
    }, { maxRounds: 3 });
    for (const m of this.managed.values()) {
      const ended = [...killed].filter((pid) => uidOf.get(pid) === m.identity.uid).length;
      if (ended > 0) this.logOf(m)?.warn({ processes: ended }, "ended processes that left their replica (a double fork, or a child outliving its runtime)");
    }
    // What is still there outran the readings (a process forking and exiting in a loop): its
    // whole uid is emptied at once by the kernel, replicas included (they restart as after a
    // crash). The processes just killed are left out: a moment after SIGKILL they may still show.
    const after = readProcessTableSync();
    for (const pid of killed) after.delete(pid);
    for (const uid of uidsWithStrays(after, owners)) {
      const m = [...this.managed.values()].find((x) => x.identity.uid === uid);
      if (!m) continue;
      this.logOf(m)?.warn("processes kept leaving the deployment's replicas: every process of the deployment ended");
      emptyUid(uid).catch((e: unknown) => this.logOf(m)?.error({ err: describeError(e) }, "the deployment's processes could not be ended"));
    }
  }

  /**
   * Probes every deployment whose previous round is over. The HTTP probes run outside the
   * deployment's queue, so a slow `/ready` holds up neither `apply` nor another deployment;
   * only their results go through the queue.
   */
  private probeAll(): void {
    const now = clock();
    for (const m of this.managed.values()) {
      // An adopted replica has no exit event: its process is looked for at every tick (a signal
      // 0, no probe), so that its port, free once it is gone, leaves endpoints() at once. (One
      // that is a zombie its new parent has not reaped yet is found at its next probe: running().)
      for (const r of m.replicas) if (!r.child && r.pid > 0 && !r.gone && r.state === "ready" && !isAlive(r.pid)) this.lost(m, r);
      if (m.probing || !this.hasWork(m, now)) continue;
      m.probing = true;
      void this.probe(m).finally(() => { m.probing = false; });
    }
  }

  /**
   * Whether a deployment has anything to do this tick: a replica not ready (starting, draining,
   * crashed: start timeouts, drain deadlines, restarts are checked here) or a ready one due for
   * its probe. Ready replicas in between cost nothing: a replica's exit arrives as an event, and
   * an adopted one (no exit event) is found dead at its next probe round.
   */
  private hasWork(m: Managed, now: number): boolean {
    return m.replicas.some((r) => r.state !== "ready" || r.gone || now - (r.lastProbeAt ?? 0) >= this.o.readyProbeIntervalMs);
  }

  /** A replica whose process is gone: out of the endpoints now, its exit handled by the queue. */
  /** Tells every onChange listener; one that throws is logged and keeps neither the others nor the caller (an exit's handling) from going on. */
  private notify(resourceName: string): void {
    for (const l of this.listeners) {
      try {
        l(resourceName);
      } catch (e) {
        this.o.log?.error({ error: e instanceof Error ? e.message : String(e) }, "an onChange listener failed");
      }
    }
  }

  private lost(m: Managed, r: Replica): void {
    r.gone = true;
    if (r.state === "ready") this.notify(m.resourceName);
  }

  /**
   * Whether the replica's process still runs. A spawned one's end arrives as an exit event; an
   * adopted one's parent is another process (init, after a restart), which may leave it a zombie
   * for a while: its sockets are closed, and its port free, while `kill(pid, 0)` still succeeds.
   */
  private running(r: Replica): boolean {
    return isAlive(r.pid) && (r.child !== undefined || !isZombie(r.pid));
  }

  /** The replica's kept-alive probe connection, opened on first use and again when its port changed (a restart). */
  private proberOf(r: Replica): ReadyProbe {
    const port = r.probePort ?? r.port;
    if (r.prober?.port !== port) {
      r.prober?.close();
      r.prober = new ReadyProbe(port);
    }
    return r.prober;
  }

  private async probe(m: Managed): Promise<void> {
    const now = clock();
    const due = m.replicas.filter((r) => (r.state === "starting" || (r.state === "ready" && now - (r.lastProbeAt ?? 0) >= this.o.readyProbeIntervalMs)) && this.running(r));
    const results = new Map<Replica, { pid: number; ok: boolean }>();
    await Promise.all(due.map(async (r) => {
      const pid = r.pid;
      results.set(r, { pid, ok: await this.proberOf(r).check(this.o.probeTimeoutMs) });
    }));
    await this.enqueue(m, () => this.probed(m, results, now)).catch(() => undefined);
  }

  /** Applies one round of probe results, then takes a rollout step. */
  private async probed(m: Managed, results: Map<Replica, { pid: number; ok: boolean }>, probedAt: number): Promise<void> {
    const before = signature(m);
    for (const r of [...m.replicas]) {
      if (!m.replicas.includes(r) || r.state === "crashed") continue;
      const now = clock();
      const alive = this.running(r);
      if (r.state === "draining") {
        if (!alive) m.replicas = m.replicas.filter((x) => x !== r);
        else if (now > (r.drainDeadline ?? now)) this.killReplica(r.pid);
        continue;
      }
      if (!alive) {
        if (!r.child) await this.exited(m, r, undefined, null, null); // adopted: no exit event reaches us
        continue;
      }
      const result = results.get(r);
      if (result && result.pid === r.pid) {
        r.lastProbeAt = probedAt;
        if (result.ok) {
          r.failedProbes = 0;
          r.state = "ready";
          r.loading = false;
          r.restarts = r.restarts > 0 && now - r.since > 60_000 ? 0 : r.restarts;
        } else {
          r.failedProbes += 1;
          // One slow answer under load is not a failure: only `readyFailureThreshold` in a row are.
          if (r.state === "ready" && r.failedProbes >= this.o.readyFailureThreshold) {
            r.state = "starting";
            r.waitingSince = now;
            this.logOf(m, r.id)?.warn({ failedProbes: r.failedProbes }, "replica not ready");
          }
        }
      }
      if (r.state === "starting" && now - r.waitingSince > this.o.startTimeoutMs) {
        // As killedFor, so the exit this kill causes reports it (not "the runtime exited (SIGKILL)").
        r.killedFor = { reason: "StartTimeout", message: `not ready after ${Math.round(this.o.startTimeoutMs / 1000)} s` };
        r.lastError = r.killedFor;
        this.killReplica(r.pid);
      }
    }
    // A round that found the deployment as asked and unchanged has no step to take (the common,
    // idle case: a step would rebuild and compare the state file for nothing).
    if (signature(m) === before && settled(m)) return;
    await this.step(m);
    if (signature(m) !== before) this.notify(m.resourceName);
  }

  private enqueue(m: Managed, fn: () => Promise<void>): Promise<void> {
    const next = m.queue.then(fn, fn);
    m.queue = next.catch((e: unknown) => this.logOf(m)?.error({ error: describeError(e) }, "local driver step failed"));
    return next;
  }

  /** A step nobody awaits (process events): its failure is logged by the queue, never left unhandled. */
  private background(m: Managed, fn: () => Promise<void>): void {
    if (this.closed) return;
    this.enqueue(m, fn).catch(() => undefined);
  }

  private async ensure(resourceName: string, deploymentId: string): Promise<Managed> {
    let m = this.managed.get(resourceName);
    if (!m) {
      const dir = join(this.o.root, resourceName);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const identity = await this.confinement.prepare(resourceName);
      m = { resourceName, deploymentId, dir, identity, appliedGeneration: 0, replicas: [], queue: Promise.resolve(), probing: false, state: new StateFile(dir) };
      this.managed.set(resourceName, m);
    }
    return m;
  }

  /** Writes state.json; a failed write (full disk...) is logged and retried at the next step, never thrown. */
  private async persist(m: Managed): Promise<void> {
    if (this.closed || this.managed.get(m.resourceName) !== m) return;
    await m.state.write({
      resourceName: m.resourceName,
      deploymentId: m.deploymentId,
      appliedGeneration: m.appliedGeneration,
      replicas: m.replicas.filter((r) => r.pid > 0 && r.state !== "crashed")
        .map(({ id, pid, port, probePort, listener, generation, revision, startedAt, restarts, appendLog }) => ({ id, pid, port, ...(probePort ? { probePort } : {}), ...(listener ? { listener } : {}), generation, ...(revision ? { revision } : {}), startedAt, restarts, ...(appendLog ? { appendLog } : {}) })),
    }).catch((e: unknown) => this.logOf(m)?.error({ error: describeError(e) }, "could not write the deployment's state file"));
  }

  /** Takes over the replicas a previous driver instance left running; kills strays it cannot account for. */
  private async adopt(): Promise<void> {
    // By marker, not pid: a sandboxed replica is two processes (bwrap and the runtime) with the same one.
    const known = new Set<string>();
    for (const name of await this.list()) {
      const dir = join(this.o.root, name);
      const s = await readState(dir);
      if (!s) continue;
      const identity = await this.confinement.prepare(name);
      const m: Managed = { resourceName: name, deploymentId: s.deploymentId, dir, identity, appliedGeneration: s.appliedGeneration, replicas: [], queue: Promise.resolve(), probing: false, state: new StateFile(dir) };
      for (const r of s.replicas) {
        const marker = `${this.markerPrefix}${name}/${r.id}`;
        // Its pid, its marker, and (with a uid per deployment) its deployment's uid: a marker is
        // only argv, which a process of another deployment could copy, and a pid can come back.
        if (isAlive(r.pid) && !isZombie(r.pid) && (await hasMarker(r.pid, marker)) && this.confinement.mayRunAs(identity, await realUid(r.pid))) {
          // Probed now, not at the first probe round: a restarted control plane's gateway serves
          // the replicas from its first request, and the endpoints it publishes never blink empty.
          const ready = await probeReady(r.probePort ?? r.port, this.o.probeTimeoutMs);
          if (r.listener) this.portListeners.set(r.port, { id: r.listener, resourceName: m.resourceName });
          m.replicas.push({ ...r, since: clock(), state: ready ? "ready" : "starting", failedProbes: 0, waitingSince: clock(), lastProbeAt: clock() });
          known.add(marker);
        }
      }
      this.managed.set(name, m);
      this.logOf(m)?.info({ replicas: m.replicas.length }, "adopted replicas");
    }
    // A replica spawned just before a crash, whose pid never reached state.json, is an orphan.
    for (const [pid, marker] of await pidsWithMarker(this.markerPrefix)) {
      if (!known.has(marker)) this.killReplica(pid);
    }
  }
}

/** What observers care about: which replicas exist, of which generation, in which state. */
const signature = (m: Managed): string => m.replicas.map((r) => `${r.id}:${r.generation}:${r.state}`).join(",");

/** Every replica ready and of a pool, each pool as many as asked: nothing for a step to do. */
function settled(m: Managed): boolean {
  const spec = m.spec;
  if (!spec) return true;
  const pools = [spec, ...(spec.others ?? [])];
  // restarts: a count reset after a minute of health is persisted by the step that follows.
  return m.replicas.every((r) => r.state === "ready" && r.restarts === 0)
    && pools.every((p) => m.replicas.filter((r) => (p === spec ? inPool(r, spec) : r.revision === p.revision)).length === p.resources.replicas)
    && m.replicas.length === pools.reduce((n, p) => n + p.resources.replicas, 0);
}

/**
 * Whether a replica is of the spec's own pool: started for its revision when the spec names one
 * (a rollback's spec names the restored revision, so that revision's warm replicas serve it
 * without a restart), else for its generation.
 */
function inPool(r: Replica, spec: RuntimeSpec): boolean {
  return spec.revision !== undefined && r.revision !== undefined ? r.revision === spec.revision : r.generation === spec.generation;
}

/** Ready replicas are drained last when scaling down. */
const rank = (r: Replica): number => (r.state === "ready" ? 1 : 0);

/** Failures a restart may cure (the rest are decisive at once: a bad bundle stays bad). */
const RESTARTABLE = new Set(["CrashLoopBackOff", "OOMKilled", "OOMScoreLowered", "StartTimeout", "ResourcesExhausted"]);

/**
 * Start errors that say the machine was short of something at that moment, not that this
 * deployment is wrong: another deployment's replicas may be holding it. They are restarted with
 * back-off like a crash, and fail the deployment only after as many restarts as a crash loop.
 */
const EXHAUSTED: Record<string, string> = {
  EMFILE: "open files (the control plane's limit)",
  ENFILE: "open files (the machine's limit)",
  EAGAIN: "processes",
  ENOMEM: "memory",
  EADDRINUSE: "loopback ports",
  EADDRNOTAVAIL: "loopback ports",
  ENOBUFS: "socket buffers",
  ENOSPC: "disk space",
  EDQUOT: "disk quota",
};

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    if (pid > 0) process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A start that failed for a reason we can name (the message names variables, never values). */
class StartFailure extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

/**
 * Why a spawn failed, in words that carry no value: Node's own spawn errors echo the
 * offending value (ERR_INVALID_ARG_VALUE), so only our own messages and error codes are kept.
 */
function startFailure(e: unknown): ObservedFailure {
  if (e instanceof StartFailure) return { reason: e.reason, message: e.message };
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === "E2BIG") return { reason: "InvalidConfiguration", message: "the parameters are too large, together, for a process environment (E2BIG)" };
  if (code === "ENOENT" || code === "EACCES") return { reason: "RuntimeNotFound", message: `the runtime command cannot be run (${code})` };
  const short = code ? EXHAUSTED[code] : undefined;
  if (short) return { reason: "ResourcesExhausted", message: `the replica could not be started: the machine ran short of ${short} (${code}); it is tried again` };
  return { reason: "StartFailed", message: `the replica could not be started (${code ?? "unknown error"})` };
}

/** An error for a log line: system errors keep their message (paths, no values); Node's argument errors, which quote values, only their code. */
function describeError(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  if (err && typeof err.syscall === "string") return err.message;
  if (err instanceof StartFailure) return err.message;
  return err?.code ?? err?.name ?? "unknown error";
}

/** Every process whose command line carries a marker with this prefix, with that marker. */
async function pidsWithMarker(prefix: string): Promise<[number, string][]> {
  const out: [number, string][] = [];
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = await readFile(`/proc/${e}/cmdline`, "utf8");
      const marker = cmd.split("\0").find((a) => a.startsWith(prefix));
      if (marker) out.push([Number(e), marker]);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** LocalDriverOptions.logRotation's default: below the replica's file-size limit, whatever the isolation options make it. */
function defaultLogRotation(isolation: IsolationOptions | undefined): LogRotation {
  const limit = isolation?.maxFileBytes ?? defaultMaxFileBytes(isolation?.scratchBytes ?? DEFAULT_SCRATCH_BYTES);
  const atBytes = Math.min(16 * 1024 * 1024, Math.floor(limit / 2));
  return { atBytes, keepBytes: Math.floor(atBytes / 4) };
}

/**
 * Why a replica stopped, from the last error line among its log's last 16 KiB (processes.ts
 * lastFailure); when a rotation moved most of those into the kept part (a live file shorter than
 * that), from the kept part too: a fatal line written just before a rotation is still the reason.
 */
async function replicaFailure(dir: string, id: string): Promise<ObservedFailure | null> {
  const live = logPath(dir, id);
  const found = await lastFailure(live);
  if (found) return found;
  const size = (await stat(live).catch(() => null))?.size ?? 0;
  return size < LAST_FAILURE_BYTES ? lastFailure(keptPath(dir, id)) : null;
}
