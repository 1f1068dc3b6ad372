import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DEFAULT_BODY_LIMIT_BYTES, parseQuantity, type ObservedFailure, type ObservedRuntime, type ReplicaState, type RuntimeDriver, type RuntimeIsolation, type RuntimeSpec } from "@flowplane/core";
import { freePort, hasMarker, isAlive, lastFailure, probeReady } from "./processes.js";
import { Confinement, type IsolationOptions, type ReplicaIdentity } from "./sandbox.js";
import { readState, writeState, type PersistedReplica } from "./state.js";

export interface LocalDriverOptions {
  /** Folder holding one private folder per deployment (created 0700). */
  root: string;
  /** The runtime command, e.g. [process.execPath, ".../apps/runtime/dist/main.js"]. */
  command: string[];
  /** Environment every replica starts with (PATH, proxy settings...); the spec's values come on top. */
  baseEnv?: Record<string, string>;
  /** How often starting and draining replicas are probed; ready ones every `readyProbeIntervalMs`. */
  probeIntervalMs?: number;
  readyProbeIntervalMs?: number;
  /** Restart back-off: base doubled per restart, capped. */
  backoff?: { baseMs: number; maxMs: number };
  /** A replica not ready after this long is killed and counted as a crash. */
  startTimeoutMs?: number;
  /** How long a draining replica may finish its requests before SIGKILL. */
  shutdownGraceMs?: number;
  /** Restarts after which a replica that never got ready counts as a crash loop. */
  crashLoopRestarts?: number;
  /** How replicas are kept from the control plane's data and each other (sandbox.ts); default: the strongest available. */
  isolation?: IsolationOptions;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

interface Replica extends PersistedReplica {
  state: ReplicaState;
  lastProbeAt?: number;
  child?: ChildProcess;
  lastError?: ObservedFailure;
  nextStartAt?: number;
  drainDeadline?: number;
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
  /** Serialises steps for one deployment: apply, the probe loop and exits all go through it. */
  queue: Promise<void>;
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
  private confinement!: Confinement;
  private readonly markerPrefix: string;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  /** Set by close(): the replicas now belong to the next driver instance, which alone writes their state. */
  private closed = false;
  private seq = 0;
  private readonly listeners: ((resourceName: string) => void)[] = [];

  private constructor(o: LocalDriverOptions) {
    this.o = {
      probeIntervalMs: 100, readyProbeIntervalMs: 1000, backoff: { baseMs: 1000, maxMs: 30_000 }, startTimeoutMs: 120_000, shutdownGraceMs: 15_000, crashLoopRestarts: 3,
      ...o, root: resolve(o.root),
    };
    // The marker names this driver's folder, so two flowplane installs on one machine never adopt each other's replicas.
    this.markerPrefix = `--flowplane-replica=${createHash("sha256").update(this.o.root).digest("hex").slice(0, 12)}/`;
  }

