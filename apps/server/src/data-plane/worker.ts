#!/usr/bin/env node
/**
 * A data-plane worker (docs/gateway.md): the gateway's public and private listeners in a process
 * of their own, forked by the control plane (supervisor.ts) with node:cluster. It shares the
 * listening sockets the control plane bound, keeps the connections whose first request is for a
 * gateway route and hands every other connection to the control plane (connections.ts). Routes,
 * keys, ready sets and gateway secrets come from the control plane over IPC (worker-sources.ts);
 * scale-to-zero activity and wake-ups (worker-idle.ts) and run records (worker-runs.ts) go back to
 * it in batches. Its rate limiter holds 1/N of every limit (N workers).
 *
 * It exits when its IPC channel closes (node:cluster does that): a control plane that dies,
 * however, takes its workers with it. SIGINT and SIGTERM are left to the control plane, which
 * stops its workers itself once it has stopped (a Ctrl-C reaches the whole process group).
 */
import { chmodSync, chownSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createNetServer, type Socket } from "node:net";
import { createLogger } from "@flowplane/logging";
import { jsonAccessLog } from "../gateway/access-log.js";
import { DEFAULT_BODY_PACE, enforceBodyPace } from "../http/body-pace.js";
import { answerClientError, answerConnect, requireHost } from "../http/client-errors.js";
import { RateLimiter, createGateway, type Gateway, type Listener } from "../gateway/index.js";
import type { Ticket } from "../gateway/rate-limit.js";
import { gatewayParams } from "../gateway/paths.js";
import { createMetrics } from "../metrics.js";
import { classifyConnection, enforceRequestTimeouts } from "./connections.js";
import { ControlPlanePassThrough } from "./fallback.js";
import { batchedStdout } from "./log-stream.js";
import { SETTINGS_ENV, type FromWorker, type ToWorker, type WorkerSettings } from "./protocol.js";
import { WorkerIdle } from "./worker-idle.js";
import { IpcRunRecorder } from "./worker-runs.js";
import { WorkerSources } from "./worker-sources.js";
import { BodyBudget, bodyBudgetLimits } from "../http/body-budget.js";
import { ConnectionCap } from "../http/connection-cap.js";
import { LocalPeers } from "../http/local-peers.js";

const settings = JSON.parse(process.env[SETTINGS_ENV] ?? "null") as WorkerSettings | null;
if (!settings || !process.send) {
  process.stderr.write("this is flowplane's data-plane worker: the control plane starts it (FLOWPLANE_GATEWAY_WORKERS)\n");
  process.exit(2);
}
const send = (m: FromWorker, handle?: Socket, sent?: () => void) => {
  if (process.connected) process.send!(m, handle, {}, sent);
  else sent?.();
};

const stdout = batchedStdout();
const log = createLogger({ level: settings.logLevel, bindings: { worker: process.pid }, stream: stdout });
/** The access line at `info` (and below), written as pino would, without its per-line redaction pass (access-log.ts). */
const accessLog = ["trace", "debug", "info"].includes(settings.logLevel) ? jsonAccessLog((l) => stdout.write(l), { worker: process.pid }) : () => {};
const metrics = createMetrics({ defaultMetrics: false });
const gateways: Gateway[] = [];
const sources = new WorkerSources(send, () => { for (const g of gateways) g.forgetRoutes(); }, settings.lookupTimeoutMs);
// Both listeners share one limiter holding this worker's share of every limit (docs/gateway.md).
const rateLimiter = new RateLimiter({ share: settings.share, onRefused: (reason) => metrics.gatewayRateLimited.inc({ reason }) });
// The bodies this worker holds at once, both listeners together (http/body-budget.ts).
const bodyBudget = new BodyBudget(bodyBudgetLimits(settings.bodyLimit));
const idle = settings.idle ? new WorkerIdle({ send, wake: (id, ms) => sources.wake(id, ms) }) : undefined;
const runs = settings.runs ? new IpcRunRecorder({ send, registry: metrics.registry }) : undefined;
// Tickets of the calls the control plane serves itself and had this worker admit (`admit`), by number.
const lent = new Map<number, Ticket>();
let lastLent = 0;
process.on("message", (m: ToWorker) => {
  if (m.t === "admit") {
    const r = rateLimiter.admit(m.route, m.keyHash);
    if (!r.ok) return send({ t: "admitted", id: m.id, headers: r.headers, refusal: { reason: r.reason, message: r.message } });
    lent.set(++lastLent, r);
    send({ t: "admitted", id: m.id, ticket: lastLent, headers: r.headers });
  } else if (m.t === "release") {
    lent.get(m.ticket)?.release();
    lent.delete(m.ticket);
  } else if (m.t === "metrics") void metrics.registry.getMetricsAsJSON().then((json) => send({ t: "metrics", id: m.id, metrics: json }));
  else if (m.t === "flush") {
    runs?.flush();
    idle?.flush();
    send({ t: "flushed", id: m.id });
  } else sources.receive(m);
});
// The control plane is gone or stopping: so is this worker (a clean exit, after which nothing is pending).
function leave(): never {
  sources.failAll();
  stdout.abandon();
  process.exit(0);
}
process.on("disconnect", leave);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {});
// A backstop to `disconnect`: a worker whose control plane died is re-parented (to init or a
// subreaper); it notices within ORPHAN_CHECK_MS and leaves too, so it never outlives its control
// plane holding the ports, even if the channel's close were missed.
const parent = process.ppid;
const ORPHAN_CHECK_MS = 500;
setInterval(() => { if (process.ppid !== parent) leave(); }, ORPHAN_CHECK_MS).unref();

