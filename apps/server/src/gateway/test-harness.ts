import { spawn, type ChildProcess } from "node:child_process";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Writable } from "node:stream";
import Fastify, { type FastifyInstance } from "fastify";
import type { Principal, Role } from "@flowplane/core";
import { repoRoot, sleep } from "@flowplane/testkit";
import { createLogger } from "@flowplane/logging";
import { answerUnknownPaths, fastifyLogging } from "../http/logging.js";
import { createMetrics, type Metrics } from "../metrics.js";
import { createGateway, type Gateway } from "./pipeline.js";
import { serveGatewayPaths } from "./server.js";
import type { GatewayOptions, GatewayRoute } from "./types.js";

/**
 * Test helpers for the gateway: a gateway on a real loopback port with in-memory keys, routes
 * and endpoints the test changes at will, a movable clock, and the logger's output captured.
 * It is composed as a control plane's listener is: the lean pipeline behind the path switch,
 * in front of a Fastify instance that answers every other path (data-plane workers run the
 * same pipeline; data-plane/*.test.ts covers them).
 */
export interface TestGateway {
  url: string;
  app: FastifyInstance;
  gateway: Gateway;
  metrics: Metrics;
  /** Every JSON log line written so far. */
  logs: string[];
  keys: Map<string, Principal>;
  routes: Map<string, GatewayRoute>;
  endpoints: Map<string, string[]>;
  /** Each replica's listener (listenerId) by `<resourceName> <url>`, when the test gives one: new connections to it are checked (forward.ts). */
  listeners: Map<string, string>;
  /** How many times each key / route was looked up (to see the caches work). */
  /** Lookups made; `keysAtOnce` the most key lookups under way at one time; `keyDelayMs` how long each key lookup takes (0: none). */
  lookups: { keys: number; routes: number; keysAtOnce: number; keyDelayMs: number };
  advance(ms: number): void;
  close(): Promise<void>;
}

export const PROJECT = "p1";
export const APP = "a1";

export function principal(userId: string, roles: Record<string, Role> = { [PROJECT]: "viewer" }, orgOwner = false): Principal {
  return { userId, name: userId, kind: "machine", orgOwner, roles: new Map(Object.entries(roles)) };
}

export function route(routeId: string, over: Partial<GatewayRoute> = {}): GatewayRoute {
  return {
    projectId: PROJECT, appId: APP, routeId, kind: "http", deploymentId: `dep-${routeId}`, resourceName: `res-${routeId}`,
    networkAccess: "public", requestTimeoutSeconds: 30, ...over,
  };
}

/** The gateway secret the test gateway sends to a deployment's replicas. */
export const gatewaySecretOf = (deploymentId: string): string => `test-gateway-secret-for-${deploymentId}`;

export function routeUrl(g: { url: string }, routeId: string, rest = ""): string {
  return `${g.url}/projects/${PROJECT}/apps/${APP}/routes/${routeId}${rest}`;
}

/** `realClock`: the gateway's own default clock, not the test's (then `advance` does nothing). */
export async function startGateway(o: Partial<Pick<GatewayOptions, "listener" | "bodyLimit" | "keyCacheTtlMs" | "routeCacheTtlMs" | "rateLimiter" | "idle" | "bodyBudget" | "cors">> & { realClock?: boolean } = {}): Promise<TestGateway> {
  const logs: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, cb) { logs.push(...chunk.toString("utf8").split("\n").filter(Boolean)); cb(); } });
  const log = createLogger({ level: "info", stream });
  const app = Fastify(fastifyLogging(log));
  answerUnknownPaths(app);
  const metrics = createMetrics({ defaultMetrics: false });
  const keys = new Map<string, Principal>();
  const routes = new Map<string, GatewayRoute>();
  const endpoints = new Map<string, string[]>();
  const listeners = new Map<string, string>();
  const lookups = { keys: 0, routes: 0, keysAtOnce: 0, keyDelayMs: 0 };
  let keysUnderWay = 0;
  let clock = 1_000_000;
  const gateway = createGateway({
    log,
    listener: o.listener ?? "public",
    bodyLimit: o.bodyLimit ?? 1024 * 1024,
    keyCacheTtlMs: o.keyCacheTtlMs,
    routeCacheTtlMs: o.routeCacheTtlMs,
    rateLimiter: o.rateLimiter,
    idle: o.idle,
    ...(o.bodyBudget ? { bodyBudget: o.bodyBudget } : {}),
    ...(o.cors ? { cors: o.cors } : {}),
    metrics,
    ...(o.realClock ? {} : { now: () => clock }),
    authenticate: async (key) => {
      lookups.keys++;
      lookups.keysAtOnce = Math.max(lookups.keysAtOnce, ++keysUnderWay);
      try {
        if (lookups.keyDelayMs > 0) await sleep(lookups.keyDelayMs);
        return keys.get(key) ?? null;
      } finally {
        keysUnderWay--;
      }
    },
    resolveRoute: async (id) => { lookups.routes++; return routes.get(id) ?? null; },
    // A revision's replicas are set under `<name>@<runs>` (as the reconciler publishes them).
    endpoints: (name, revision) => endpoints.get(revision === undefined ? name : `${name}@${revision}`) ?? [],
    replicaListener: (resourceName, endpoint) => listeners.get(`${resourceName} ${endpoint}`),
    gatewaySecret: gatewaySecretOf,
  });
  await app.ready();
  serveGatewayPaths(app.server, gateway);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, app, gateway, metrics, logs, keys, routes, endpoints, listeners, lookups,
    advance: (ms) => { clock += ms; },
    close: async () => { app.server.closeAllConnections(); await app.close(); await gateway.close(); },
  };
}

export interface Upstream {
  url: string;
  /** Every request received: method, url and headers. */
  seen: { method: string; url: string; headers: IncomingMessage["headers"]; body: string }[];
  close(): Promise<void>;
}

/** A node:http server on a random loopback port; `handler` runs after the body was read. */
export async function startUpstream(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A loopback URL where nothing listens (a port bound, then released). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** The real runtime binary (apps/runtime/dist/main.js) serving a fixture bundle on a random loopback port. */
export async function startRuntime(bundlePath: string, o: { gatewaySecret?: string } = {}): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(repoRoot, "apps/runtime/dist/main.js")], {
    env: {
      PATH: process.env.PATH ?? "", FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_RUNTIME_HOST: "127.0.0.1", FLOWPLANE_BUNDLE_PATH: bundlePath,
      ...(o.gatewaySecret ? { FLOWPLANE_GATEWAY_SECRET: o.gatewaySecret } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString("utf8"));
      const m = /"url":"([^"]+)"[^\n]*"msg":"listening"/.exec(output.join(""));
      if (m?.[1]) resolve(m[1]);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exited.then(() => reject(new Error(`runtime exited: ${output.join("")}`)));
  });
  const deadline = Date.now() + 15_000;
  while ((await fetch(`${url}/ready`).catch(() => null))?.status !== 200) {
    if (Date.now() > deadline) throw new Error(`runtime not ready: ${output.join("")}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url, child,
    stop: async () => { if (child.exitCode === null) child.kill("SIGTERM"); await exited; },
  };
}

/** A request with node:http, which (unlike fetch) sends any header and the path exactly as written. */
export function rawRequest(url: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest({ host: u.hostname, port: u.port, method: o.method ?? "GET", path: url.slice(u.origin.length), headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(o.body);
  });
}