  static async create(o: LocalDriverOptions): Promise<LocalDriver> {
    const d = new LocalDriver(o);
    await mkdir(d.o.root, { recursive: true, mode: 0o700 });
    d.confinement = await Confinement.create({ ...o.isolation, root: d.o.root, command: d.o.command, ...(o.baseEnv?.PATH ? { searchPath: o.baseEnv.PATH } : {}) });
    if (d.confinement.mode === "none") d.o.log?.("replicas are NOT isolated from the control plane's data", { isolation: d.confinement.detail });
    await d.adopt();
    d.timer = setInterval(() => void d.probeAll(), d.o.probeIntervalMs);
    d.timer.unref();
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
        const deadline = Date.now() + this.o.shutdownGraceMs + 5_000;
        while (m.replicas.some((r) => isAlive(r.pid)) && Date.now() < deadline) await sleep(100);
        for (const r of m.replicas) if (isAlive(r.pid)) kill(r.pid, "SIGKILL");
        m.replicas = [];
      });
      this.managed.delete(resourceName);
    }
    await this.confinement.remove(resourceName);
    await rm(join(this.o.root, resourceName), { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    const entries = await readdir(this.o.root, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  }

  onChange(listener: (resourceName: string) => void): void {
    this.listeners.push(listener);
  }

  /** What this driver's replicas get (sandbox, own uid, or nothing), decided at create by trying it. */
  get isolation(): RuntimeIsolation {
    return this.confinement.isolation;
  }

  endpoints(resourceName: string): string[] {
    const m = this.managed.get(resourceName);
    return m ? m.replicas.filter((r) => r.state === "ready").map((r) => `http://127.0.0.1:${r.port}`) : [];
  }

  /** Stops supervising; replicas keep running, for the next driver instance to adopt. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.managed.values()].map((m) => m.queue));
    this.closed = true;
  }

  /** The pids of every replica, for tests and diagnostics. */
  pids(resourceName: string): number[] {
    return this.managed.get(resourceName)?.replicas.map((r) => r.pid) ?? [];
  }

  // ---- the rollout -----------------------------------------------------------------------

  /** One level-triggered step towards the spec; called after apply, after every probe round and on exits. */
  private async step(m: Managed): Promise<void> {
    const spec = m.spec;
    if (!spec) return;
    const gen = spec.generation;
    const desired = spec.resources.replicas;
    const now = Date.now();
    // An old generation's crashed replica is not restarted: the new generation replaces it.
    m.replicas = m.replicas.filter((r) => !(r.state === "crashed" && r.generation !== gen));
    for (const r of m.replicas) {
      if (r.state === "crashed" && (r.nextStartAt ?? 0) <= now) await this.restart(m, r);
    }
    const live = m.replicas.filter((r) => r.state !== "draining");
    const current = live.filter((r) => r.generation === gen);
    const old = live.filter((r) => r.generation !== gen);
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

  private async start(m: Managed, spec: RuntimeSpec, reuse?: Replica): Promise<void> {
    const id = reuse?.id ?? `${Date.now().toString(36)}${(this.seq++).toString(36)}`;
    const port = await freePort();
    const log = await open(join(m.dir, `replica-${id}.log`), "w", 0o600);
    let launched: ReturnType<Confinement["launch"]>;
    try {
      // The replica runs confined (sandbox.ts): its own uid and view, never the data folder.
      launched = this.confinement.launch(m.identity, [...this.o.command, `${this.markerPrefix}${m.resourceName}/${id}`], this.envFor(spec, port), log.fd);
    } finally {
      await log.close();
    }
    const child = launched.child;
    child.unref();
    const r: Replica = reuse ?? { id, pid: 0, port, generation: spec.generation, startedAt: 0, restarts: 0, state: "starting" };
    Object.assign(r, { pid: child.pid ?? 0, port, generation: spec.generation, startedAt: Date.now(), state: "starting" as const, child, drainDeadline: undefined });
    if (!reuse) m.replicas.push(r);
    child.once("exit", (code, signal) => void this.enqueue(m, () => this.exited(m, r, child, code, signal)));
    // Inside bubblewrap the runtime is not the spawned process: signals and liveness go to the runtime itself.
    r.pid = await launched.pid;
    this.o.log?.("replica started", { deployment: m.deploymentId, replica: id, generation: spec.generation, port });
    // Persist before anything else can happen, so a crash right now still knows this pid.
    await this.persist(m);
  }

  private async restart(m: Managed, r: Replica): Promise<void> {
    r.restarts += 1;
    await this.start(m, m.spec!, r);
  }

  private drain(r: Replica): void {
    if (r.state === "draining") return;
    r.state = "draining";
    r.drainDeadline = Date.now() + this.o.shutdownGraceMs;
    kill(r.pid, "SIGTERM");
  }

  private async exited(m: Managed, r: Replica, child: ChildProcess | undefined, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (child && r.child !== child) return; // an exit of a process this replica no longer is (restarted since)
    if (r.state === "draining") {
      m.replicas = m.replicas.filter((x) => x !== r);
    } else {
      const failure = await lastFailure(join(m.dir, `replica-${r.id}.log`));
      r.state = "crashed";
      r.lastError = failure ?? { reason: "CrashLoopBackOff", message: `the runtime exited (${signal ?? `code ${code}`})` };
      r.nextStartAt = Date.now() + Math.min(this.o.backoff.baseMs * 2 ** r.restarts, this.o.backoff.maxMs);
      this.o.log?.("replica exited", { deployment: m.deploymentId, replica: r.id, code, signal, reason: r.lastError.reason });
    }
    await this.step(m);
    await this.persist(m);
    for (const l of this.listeners) l(m.resourceName);
  }

  private failureOf(m: Managed): ObservedFailure | undefined {
    const gen = m.spec?.generation ?? m.appliedGeneration;
    const current = m.replicas.filter((r) => r.generation === gen && r.state !== "draining");
    const crashed = current.filter((r) => r.state === "crashed" && r.lastError);
    if (crashed.length === 0) return undefined;
    const worst = crashed.sort((a, b) => b.restarts - a.restarts)[0]!;
    const decisive = worst.lastError!.reason !== "CrashLoopBackOff" || worst.restarts >= this.o.crashLoopRestarts;
    return decisive ? { reason: worst.lastError!.reason, message: `${worst.lastError!.message} (restarted ${worst.restarts} time(s))` } : undefined;
  }

  // ---- supervision -------------------------------------------------------------------------

  private async probeAll(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      await Promise.all([...this.managed.values()].map((m) => this.enqueue(m, () => this.probe(m))));
    } finally {
      this.probing = false;
    }
  }

  private async probe(m: Managed): Promise<void> {
    const now = Date.now();
    const before = signature(m);
    await Promise.all(m.replicas.map(async (r) => {
      if (r.state === "ready" && now - (r.lastProbeAt ?? 0) < this.o.readyProbeIntervalMs && isAlive(r.pid)) return;
      r.lastProbeAt = now;
      if (r.state === "crashed") return;
      const alive = isAlive(r.pid);
      if (r.state === "draining") {
        if (!alive) m.replicas = m.replicas.filter((x) => x !== r);
        else if (now > (r.drainDeadline ?? now)) kill(r.pid, "SIGKILL");
        return;
      }
      if (!alive) {
        if (!r.child) await this.exited(m, r, undefined, null, null); // adopted: no exit event reaches us
        return;
      }
      if (await probeReady(r.port, 1000)) {
        r.state = "ready";
        r.restarts = r.restarts > 0 && now - r.startedAt > 60_000 ? 0 : r.restarts;
      } else if (r.state === "ready") {
        r.state = "starting";
      } else if (now - r.startedAt > this.o.startTimeoutMs) {
        r.lastError = { reason: "StartTimeout", message: `not ready after ${Math.round(this.o.startTimeoutMs / 1000)} s` };
        kill(r.pid, "SIGKILL");
      }
    }));
    await this.step(m);
    if (signature(m) !== before) for (const l of this.listeners) l(m.resourceName);
  }

  private enqueue(m: Managed, fn: () => Promise<void>): Promise<void> {
    const next = m.queue.then(fn, fn);
    m.queue = next.catch((e: unknown) => this.o.log?.("local driver step failed", { deployment: m.deploymentId, error: String(e) }));
    return next;
  }

  private async ensure(resourceName: string, deploymentId: string): Promise<Managed> {
    let m = this.managed.get(resourceName);
    if (!m) {
      const dir = join(this.o.root, resourceName);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const identity = await this.confinement.prepare(resourceName);
      m = { resourceName, deploymentId, dir, identity, appliedGeneration: 0, replicas: [], queue: Promise.resolve() };
      this.managed.set(resourceName, m);
    }
    return m;
  }

  private async persist(m: Managed): Promise<void> {
    if (this.closed || !this.managed.has(m.resourceName)) return;
    await writeState(m.dir, {
      resourceName: m.resourceName,
      deploymentId: m.deploymentId,
      appliedGeneration: m.appliedGeneration,
      replicas: m.replicas.filter((r) => r.pid > 0 && r.state !== "crashed")
        .map(({ id, pid, port, generation, startedAt, restarts }) => ({ id, pid, port, generation, startedAt, restarts })),
    });
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
      const m: Managed = { resourceName: name, deploymentId: s.deploymentId, dir, identity, appliedGeneration: s.appliedGeneration, replicas: [], queue: Promise.resolve() };
      for (const r of s.replicas) {
        const marker = `${this.markerPrefix}${name}/${r.id}`;
        if (isAlive(r.pid) && (await hasMarker(r.pid, marker))) {
          // Probed now, not at the first probe round: a restarted control plane's gateway serves
          // the replicas from its first request, and the endpoints it publishes never blink empty.
          m.replicas.push({ ...r, state: (await probeReady(r.port, 1000)) ? "ready" : "starting", lastProbeAt: Date.now() });
          known.add(marker);
        }
      }
      this.managed.set(name, m);
      this.o.log?.("adopted replicas", { deployment: m.deploymentId, replicas: m.replicas.length });
    }
    // A replica spawned just before a crash, whose pid never reached state.json, is an orphan.
    for (const [pid, marker] of await pidsWithMarker(this.markerPrefix)) {
      if (!known.has(marker)) kill(pid, "SIGKILL");
    }
  }

  private envFor(spec: RuntimeSpec, port: number): NodeJS.ProcessEnv {
    // The one resource limit a plain process can be held to without cgroups: V8's heap, at 3/4
    // of the memory limit (the rest is code, buffers and the native engine's I/O). CPU is not
    // limited, and an lfx engine's Python process is not covered (see the README).
    const memory = parseQuantity(spec.resources.memory.limit) ?? 0;
    const heapMiB = Math.max(64, Math.floor((memory * 0.75) / 2 ** 20));
    return {
      ...this.o.baseEnv,
      NODE_OPTIONS: `--max-old-space-size=${heapMiB}`,
      ...spec.env,
      FLOWPLANE_BUNDLE_URL: spec.bundleUrl,
      FLOWPLANE_BUNDLE_VERSION: spec.bundle.version,
      FLOWPLANE_BUNDLE_DIGEST: spec.bundle.digest,
      FLOWPLANE_IDENTITY_TOKEN: spec.identityToken,
      FLOWPLANE_RUNTIME_HOST: "127.0.0.1",
      FLOWPLANE_RUNTIME_PORT: String(port),
      FLOWPLANE_ENGINE: spec.engine,
      FLOWPLANE_LOG_LEVEL: spec.logLevel,
      FLOWPLANE_REQUEST_TIMEOUT_MS: String(spec.requestTimeoutSeconds * 1000),
      FLOWPLANE_MAX_BODY_BYTES: String(spec.maxBodyBytes ?? DEFAULT_BODY_LIMIT_BYTES),
      FLOWPLANE_SHUTDOWN_GRACE_MS: String(this.o.shutdownGraceMs),
    };
  }
}

/** What observers care about: which replicas exist, of which generation, in which state. */
const signature = (m: Managed): string => m.replicas.map((r) => `${r.id}:${r.generation}:${r.state}`).join(",");

/** Ready replicas are drained last when scaling down. */
const rank = (r: Replica): number => (r.state === "ready" ? 1 : 0);

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    if (pid > 0) process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