/** How a proxy in front names each connection's client (protocol.ts `behindProxy`): none without one. */
function clientNamedBy(proxy: WorkerSettings["behindProxy"]): { proxied: boolean; clientAddressHeader: boolean } {
  return { proxied: proxy !== undefined && proxy.clientAddress !== "header", clientAddressHeader: proxy?.clientAddress === "header" };
}

async function listen(listener: Listener): Promise<void> {
  const gateway = createGateway({
    listener, bodyLimit: settings!.bodyLimit, metrics, log, accessLog, rateLimiter, bodyBudget, routeCacheTtlMs: settings!.routeCacheTtlMs, cors: settings!.cors,
    ...(idle ? { idle } : {}), ...(runs ? { runs } : {}),
    resolveRoute: (id) => sources.resolveRoute(id),
    authenticate: (key) => sources.authenticate(key),
    endpoints: (name, revision) => sources.endpoints(name, revision),
    replicaListener: (resourceName, endpoint) => sources.replicaListener(resourceName, endpoint),
    gatewaySecret: (id) => sources.gatewaySecret(id),
  });
  gateways.push(gateway);
  const fallback = new ControlPlanePassThrough(settings!.controlPlane[listener], settings!.relaySecret);
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    if (gatewayParams(req.url ?? "")) gateway.handle(req, res);
    else fallback.handle(req, res);
  };
  // Never listening itself: it parses the connections the switch keeps.
  // No bound on the whole request (Node's 300 s cut slow uploads that kept coming): a body is held
  // to a pace instead (http/body-pace.ts), headers to Node's headersTimeout.
  const http = createHttpServer({ requestTimeout: 0 }, serve);
  enforceRequestTimeouts(http); // else Node's headersTimeout never applies (connections.ts)
  http.on("checkContinue", serve); // the gateway writes `100 Continue` once it admitted the request
  enforceBodyPace(http, { ...DEFAULT_BODY_PACE, graceMs: settings!.bodyTimeoutMs }); // after the request listeners (body-pace.ts)
  http.on("clientError", answerClientError); // what the parser refuses, in the one error shape (http/client-errors.ts)
  http.on("connect", answerConnect); // CONNECT: a 405, not a silent close
  requireHost(http); // an HTTP/1.1 request without Host: a 400 in the one error shape, not Node's empty one
  const proxied = listener === "public" ? settings!.behindProxy : undefined;
  // This listener's bound on client connections (http/connection-cap.ts), this worker's own; a
  // local deployment's loopback connections bound by their owner's uid, as in the control plane.
  const cap = new ConnectionCap(settings!.connections[listener], { ...(peers ? { peers } : {}) });
  const tcp = createNetServer((socket: Socket) => classifyConnection(socket, http, (s, head, client, sent) => send({ t: "handoff", listener, head: head.toString("base64"), ...(client ? { client } : {}) }, s, sent), { ...clientNamedBy(proxied), cap }));
  // Exactly one attempt: the control plane checked the port is free before forking (port-free.ts
  // says why a retry here would bind the port twice). A failure ends this worker before it listens.
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(proxied ? { path: proxied.path } : { host: settings!.host, port: settings!.ports[listener] }, () => { tcp.off("error", reject); resolve(); });
  });
  // Before `listening` is sent, so the proxy (its own unprivileged account) never finds it closed to it.
  // Root's folder (FrontFolder.socketDir), which the account cannot write: the path is the socket just made.
  if (proxied?.owner) {
    chownSync(proxied.path, 0, proxied.owner.gid);
    chmodSync(proxied.path, 0o660);
  }
}

/** Who owns a loopback connection's peer (http/local-peers.ts): one reader of the tables for both listeners. */
const peers = settings.deploymentUids ? new LocalPeers({ deploymentUids: settings.deploymentUids, log }) : undefined;
await Promise.all([listen("public"), listen("private")]);
send({ t: "listening" });
