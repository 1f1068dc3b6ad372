import { join } from "node:path";
import type { Logger, NewRun, Principal } from "@flowplane/core";
import type { FrontAccount, FrontFolder } from "../fast-path/front-account.js";
import { observingSources } from "../fast-path/observing.js";
import type { GatewaySources } from "../gateway/types.js";
import type { Metrics } from "../metrics.js";
import { parseFastCount, parseFastLine } from "../haproxy/log-line.js";
import { LogSink } from "../haproxy/log-sink.js";
import { NginxChild } from "./child.js";
import { renderNginxConfig } from "./config.js";
import { NginxProgramClient } from "./program-client.js";
import { NginxProgram } from "./program.js";

export interface NginxFrontOptions {
  /** The nginx binary (Debian's, with libnginx-mod-http-lua). */
  bin: string;
  /** The data folder: nginx's files go to its `nginx/` (0700). */
  dataDir: string;
  /** The public gateway port nginx takes. */
  bind: { host: string; port: number };
  /** Where the workers' public listener is (a Unix socket in the data folder): every call nginx does not serve itself. */
  node: { path: string };
  /** nginx worker processes: the number of gateway workers, so both data planes use as many cores. */
  workers: number;
  /** Connections each nginx worker holds at once. */
  maxConnections: number;
  sources: GatewaySources;
  log: Logger;
  metrics?: Metrics;
  runs?: { add(runs: NewRun[]): void };
  /** CORS is on: a request with Origin is the workers' (config.ts `corsToNode`). */
  cors?: boolean;
  /** The caller behind a key known by its sha256 (null: no such live key): keys in use are read again this way. */
  keyByHash?: (hash: string) => Promise<Principal | null>;
  /**
   * The control plane runs as root: nginx runs as this account (fast-path/front-account.ts), its
   * files in the folder's `proxyDir` (the account's, where the workers' socket is too), not the data folder.
   */
  dropTo?: { account: FrontAccount; folder: FrontFolder };
}

/** Bodies up to this size are read on the fast path (the run record's `session_id` rule); larger ones are the workers'. */
const FAST_BODY_MAX = 16 * 1024;

/**
 * flowplane's nginx in front of the gateway workers (docs/gateway.md, nginx + Lua): the child
 * process and its programmer, fed by the gateway's lookups. The sibling of haproxy/front.ts.
 */
export class NginxFront {
  private constructor(private readonly child: NginxChild, private readonly program: NginxProgram, private readonly sink: LogSink) {}

  static async start(o: NginxFrontOptions): Promise<NginxFront> {
    // As root nginx would make its workers `nobody`, who reach nothing here: as root it runs only as the front's account.
    if (process.getuid?.() === 0 && !o.dropTo) throw new Error("as root, flowplane's nginx runs only as the front's own account (dropTo: fast-path/front-account.ts)");
    const dir = o.dropTo?.folder.proxyDir ?? join(o.dataDir, "nginx");
    // A restart before the programmer exists has nothing to program again; a line before it, nothing to record (nginx logs fast-path calls only).
    const restarted: { then?: () => void } = {};
    const lines: { record(line: string): void } = { record: () => {} };
    // nginx writes HAProxy's line, field for field (lua-log.ts), to the same sink.
    const sink = await LogSink.start({ log: o.log, onLine: (line) => lines.record(line) });
    const child = new NginxChild({
      bin: o.bin, dir, log: o.log, onRestart: () => restarted.then?.(), ...(o.dropTo ? { account: o.dropTo.account } : {}),
      config: renderNginxConfig({
        dir, bind: o.bind, node: o.node, workers: o.workers, maxConnections: o.maxConnections, fastBodyMax: FAST_BODY_MAX, corsToNode: o.cors ?? false, logSink: { port: sink.port, token: sink.token },
      }),
    });
    try {
      await child.start();
    } catch (err) {
      await sink.close();
      throw err;
    }
    const program = new NginxProgram({
      client: new NginxProgramClient({ socketPath: child.programSocket }), sources: o.sources, log: o.log,
      ...(o.metrics ? { metrics: o.metrics } : {}), ...(o.runs ? { runs: o.runs } : {}), ...(o.keyByHash ? { keyByHash: o.keyByHash } : {}),
    });
    restarted.then = () => program.restarted();
    lines.record = (line) => {
      const call = parseFastLine(line);
      if (call) return program.recordCall(call);
      const count = parseFastCount(line);
      if (count) program.recordCount(count);
    };
    return new NginxFront(child, program, sink);
  }

  /** The gateway's sources, feeding nginx's programmer with what every lookup answers (fast-path/observing.ts). */
  observing(sources: GatewaySources): GatewaySources {
    return observingSources(sources, this.program);
  }

  /** The driver saw replicas change: the programmer's pass now (program.ts `endpointsChanged`). */
  endpointsChanged(): void {
    this.program.endpointsChanged();
  }

  /** A deployment changed (the push the workers get): its route entries on nginx go in the next pass. */
  forgetRoutes(deploymentId: string): void {
    this.program.forgetRoutes(deploymentId);
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
