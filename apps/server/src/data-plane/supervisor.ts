import { rmSync } from "node:fs";
import cluster, { type Worker } from "node:cluster";
import type { Server } from "node:http";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import type { Logger, NewRun } from "@flowplane/core";
import type { GatewaySources, Listener } from "../gateway/index.js";
import type { LimitedRoute, Refusal, Ticket } from "../gateway/rate-limit.js";
import { adoptConnection } from "./connections.js";
import { waitUntilBindable } from "./port-free.js";
import { workerExecArgv } from "./worker-options.js";
import { SETTINGS_ENV, toWire, type FromWorker, type ReadySet, type ToWorker, type WorkerSettings } from "./protocol.js";

export interface DataPlaneOptions {
  /** How many worker processes (at least 1). */
  workers: number;
  settings: WorkerSettings;
  /** The control plane's own view: the store, the identity service, the driver's ready sets, the secret key. */
  sources: GatewaySources;
  /** Where a connection a worker hands over is served (the API's server for `public`; the private listener's). */
  servers: Record<Listener, Server>;
  log: Logger;
  /** Scale to zero (idle/idle-controller.ts): the workers' batched activity and their wake-ups. */
  idle?: { report(deploymentId: string, started: number, ended: number): void; wake(deploymentId: string, timeoutMs: number): Promise<void> };
  /** The run history's recorder: the workers' runs arrive in batches. */
  runs?: { add(runs: NewRun[]): void };
  /** How often ready sets are compared and changes pushed (ms; default 100). */
  pushIntervalMs?: number;
}

/** How long a worker may take to admit a call the control plane serves (`admit`) before the control plane's own limiter decides. */
const ADMIT_TIMEOUT_MS = 2_000;
/** How long the ports may stay held at start before the start fails (EADDRINUSE). */
const BIND_WAIT_MS = 10_000;
/** A worker that crashes is started again after this delay, doubled on each crash in a row (to 5 s). */
const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 5_000;
/** A worker that ran this long before crashing is not in a crash loop: its next restart is quick again. */
const STABLE_MS = 10_000;

/**
 * The control plane's side of the data plane: forks the gateway workers (node:cluster, each
 * accepting on the listening sockets the control plane bound: SCHED_NONE, so the kernel spreads
 * connections and no connection passes through this event loop), answers their lookups,
 * pushes ready-set changes and route invalidations, adopts the connections they hand over,
 * collects their metrics, and restarts a worker that dies. See docs/gateway.md.
 */
