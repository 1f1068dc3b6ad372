import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryLogger } from "@flowplane/logging";
import { REFUSING_PORT, freePort, waitFor } from "@flowplane/testkit";
import type { GatewayRoute } from "../gateway/types.js";
import { renderConfig } from "./config.js";
import { LogSink } from "./log-sink.js";
import { RuntimeApi } from "./runtime-api.js";
import type { FrontUnderTest } from "../fast-path/front.cases.js";

const NO_LIMIT = { requestsPerSecond: null, burst: null, maxConcurrent: null };
/** A route that qualifies for the fast path (fast-path/state.ts `fastRoute`): public HTTP, no limits, one live revision. */
export const FAST_ROUTE: GatewayRoute = {
  projectId: "p1", appId: "a1", routeId: "r1", kind: "http", deploymentId: "d1", resourceName: "d-x", networkAccess: "public",
  requestTimeoutSeconds: 60, disabled: false, revision: 1, live: [{ revision: 1, runs: 1, percent: 100 }], limits: { deployment: NO_LIMIT, perKey: NO_LIMIT },
};

/** Calls HAProxy served itself so far: the sessions of its slot backends (`show stat`). */
export async function fastPathCalls(api: RuntimeApi): Promise<number> {
  const csv = await api.run(["show stat"]);
  return csv.split("\n").map((l) => l.split(",")).filter((f) => /^s\d+$/.test(f[0]!) && f[1] === "BACKEND").reduce((n, f) => n + Number(f[7]), 0);
}

/** Whether Debian's haproxy is on PATH (CI installs it; a suite without it is skipped, never in CI). */
export const HAVE_HAPROXY = spawnSync("haproxy", ["-v"]).status === 0;

export interface TestHaproxy {
  /** Where clients connect. */
  port: number;
  routesMap: string;
  keysMap: string;
  /** Its runtime API. */
  api: RuntimeApi;
  /** Its log sink: each fast-path line, as the control plane gets it. */
  sink: LogSink;
  stop(): Promise<void>;
}

/**
 * A real HAProxy with flowplane's own configuration (config.ts) and a real log sink, for tests:
 * empty maps, `slots` slot backends, the Node listener a closed loopback port (a call off the
 * fast path gets HAProxy's 503). `onLine` gets each fast-path log line; `corsToNode`: config.ts's option.
 */
export async function startTestHaproxy(o: { slots: number; onLine(line: string): void; corsToNode?: boolean }): Promise<TestHaproxy> {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-test-haproxy-"));
  const port = await freePort();
  const routesMap = join(dir, "routes.map");
  const keysMap = join(dir, "keys.map");
  await writeFile(routesMap, "");
  await writeFile(keysMap, "");
  const socket = join(dir, "haproxy.sock");
  const sink = await LogSink.start({ log: memoryLogger().log, onLine: (line) => o.onLine(line) });
  await writeFile(join(dir, "haproxy.cfg"), renderConfig({
    bind: { host: "127.0.0.1", port }, node: { host: "127.0.0.1", port: REFUSING_PORT }, socket, routesMap, keysMap, slots: o.slots, threads: 1, maxConnections: 256, fastBodyMax: 16 * 1024,
    logSink: { port: sink.port, token: sink.token }, ...(o.corsToNode ? { corsToNode: true } : {}),
  }));
  const child = spawn("haproxy", ["-f", join(dir, "haproxy.cfg"), "-db"], { stdio: "ignore" });
  const api = new RuntimeApi(socket);
  await waitFor(() => api.run(["show info"]).then(() => true, () => false), { timeoutMs: 10_000, intervalMs: 50, message: "HAProxy's runtime API" });
  return {
    port, routesMap, keysMap, api, sink,
    async stop() {
      child.kill("SIGKILL");
      await sink.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * FLOWPLANE_GATEWAY_PROXY=haproxy for the shared e2e cases (fast-path/front.cases.ts,
 * gateway-role.cases.ts). Which path served a call is read from HAProxy's own counters (its
 * runtime API): a slot backend's sessions are fast-path calls.
 */
export const haproxyFront: FrontUnderTest = {
  proxy: "haproxy",
  name: "HAProxy",
  pidFile: "haproxy.pid",
  privateFiles: ["haproxy.cfg", "routes.map", "keys.map"],
  // Its PROXY line names the client to the workers.
  config: { file: "haproxy.cfg", toWorkers: (socket) => new RegExp(`\\n  server node unix@${escapeRegExp(socket)} send-proxy\\n`) },
  skip: HAVE_HAPROXY || process.env.CI === "true" ? false : "haproxy is not installed (apt-get install -y haproxy)",
  fastCount: (dir) => fastPathCalls(new RuntimeApi(join(dir, "haproxy", "haproxy.sock"))),
  // Its route entries (secrets left out) and the slots' servers.
  explain: async (dir) => {
    const rt = new RuntimeApi(join(dir, "haproxy", "haproxy.sock"));
    const routes = await rt.run([`show map ${join(dir, "haproxy", "routes.map")}`]).catch((err: Error) => err.message);
    const servers = await rt.run(["show servers state"]).catch((err: Error) => err.message);
    return `routes: ${routes.replace(/\|[^|\s]{20,}\|/g, "|<secret>|").trim()}; servers: ${servers.split("\n").filter((l) => /^\d+ s\d+ /.test(l)).map((l) => l.split(" ").slice(1, 6).join(" ")).join("; ")}`;
  },
};
