import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryLogger } from "@flowplane/logging";
import { REFUSING_PORT, freePort } from "@flowplane/testkit";
import { classifyConnection, enforceRequestTimeouts } from "../data-plane/connections.js";
import { NginxChild } from "./child.js";
import { NGINX_LUA_MODULES, programSocket, renderNginxConfig } from "./config.js";
import type { FrontUnderTest } from "../fast-path/front.cases.js";
import { NginxProgramClient, type NginxRouteEntry } from "./program-client.js";

/** Whether Debian's nginx and its Lua module are installed (scripts/test-all.sh installs them; without them a suite is skipped, never under CI=true). */
export const HAVE_NGINX_LUA = spawnSync("nginx", ["-v"]).status === 0 && NGINX_LUA_MODULES.every((m) => existsSync(m));
export const SKIP_WITHOUT_NGINX: false | string = HAVE_NGINX_LUA || process.env.CI === "true" ? false : "nginx with libnginx-mod-http-lua is not installed";

/** What an upstream (a replica, or the fake workers) received. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The socket's remote address (behind the workers' switch: the client the header named). */
  address: string | undefined;
}

export interface TestServer {
  seen: Seen[];
  close(): Promise<void>;
}

/** Records every request, then answers with `answer` (default: 200 "ok"). */
function recording(seen: Seen[], answer?: RequestListener): RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), address: req.socket.remoteAddress });
      if (answer) answer(req, res);
      else res.end("ok");
    });
  };
}

async function closing(s: Server): Promise<void> {
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
}

/** A replica on loopback: a real node:http server (`connections`: how many nginx opened to it). */
export async function startReplica(answer?: RequestListener): Promise<TestServer & { port: number; address: string; connections(): number }> {
  const seen: Seen[] = [];
  const s = createServer(recording(seen, answer));
  let connections = 0;
  s.on("connection", () => { connections++; });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  return { seen, port, address: `127.0.0.1:${port}`, connections: () => connections, close: () => closing(s) };
}

/** A loopback port nobody listens on (a replica that refuses): testkit's REFUSING_PORT, never a free port that another test may take meanwhile. */
export async function closedAddress(): Promise<string> {
  return `127.0.0.1:${REFUSING_PORT}`;
}

export interface TestNginx {
  port: number;
  dir: string;
  program: NginxProgramClient;
  child: NginxChild;
  /** The fake workers' Unix socket server: every call nginx did not serve itself. */
  workers: TestServer;
  /** With `switch`: the heads (and clients) of the connections the workers' switch handed over (then closed). */
  handedOff: { head: string; address: string | undefined }[];
  stop(): Promise<void>;
}

/**
 * A real nginx with flowplane's configuration (config.ts), run by child.ts, in front of fake
 * workers on a Unix socket (they answer 200 "workers" with `x-served-by: workers`). `switch`: the
 * workers' own path switch reads each connection first (data-plane/connections.ts, trusting the
 * client-address header): gateway paths reach the fake workers, others are recorded and closed.
 */
export async function startTestNginx(o: { workers?: number; corsToNode?: boolean; onRestart?: () => void; logSink?: { port: number; token: string }; aggCap?: number; bodyWaitS?: number; switch?: boolean } = {}): Promise<TestNginx> {
  const root = await mkdtemp(join(tmpdir(), "flowplane-test-nginx-"));
  const dir = join(root, "nginx");
  const nodePath = join(root, "node.sock");
  const seen: Seen[] = [];
  const ws = createServer(recording(seen, (_req, res) => { res.setHeader("x-served-by", "workers"); res.end("workers"); }));
  const handedOff: TestNginx["handedOff"] = [];
  const front = o.switch ? createNetServer((socket) => classifyConnection(socket, ws, (h, head, client, sent) => {
    handedOff.push({ head: head.toString("latin1"), address: client?.address });
    sent();
    h.destroy();
  }, { clientAddressHeader: true })) : undefined;
  if (front) enforceRequestTimeouts(ws);
  await new Promise<void>((r) => (front ?? ws).listen(nodePath, r));
  const port = await freePort();
  const config = renderNginxConfig({
    dir, bind: { host: "127.0.0.1", port }, node: { path: nodePath }, workers: o.workers ?? 1, maxConnections: 1024, fastBodyMax: 16 * 1024,
    ...(o.corsToNode ? { corsToNode: true } : {}), ...(o.logSink ? { logSink: o.logSink } : {}), ...(o.aggCap !== undefined ? { aggCap: o.aggCap } : {}), ...(o.bodyWaitS ? { bodyWaitS: o.bodyWaitS } : {}), ...(process.getuid?.() === 0 ? { user: { name: "root", group: "root" } } : {}),
  });
  const child = new NginxChild({ bin: "nginx", dir, config, log: memoryLogger().log, graceMs: 2_000, restartMs: 100, ...(o.onRestart ? { onRestart: o.onRestart } : {}) });
  await child.start();
  return {
    port, dir, child, program: new NginxProgramClient({ socketPath: child.programSocket }),
    workers: { seen, close: () => closing(ws) }, handedOff,
    async stop() {
      await child.stop();
      front?.close();
      await closing(ws);
      await rm(root, { recursive: true, force: true });
    },
  };
}

export const sha256hex = (s: string) => createHash("sha256").update(s).digest("hex");

/** A route entry at projects/p1/apps/a1/routes/<route>. */
export const routeEntry = (route: string, addresses: string[], over: Partial<NginxRouteEntry> = {}): NginxRouteEntry => ({
  key: `projects/p1/apps/a1/routes/${route}`, deployment: `d-${route}`, project: "p1", app: "a1", revision: 1, timeoutMs: 30_000, secret: "a-gateway-secret", route, addresses, ...over,
});

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One call to nginx's public port (a connection of its own). */
export function call(port: number, path: string, o: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: o.method ?? "GET", headers: o.headers ?? {}, agent: false }, (r) => {
      let body = "";
      r.on("data", (c: Buffer) => { body += c.toString(); });
      r.on("end", () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body }));
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * FLOWPLANE_GATEWAY_PROXY=nginx for the shared e2e cases (fast-path/front.cases.ts,
 * gateway-role.cases.ts). Which path served a call is read from nginx's own count of the calls it
 * served (the programming socket's GET /stats, over all its workers).
 */
export const nginxFront: FrontUnderTest = {
  proxy: "nginx",
  name: "nginx",
  pidFile: "nginx.pid",
  privateFiles: ["nginx.conf"],
  // nginx names the client to the workers in a header they trust on this socket only.
  config: { file: "nginx.conf", toWorkers: (socket) => new RegExp(`\\n    server unix:${escapeRegExp(socket)};\\n`) },
  skip: SKIP_WITHOUT_NGINX,
  fastCount: async (dir) => (await new NginxProgramClient({ socketPath: programSocket(join(dir, "nginx")) }).stats()).fast,
};