export class DataPlane {
  private readonly workers = new Set<Worker>();
  /**
   * Resources some worker asked a route of, each with the live revisions (`runs`) its last route
   * answer named: their ready sets (the deployment's, each revision's) are pushed when they
   * change; the value is what was last pushed, by `watchKey`.
   */
  private readonly watched = new Map<string, { runs: number[]; last: Map<string, string> }>();
  private readonly pendingMetrics = new Map<number, (m: unknown[]) => void>();
  private readonly pendingFlushes = new Map<number, () => void>();
  private readonly pendingAdmits = new Map<number, (m: Extract<FromWorker, { t: "admitted" }>) => void>();
  /** The resource of every deployment a route answer named (a wake-up answers with its ready set). */
  private readonly resources = new Map<string, string>();
  /** Per worker, requests started and not yet ended per deployment: released if the worker dies. */
  private readonly inFlight = new Map<Worker, Map<string, number>>();
  private nextId = 1;
  private stopping = false;
  private restartDelay = RESTART_BASE_MS;
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly o: DataPlaneOptions) {
    this.timer = setInterval(() => this.pushReadySets(), o.pushIntervalMs ?? 100);
    this.timer.unref();
  }

  /** Forks the workers; resolves once every one of them is listening. */
  static async start(o: DataPlaneOptions): Promise<DataPlane> {
    // Workers accept on the shared sockets themselves (the default, round-robin, would accept every connection here).
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: fileURLToPath(new URL("./worker.js", import.meta.url)), args: [], execArgv: workerExecArgv(process.execArgv), silent: false });
    // The ports may still be held for a moment by the workers of a control plane killed just
    // before; every worker then listens exactly once (port-free.ts says why not a retry there).
    const { behindProxy } = o.settings;
    // A socket file left by a control plane that died: this process holds the data folder's lock
    // (data-lock.ts), so no other flowplane listens there.
    if (behindProxy) rmSync(behindProxy.path, { force: true });
    for (const [listener, port] of Object.entries(o.settings.ports)) if (!(behindProxy && listener === "public")) await waitUntilBindable(o.settings.host, port, BIND_WAIT_MS);
    const dp = new DataPlane(o);
    try {
      await Promise.all(Array.from({ length: o.workers }, () => dp.fork()));
    } catch (e) {
      await dp.close();
      throw e;
    }
    return dp;
  }

  /** The workers' process ids (for tests and the banner). */
  pids(): number[] {
    return [...this.workers].map((w) => w.process.pid!).filter(Boolean);
  }

  /** A deployment changed: every worker drops its cached routes now rather than within 1 s. */
  forgetRoutes(): void {
    this.broadcast({ t: "forget-routes" });
  }

  /** Every worker's metrics registry as prom-client JSON (a worker that does not answer within 2 s is left out). */
  async metrics(): Promise<unknown[][]> {
    const asks = [...this.workers].filter((w) => w.isConnected()).map((w) => new Promise<unknown[]>((resolve) => {
      const id = this.nextId++;
      const timer = setTimeout(() => { this.pendingMetrics.delete(id); resolve([]); }, 2_000);
      this.pendingMetrics.set(id, (m) => { clearTimeout(timer); resolve(m); });
      w.send({ t: "metrics", id } satisfies ToWorker);
    }));
    return Promise.all(asks);
  }

  /**
   * Admits a gateway call this process serves itself (a gateway path on a connection a worker
   * handed over) to a limited deployment with a worker's limiter: every gateway process then
   * holds a worker's share. When this process held a share of its own (1/N beside the workers'
   * N of them), a caller who sent an API request first on each connection met that share too:
   * with one worker, twice the deployment's limit. Always the same worker (the first alive), so
   * a deployment's and a key's counters are in one place; null without one, and null from the
   * promise when it does not answer in time (`RateLimiter`'s own counters decide then).
   */
  admit(route: LimitedRoute, keyHash: string): Promise<Ticket | Refusal | null> | null {
    const w = [...this.workers].find((x) => x.isConnected());
    if (!w) return null;
    return new Promise((resolve) => {
      const id = this.nextId++;
      const timer = setTimeout(() => { this.pendingAdmits.delete(id); resolve(null); }, ADMIT_TIMEOUT_MS);
      this.pendingAdmits.set(id, (m) => {
        clearTimeout(timer);
        if (m.refusal) return resolve({ ok: false, reason: m.refusal.reason, message: m.refusal.message, headers: m.headers });
        let released = false;
        resolve({
          ok: true, headers: m.headers,
          release: () => {
            if (released) return;
            released = true;
            if (w.isConnected()) w.send({ t: "release", ticket: m.ticket! } satisfies ToWorker);
          },
        });
      });
      w.send({ t: "admit", id, route: { deploymentId: route.deploymentId, ...(route.limits ? { limits: route.limits } : {}) }, keyHash } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    // What the workers hold (runs, activity) first: IPC keeps the order, so `flushed` comes after it (1 s at most).
    await Promise.all([...this.workers].filter((w) => w.isConnected()).map((w) => new Promise<void>((resolve) => {
      const id = this.nextId++;
      const timer = setTimeout(() => { this.pendingFlushes.delete(id); resolve(); }, 1_000);
      this.pendingFlushes.set(id, () => { clearTimeout(timer); resolve(); });
      w.send({ t: "flush", id } satisfies ToWorker);
    })));
    await Promise.all([...this.workers].map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) return resolve();
      w.once("exit", () => resolve());
      // Closing its channel ends a worker (worker.ts); one that does not end within 2 s is killed.
      const timer = setTimeout(() => w.process.kill("SIGKILL"), 2_000);
      timer.unref();
      w.once("exit", () => clearTimeout(timer));
      w.disconnect();
    })));
  }

  private fork(): Promise<void> {
    const started = performance.now();
    const w = cluster.fork({ [SETTINGS_ENV]: JSON.stringify(this.o.settings) });
    this.workers.add(w);
    w.on("message", (m: FromWorker, handle?: Socket) => this.receive(w, m, handle));
    w.on("error", (err) => this.o.log.warn({ err, worker: w.process.pid }, "data plane: worker channel error"));
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      w.on("message", (m: FromWorker) => { if (m.t === "listening") { listening = true; resolve(); } });
      w.once("exit", (code, signal) => {
        this.workers.delete(w);
        // Its requests in flight ended with it: scale to zero must not count them for ever.
        for (const [deploymentId, n] of this.inFlight.get(w) ?? []) if (n > 0) this.o.idle?.report(deploymentId, 0, n);
        this.inFlight.delete(w);
        if (!listening) reject(new Error(`data-plane worker ${w.process.pid} exited before listening (code ${code}, signal ${signal})`));
        if (this.stopping) return;
        this.restartDelay = performance.now() - started > STABLE_MS ? RESTART_BASE_MS : Math.min(this.restartDelay * 2, RESTART_MAX_MS);
        this.o.log.error({ worker: w.process.pid, code, signal, restartInMs: this.restartDelay }, "data plane: a gateway worker exited; starting another");
        setTimeout(() => {
          if (!this.stopping) this.fork().catch((err: unknown) => this.o.log.error({ err }, "data plane: a restarted worker failed to listen"));
        }, this.restartDelay).unref();
      });
    });
  }

  private receive(w: Worker, m: FromWorker, handle: Socket | undefined): void {
    const reply = (r: ToWorker) => { if (w.isConnected()) w.send(r); };
    const { sources, log } = this.o;
    switch (m.t) {
      case "authenticate":
        sources.authenticate(m.key).then(
          (p) => reply({ t: "authenticate", id: m.id, principal: p ? toWire(p) : null }),
          (err: unknown) => { log.error({ err }, "data plane: key lookup failed"); reply({ t: "authenticate", id: m.id, principal: null, error: true }); },
        );
        return;
      case "route":
        sources.resolveRoute(m.routeId).then(
          (route) => {
            if (!route) return reply({ t: "route", id: m.id, route: null, ready: [], secret: null });
            const ready = this.watch(route.resourceName, [...new Set((route.live ?? []).map((l) => l.runs))]);
            this.resources.set(route.deploymentId, route.resourceName);
            reply({ t: "route", id: m.id, route, ready, secret: sources.gatewaySecret(route.deploymentId) });
          },
          (err: unknown) => { log.error({ err }, "data plane: route lookup failed"); reply({ t: "route", id: m.id, route: null, ready: [], secret: null, error: true }); },
        );
        return;
      case "handoff":
        // Counted by the server it joins (serve.ts caps every connection of its servers), by its client.
        if (handle) adoptConnection(this.o.servers[m.listener], handle, Buffer.from(m.head, "base64"), m.client);
        return;
      case "metrics":
        this.pendingMetrics.get(m.id)?.(m.metrics);
        this.pendingMetrics.delete(m.id);
        return;
      case "activity": {
        if (!this.o.idle) return;
        let mine = this.inFlight.get(w);
        if (!mine) this.inFlight.set(w, (mine = new Map()));
        for (const [deploymentId, started, ended] of m.items) {
          this.o.idle.report(deploymentId, started, ended);
          const n = (mine.get(deploymentId) ?? 0) + started - ended;
          if (n > 0) mine.set(deploymentId, n);
          else mine.delete(deploymentId);
        }
        return;
      }
      case "wake": {
        const answer = () => {
          const resourceName = this.resources.get(m.deploymentId);
          reply({ t: "wake", id: m.id, ready: resourceName ? this.readySets(resourceName, this.watched.get(resourceName)?.runs ?? []) : [] });
        };
        if (!this.o.idle) return answer();
        this.o.idle.wake(m.deploymentId, m.timeoutMs).then(answer, (err: unknown) => {
          log.error({ err, deploymentId: m.deploymentId }, "data plane: wake-up failed");
          answer();
        });
        return;
      }
      case "runs":
        this.o.runs?.add(m.runs);
        return;
      case "flushed":
        this.pendingFlushes.get(m.id)?.();
        this.pendingFlushes.delete(m.id);
        return;
      case "admitted": {
        const pending = this.pendingAdmits.get(m.id);
        this.pendingAdmits.delete(m.id);
        if (pending) pending(m);
        // Answered after its deadline (the call went on without it): the slots it took go back at once.
        else if (m.ticket !== undefined) w.send({ t: "release", ticket: m.ticket } satisfies ToWorker);
        return;
      }
      case "listening":
        return;
    }
  }

  /**
   * The ready sets of a resource and of its live revisions as they are now; from now on these
   * are watched. Only a first sight sets a baseline: a change since the last push is the poll's
   * to broadcast, to every worker.
   */
  private watch(resourceName: string, runs: number[]): ReadySet[] {
    const sets = this.readySets(resourceName, runs);
    const known = this.watched.get(resourceName);
    const last = new Map<string, string>();
    for (const set of sets) last.set(watchKey(set), known?.last.get(watchKey(set)) ?? setKey(set));
    this.watched.set(resourceName, { runs, last });
    return sets;
  }

  private readySets(resourceName: string, runs: number[]): ReadySet[] {
    const { sources } = this.o;
    const set = (urls: string[], r?: number): ReadySet => {
      const listeners: Record<string, string> = {};
      for (const url of urls) {
        const id = sources.replicaListener?.(resourceName, url);
        if (id) listeners[url] = id;
      }
      return { resourceName, ...(r === undefined ? {} : { runs: r }), urls, ...(Object.keys(listeners).length > 0 ? { listeners } : {}) };
    };
    return [set(sources.endpoints(resourceName)), ...runs.map((r) => set(sources.endpoints(resourceName, r), r))];
  }

  /**
   * The driver saw a deployment's replicas change (one ready, one gone): its sets are compared and
   * pushed now, not at the next poll. A dead replica's port is anyone's from its exit on; the
   * workers check their connections anyway (gateway/forward.ts), this only makes them stop trying.
   */
  endpointsChanged(resourceName: string): void {
    if (this.watched.has(resourceName)) this.pushReadySets(resourceName);
  }

  /** Compares the watched ready sets (of one resource, or all) with what was last pushed; pushes the ones that changed (to every worker). */
  private pushReadySets(only?: string): void {
    for (const [resourceName, w] of this.watched) {
      if (only !== undefined && resourceName !== only) continue;
      for (const set of this.readySets(resourceName, w.runs)) {
        const key = watchKey(set);
        const now = setKey(set);
        if (w.last.get(key) === now) continue;
        w.last.set(key, now);
        this.broadcast({ t: "endpoints", ready: set });
      }
    }
  }

  private broadcast(m: ToWorker): void {
    for (const w of this.workers) if (w.isConnected()) w.send(m);
  }
}

/** What a push compares: the URLs, and their listeners (a replica started again on a port its predecessor had is another socket). */
const setKey = (set: ReadySet): string => set.urls.map((u) => `${u}=${set.listeners?.[u] ?? ""}`).join(" ");

/** A ready set's name among a resource's watched ones: "" for the deployment's, else its revision's `runs`. */
const watchKey = (set: ReadySet): string => (set.runs === undefined ? "" : String(set.runs));
