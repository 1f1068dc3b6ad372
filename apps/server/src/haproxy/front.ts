import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger, NewRun, Principal } from "@flowplane/core";
import type { FrontAccount, FrontFolder } from "../fast-path/front-account.js";
import { observingSources } from "../fast-path/observing.js";
import type { GatewaySources } from "../gateway/types.js";
import type { Metrics } from "../metrics.js";
import { HaproxyChild } from "./child.js";
import { renderConfig } from "./config.js";
import { LogSink } from "./log-sink.js";
import { HaproxyProgram } from "./program.js";
import { RuntimeApi } from "./runtime-api.js";

export interface HaproxyFrontOptions {
  bin: string;
  /** The data folder: HAProxy's files go to its `haproxy/` (0700; files 0600). */
  dataDir: string;
  /** The public gateway port HAProxy takes. */
  bind: { host: string; port: number };
  /** Where the workers' public listener is (a Unix socket in the data folder): every call HAProxy does not serve itself. */
  node: { path: string };
  /** HAProxy threads: the number of gateway workers, so both data planes use as many cores. */
  threads: number;
  slots: number;
  /** HAProxy's maxconn (config.ts `maxConnections`). */
  maxConnections: number;
  sources: GatewaySources;
  log: Logger;
  metrics?: Metrics;
  runs?: { add(runs: NewRun[]): void };
  /** CORS is on (FLOWPLANE_GATEWAY_CORS_ORIGINS): a request with Origin is the workers' (config.ts `corsToNode`). */
  cors?: boolean;
  /** The caller behind a key known by its sha256 (null: no such live key): keys in use are read again this way. */
  keyByHash?: (hash: string) => Promise<Principal | null>;
  /**
   * The control plane runs as root: HAProxy runs as this account (fast-path/front-account.ts), its
   * files in the folder's `proxyDir` (the account's, where the workers' socket is too), not the data folder.
   */
  dropTo?: { account: FrontAccount; folder: FrontFolder };
}

/** Bodies up to this size are waited for on the fast path (the run record's `session_id` rule); larger ones are Node's. */
export const FAST_BODY_MAX = 16 * 1024;

/**
 * flowplane's HAProxy in front of the gateway workers (FLOWPLANE_GATEWAY_PROXY=haproxy,
 * docs/gateway.md): the child process, its programmer, and the observer the data plane feeds.
 */
export class HaproxyFront {
  private constructor(private readonly child: HaproxyChild, private readonly program: HaproxyProgram, private readonly sink: LogSink) {}

  static async start(o: HaproxyFrontOptions): Promise<HaproxyFront> {
    const dir = o.dropTo?.folder.proxyDir ?? join(o.dataDir, "haproxy");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const routesMap = join(dir, "routes.map");
    const keysMap = join(dir, "keys.map");
    // Empty at start: the runtime API fills them (never a reload), so nothing secret is ever written to disk.
    for (const f of [routesMap, keysMap]) {
      writeFileSync(f, "", { mode: 0o600 });
      o.dropTo?.folder.own(f);
    }
    // Lines may come before the programmer exists: HAProxy logs only fast-path calls, and there are none before it.
    const lines: { record(line: string): void } = { record: () => {} };
    const sink = await LogSink.start({ log: o.log, onLine: (line) => lines.record(line) });
    const child = new HaproxyChild({
      bin: o.bin, dir, log: o.log,
      config: renderConfig({ bind: o.bind, node: o.node, socket: join(dir, "haproxy.sock"), routesMap, keysMap, slots: o.slots, threads: o.threads, maxConnections: o.maxConnections, fastBodyMax: FAST_BODY_MAX, logSink: { port: sink.port, token: sink.token }, corsToNode: o.cors ?? false }),
      ...(o.dropTo ? { account: o.dropTo.account } : {}),
    });
    try {
      await child.start();
    } catch (err) {
      await sink.close();
      throw err;
    }
    const program = new HaproxyProgram({ api: new RuntimeApi(child.socket), sources: o.sources, routesMap, keysMap, slots: o.slots, log: o.log, ...(o.metrics ? { metrics: o.metrics } : {}), ...(o.runs ? { runs: o.runs } : {}), ...(o.keyByHash ? { keyByHash: o.keyByHash } : {}) });
    lines.record = (line) => program.record(line);
    child.onRestart = () => program.restarted();
    return new HaproxyFront(child, program, sink);
  }

  /** The gateway's sources, feeding HAProxy's programmer with what every lookup answers (fast-path/observing.ts). */
  observing(sources: GatewaySources): GatewaySources {
    return observingSources(sources, this.program);
  }

  /** The driver saw replicas change: the programmer's pass now (program.ts `endpointsChanged`). */
  endpointsChanged(): void {
    this.program.endpointsChanged();
  }

  /** A deployment changed (the push the workers get): its route entries on HAProxy go at once. */
  forgetRoutes(deploymentId: string): void {
    this.program.forgetRoutes(deploymentId);
  }

  /** The runtime API's socket (tests and the benchmark read HAProxy's counters there). */
  get socketPath(): string {
    return this.child.socket;
  }

  pid(): number | undefined {
    return this.child.pid();
  }

  async close(): Promise<void> {
    this.program.close();
    await this.child.stop();
    await this.sink.close();
  }
}
