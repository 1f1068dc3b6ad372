#!/usr/bin/env node
// Gateway benchmark: the data plane (the gateway's worker processes, docs/gateway.md) against
// nginx with the same number of worker processes, both in front of the same upstream, in one run.
// Upstreams: one real runtime replica (simple-chat-no-llm, no LLM: GET /flows, POST /flows/{id}/run)
// and a bare node:http server (GET /hello: the figure where the proxy itself is the bottleneck).
// Targets: the upstream directly, the data plane (without and with its access log: nginx runs with
// access_log off), and nginx (Debian's, upstream keepalive, unbuffered). The load generator is wrk
// (Debian's, its own process; autocannon when wrk is missing) at concurrency 16, 64 and 1; the
// targets are measured interleaved over rounds (A B C D A B C D ...) and shown as ratios to the
// direct calls and to nginx of the same run. With one worker, a "node floor" target shows what
// node:http + undici cost alone (a bare proxy, no flowplane code). CPU time per request of each proxy (every process of
// it: nginx's master and workers; the control plane and its workers) is read from /proc.
// The data plane runs as the server does by default: its run history on (each worker builds its
// runs and sends them in batches over IPC; the bench's control plane drops them), rate limiter
// in place (the routes have no limits), no scale to zero. A native front (HAProxy, nginx) has the
// control plane's metrics, as the server gives it: each call it logs is observed there.
// Two more targets on request (--only=...,nginx+lua,nginx+headers), not the product: the candidate
// native data plane, nginx with Lua doing the fast path's per-call work (bench/lib/nginx-lua-fast-path.mjs),
// and the same nginx with only the contract's headers (what any proxy keeping the contract costs at least).
//
// Goals (issue 16): data plane >= 0.8x nginx's throughput at c16 and c64 in front of the replica;
// added p50 at c1 <= 0.5 ms over the direct call.
//
// Before/after in one run: FLOWPLANE_BENCH_BASELINE=<another checkout, built> adds "gateway (baseline)",
// that checkout's Node data plane (its bench/gateway.mjs in the gateway role), interleaved with the others.
// Usage: npm run build && node bench/gateway.mjs [seconds-per-figure] [--workers=N] [--only=haproxy,...] [--no-api] [--quick]
//   (default 3 s, 3 rounds, 1 worker each; quick: 1 s, 1 round)
// Needs: nginx and wrk (npm run bench installs them: scripts/bench.sh); without nginx its figures are skipped and the goals say NOT MEASURED.
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startServer } from "@flowplane/testkit";
import { existsSync } from "node:fs";
import { QUICK, REPLICA_ENV, REPLICA_NODE_OPTIONS, autocannon, descendants, freePort, interleaved, med, ratio, size, stopChild, waitFor } from "./lib/common.mjs";
import { NGINX_LUA_MODULE, nginxFastPathConfig } from "./lib/nginx-lua-fast-path.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const fixture = `${root}../shared/fixtures/langflow/simple-chat-no-llm.json`;
const KEY = "bench-key";
const ROUTES = { replica: "/projects/p/apps/a/routes/replica", hello: "/projects/p/apps/a/routes/hello" };
const WORKERS = Number(process.argv.find((a) => a.startsWith("--workers="))?.slice(10) ?? 1);
/** `--only=haproxy,gateway`: just those data-plane targets (beside the direct calls and nginx, always measured). */
const ONLY = process.argv.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const wanted = (name) => !ONLY || ONLY.includes(name);
const BASELINE = process.env.FLOWPLANE_BENCH_BASELINE ? `${process.env.FLOWPLANE_BENCH_BASELINE.replace(/\/$/, "")}/` : null;

// The data plane runs in its own process tree (this file again, in this role, as the control
// plane with in-memory routes and keys), so the load generator does not share its event loop.
if (process.env.FLOWPLANE_BENCH_ROLE === "gateway") await serveDataPlane();
if (process.env.FLOWPLANE_BENCH_ROLE === "hello") await serveHello();
if (process.env.FLOWPLANE_BENCH_ROLE === "floor") await serveFloor();

/**
 * The candidate native data plane (bench/lib/nginx-lua-fast-path.mjs, docs/gateway.md): nginx with
 * Lua doing the fast path's per-call work, as many workers as the others; both routes and the key
 * in its tables. Not the product: what it leaves out is listed in that file. Null without
 * Debian's nginx and its Lua module.
 */
async function startNginxLua(upstreams, workers, rulesOnly = false) {
  if (!existsSync("/usr/sbin/nginx") || !existsSync(NGINX_LUA_MODULE)) return null;
  const { ORIGIN_WIDE_ANSWER_HEADERS, REDIRECT_ANSWER_HEADERS } = await import(pathToFileURL(`${root}apps/server/dist/gateway/headers.js`).href);
  const dir = mkdtempSync(join(tmpdir(), "flowplane-nginx-lua-"));
  const port = await freePort();
  const routes = Object.fromEntries(Object.entries(upstreams).map(([name, url]) => [name, new URL(url)]));
  writeFileSync(join(dir, "nginx.conf"), nginxFastPathConfig({ dir, port, routes, key: KEY, answerDrops: [...ORIGIN_WIDE_ANSWER_HEADERS, ...REDIRECT_ANSWER_HEADERS], workers, master: true, rulesOnly }));
  const proc = spawn("/usr/sbin/nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")], { stdio: ["ignore", "ignore", "inherit"], ...OWN_SESSION });
  return { proc, url: `http://127.0.0.1:${port}`, dir };
}

/**
 * The floor of a Node data plane: node:http in, undici out, no admission, no headers rules, no
 * log, no metrics, one process. What the data plane costs above it is flowplane's own work.
 */
async function serveFloor() {
  const { Agent } = await import(pathToFileURL(`${root}node_modules/undici/index.js`).href);
  const upstreams = JSON.parse(process.env.FLOWPLANE_BENCH_UPSTREAMS);
  const agent = new Agent({ connections: 128, pipelining: 1 });
  const s = createServer((req, res) => {
    const [, , , , , , name, ...rest] = req.url.split("/");
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    agent.stream({ origin: upstreams[name], path: `/${rest.join("/")}`, method: req.method, headers, body: req.method === "GET" ? null : req },
      ({ statusCode, headers: h }) => { delete h.connection; delete h["keep-alive"]; delete h["transfer-encoding"]; res.writeHead(statusCode, h); return res; })
      .catch(() => { if (!res.headersSent) res.writeHead(502); res.end(); });
  });
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  process.once("SIGTERM", () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${s.address().port}` })}\n`);
}

async function serveDataPlane() {
  const { DataPlane } = await import(pathToFileURL(`${root}apps/server/dist/data-plane/supervisor.js`).href);
  const upstreams = JSON.parse(process.env.FLOWPLANE_BENCH_UPSTREAMS);
  const principal = { userId: "u", name: "bench", kind: "machine", orgOwner: false, roles: new Map([["p", "viewer"]]) };
  const route = (routeId) => ({ projectId: "p", appId: "a", routeId, kind: "http", deploymentId: `d-${routeId}`, resourceName: routeId, networkAccess: "public", requestTimeoutSeconds: 300 });
  // Where the control plane would serve non-gateway connections: a 404 here.
  const notFound = async () => {
    const s = createServer((_req, res) => { res.statusCode = 404; res.end(); });
    await new Promise((r) => s.listen(0, "127.0.0.1", r));
    return { server: s, url: `http://127.0.0.1:${s.address().port}` };
  };
  const [pub, priv] = [await notFound(), await notFound()];
  const port = Number(process.env.FLOWPLANE_BENCH_PORT);
  const log = { debug() {}, info() {}, warn() {}, error: (o, m) => console.error(m, o), child() { return log; } };
  const workers = Number(process.env.FLOWPLANE_BENCH_WORKERS);
  let sources = {
    authenticate: async (key) => (key === KEY ? principal : null),
    resolveRoute: async (id) => (upstreams[id] ? route(id) : null),
    endpoints: (name) => (upstreams[name] ? [upstreams[name]] : []),
    gatewaySecret: () => "bench-gateway-secret",
  };
  // FLOWPLANE_GATEWAY_PROXY=haproxy as the server runs it: HAProxy on the port (as many threads
  // as workers), the workers on loopback behind it, HAProxy's runs recorded (and dropped here).
  let haproxy;
  let behindProxy;
  // As root, as serve.ts does: the front runs as its own account, its files and the workers'
  // socket in that account's folders (fast-path/front-account.ts), never as root.
  const proxyKind = process.env.FLOWPLANE_BENCH_PROXY;
  let dropTo;
  if ((proxyKind === "haproxy" || proxyKind === "nginx") && process.getuid?.() === 0) {
    const { frontAccount, makeFrontFolder } = await import(pathToFileURL(`${root}apps/server/dist/fast-path/front-account.js`).href);
    const { DEFAULT_UID_BASE, DEFAULT_UID_COUNT, emptyUid } = await import("@flowplane/driver-local");
    // One account per front kind: both targets' servers run at once here, and each start ends every process of its account.
    const account = frontAccount({ uid: 0, replicaUids: { base: DEFAULT_UID_BASE + (proxyKind === "nginx" ? 1 : 0), count: DEFAULT_UID_COUNT }, port });
    const dataDir = mkdtempSync(join(tmpdir(), `flowplane-bench-${proxyKind}-`));
    dropTo = { account, folder: await makeFrontFolder(account, { dataDir, proxy: proxyKind, endAll: emptyUid }), dataDir };
  }
  if (proxyKind === "haproxy") {
    const { HaproxyFront } = await import(pathToFileURL(`${root}apps/server/dist/haproxy/front.js`).href);
    const dataDir = dropTo?.dataDir ?? mkdtempSync(join(tmpdir(), "flowplane-bench-haproxy-"));
    // As serve.ts: the workers' public listener is a Unix socket in HAProxy's folder (as root, the account's socket folder).
    behindProxy = { path: join(dropTo?.folder.socketDir ?? join(dataDir, "haproxy"), "node.sock"), ...(dropTo ? { owner: dropTo.account } : {}) };
    // Keys in use read again by their hash, as serve.ts has the store do (IdentityService.authenticateKeyHash).
    const { hashAccessKey } = await import("@flowplane/core");
    const keyByHash = async (hash) => (hash === hashAccessKey(KEY) ? principal : null);
    haproxy = await HaproxyFront.start({ bin: "haproxy", slots: 4, maxConnections: 4096, dataDir, bind: { host: "127.0.0.1", port }, node: behindProxy, threads: workers, sources, log, metrics: await frontMetrics(), runs: { add() {} }, keyByHash, ...(dropTo ? { dropTo } : {}) });
    sources = haproxy.observing(sources);
    process.once("exit", () => rmSync(dataDir, { recursive: true, force: true }));
  } else if (process.env.FLOWPLANE_BENCH_PROXY === "nginx") {
    // FLOWPLANE_GATEWAY_PROXY=nginx as the server runs it (serve.ts): nginx + Lua on the port (as
    // many nginx workers as gateway workers), the workers behind it, nginx's calls logged and recorded (and dropped here).
    const { NginxFront } = await import(pathToFileURL(`${root}apps/server/dist/nginx/front.js`).href);
    const dataDir = dropTo?.dataDir ?? mkdtempSync(join(tmpdir(), "flowplane-bench-nginx-"));
    behindProxy = { path: join(dropTo?.folder.socketDir ?? join(dataDir, "nginx"), "node.sock"), clientAddress: "header", ...(dropTo ? { owner: dropTo.account } : {}) };
    const { hashAccessKey } = await import("@flowplane/core");
    const keyByHash = async (hash) => (hash === hashAccessKey(KEY) ? principal : null);
    haproxy = await NginxFront.start({ bin: "nginx", maxConnections: 4096, dataDir, bind: { host: "127.0.0.1", port }, node: behindProxy, workers, sources, log, metrics: await frontMetrics(), runs: { add() {} }, keyByHash, ...(dropTo ? { dropTo } : {}) });
    sources = haproxy.observing(sources);
    process.once("exit", () => rmSync(dataDir, { recursive: true, force: true }));
  }
  const dp = await DataPlane.start({
    workers, log, sources,
    servers: { public: pub.server, private: priv.server },
    // The run history is on by default in the server: the workers build and send their runs as
    // they would (in batches over IPC); the control plane's side drops them instead of writing.
    runs: { add() {} },
    settings: {
      ...(behindProxy ? { behindProxy } : {}),
      host: "127.0.0.1", ports: { public: port, private: await freePort() }, controlPlane: { public: pub.url, private: priv.url },
      bodyLimit: 10 * 1024 * 1024, bodyTimeoutMs: 300_000,
      // The server's defaults (config.ts): the benchmark's few connections are far below them.
      connections: { public: { total: 16_384, perAddress: 1_024 }, private: { total: 16_384, perAddress: 1_024 } },
      logLevel: process.env.FLOWPLANE_BENCH_LOG === "1" ? "info" : "warn",
      share: 1 / Number(process.env.FLOWPLANE_BENCH_WORKERS), idle: false, runs: true, lookupTimeoutMs: 5_000,
    },
  });
  process.once("SIGTERM", () => void (haproxy?.close() ?? Promise.resolve()).then(() => dp.close()).then(() => dropTo?.folder.remove()).then(() => process.exit(0)));
  if (haproxy && process.env.FLOWPLANE_BENCH_PROXY === "nginx") {
    // Until nginx serves both routes itself: every run id of a few calls in a row is nginx's (an
    // nginx worker's fixed prefix, then a counter: each prefix comes again; the workers' ids are
    // random UUIDs, which never share one). With more than one nginx worker, calls are spread over them.
    await waitFor(async () => {
      for (const r of Object.keys(upstreams)) {
        const ids = [];
        for (let i = 0; i < 4 * workers; i++) ids.push((await fetch(`http://127.0.0.1:${port}${ROUTES[r]}${r === "hello" ? "/hello" : "/flows"}`, { headers: { "x-access-key": KEY } })).headers.get("x-request-id") ?? "");
        const prefixes = ids.map((id) => id.slice(0, 24));
        if (ids.some((id, i) => id.length !== 36 || prefixes.indexOf(prefixes[i]) === prefixes.lastIndexOf(prefixes[i]))) return false;
      }
      return true;
    }, { timeoutMs: 20_000, intervalMs: 100, message: "nginx serving both routes itself" });
  } else if (haproxy) {
    // Until HAProxy serves both routes itself (its slot backends count sessions): the first calls teach it the route and the key.
    const { RuntimeApi } = await import(pathToFileURL(`${root}apps/server/dist/haproxy/runtime-api.js`).href);
    const api = new RuntimeApi(haproxy.socketPath);
    await waitFor(async () => {
      for (const r of Object.keys(upstreams)) await (await fetch(`http://127.0.0.1:${port}${ROUTES[r]}${r === "hello" ? "/hello" : "/flows"}`, { headers: { "x-access-key": KEY } })).arrayBuffer();
      const stat = (await api.run(["show stat"])).split("\n").map((l) => l.split(",")).filter((f) => /^s\d+$/.test(f[0]) && f[1] === "BACKEND" && Number(f[7]) > 0);
      return stat.length === Object.keys(upstreams).length;
    }, { timeoutMs: 20_000, intervalMs: 100, message: "HAProxy serving both routes itself" });
  }
  process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${port}`, pids: dp.pids() })}\n`);
}

/**
 * The control plane's metrics, as serve.ts gives a native front: each call the proxy logs is
 * observed in the gateway's latency histogram (the workers observe theirs in their own process).
 */
async function frontMetrics() {
  const { createMetrics } = await import(pathToFileURL(`${root}apps/server/dist/metrics.js`).href);
  return createMetrics();
}

/** The bare upstream: node:http, a fixed small JSON answer. */
async function serveHello() {
  const body = JSON.stringify({ hello: "world" });
  const s = createServer((_req, res) => { res.writeHead(200, { "content-type": "application/json", "content-length": body.length }); res.end(body); });
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  process.once("SIGTERM", () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${s.address().port}` })}\n`);
}

/** Spawns a child and resolves with the first match of `pattern` in its output (a URL, and the rest of the line). */
export async function child(args, env, pattern) {
  const proc = spawn(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "inherit"], ...OWN_SESSION });
  const m = await new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout.on("data", (c) => {
      if (buf.length > 8192) return;
      buf += c;
      const m = pattern.exec(buf);
      if (m) resolve(m);
    });
    proc.once("exit", (code) => reject(new Error(`${args.join(" ")} exited ${code}`)));
  });
  proc.stdout.resume();
  return { proc, url: m[1], match: m };
}

/** nginx in front of `upstreams` (by name: ROUTES), `workers` worker processes, upstream keepalive, unbuffered, no access log; null without nginx. */
export async function startNginx(upstreams, workers) {
  const bin = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].find((p) => spawnSync(p, ["-v"]).status === 0);
  if (!bin) return null;
  const dir = mkdtempSync(join(tmpdir(), "flowplane-nginx-"));
  const port = await freePort();
  const blocks = Object.entries(upstreams).map(([name, url]) => `  upstream ${name} { server ${new URL(url).host}; keepalive 128; }`).join("\n");
  const locations = Object.keys(upstreams).map((name) => `    location ${ROUTES[name]}/ {
      proxy_pass http://${name}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;   # the gateway streams answers unbuffered; so does nginx here
    }`).join("\n");
  writeFileSync(join(dir, "nginx.conf"), `
daemon off;
master_process on;
worker_processes ${workers};
${process.getuid?.() === 0 ? "user root root;" : ""}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${blocks}
  server {
    listen 127.0.0.1:${port};
${locations}
  }
}
`);
  const proc = spawn(bin, ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")], { stdio: ["ignore", "ignore", "inherit"], ...OWN_SESSION });
  return { proc, url: `http://127.0.0.1:${port}`, dir };
}

/**
 * CPU time (user + system, ms) used so far by the processes `pids` (Linux /proc; 0 elsewhere):
 * all of them, and those named haproxy or nginx (the split of a proxy target: the proxy itself against
 * the control plane reading its log and the workers behind it).
 */
function cpuMs(pids) {
  let ticks = 0;
  let haproxy = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.split(") ")[1].split(" ");
      const t = Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
      ticks += t;
      if (stat.includes("(haproxy)") || stat.includes("(nginx)")) haproxy += t;
    } catch { /* not Linux, or gone */ }
  }
  return { all: ticks * 10, haproxy: haproxy * 10 }; // USER_HZ is 100 on Linux
}

/**
 * Every process the benchmark starts (replica, targets, nginx, wrk) runs in a session of its own,
 * as the product's do (the local driver's replicas and the nginx front are started detached).
 * Linux's scheduler shares a CPU between sessions first (autogroups, on by default): a target in
 * the same session as the replica and wrk was scheduled apart from one in its own, and that alone
 * moved a figure by up to half on two cores (session 35, a run's POST at c16, the same rounds:
 * the candidate nginx+lua 19,000 req/s in the bench's session, 10,000-20,000 in one of its own;
 * the product's nginx, started detached, 10,000 where the candidate made 19,000).
 */
const OWN_SESSION = { detached: true };

const HAS_WRK = spawnSync("wrk", ["--version"]).error === undefined;

/** wrk's duration figures ("812.00us", "1.20ms", "2.00s") in ms. */
function wrkMs(s) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2]];
}

/** One wrk run (its own process, one thread): requests per second and latency in ms. Fails on any non-2xx answer. */
async function wrk({ url, method = "GET", headers = {}, body, connections, seconds }) {
  const dir = mkdtempSync(join(tmpdir(), "flowplane-wrk-"));
  try {
    const script = join(dir, "req.lua");
    writeFileSync(script, `wrk.method = ${JSON.stringify(method)}\n${body !== undefined ? `wrk.body = ${JSON.stringify(body)}\n` : ""}${Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join("\n")}\n`);
    const proc = spawn("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "--latency", "-s", script, url], { stdio: ["ignore", "pipe", "pipe"], ...OWN_SESSION });
    let out = "";
    proc.stdout.on("data", (c) => (out += c));
    proc.stderr.on("data", (c) => (out += c));
    const code = await new Promise((r) => proc.once("exit", r));
    if (code !== 0) throw new Error(`wrk exited ${code}: ${out.slice(-500)}`);
    const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    if (non2xx) throw new Error(`${method} ${url}: ${non2xx} non-2xx answers in ${total}`);
    const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const errors = se ? se.slice(1).reduce((a, x) => a + Number(x), 0) : 0;
    const pct = (p) => wrkMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out)?.[1] ?? "");
    return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), total, errors, p50: pct(50), p99: pct(99), mean: wrkMs(/Latency\s+(\S+)/.exec(out)?.[1] ?? "") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Requests per second, the proxy's CPU time per request (the fairer figure on a machine that
 * other work shares) and the upstream's: a proxy that sends the replica more (the gateway's
 * X-Forwarded-*, run id and secret headers) costs the replica more per call too.
 */
async function load(target, connections, seconds) {
  const before = cpuMs(target.pids());
  const upstreamBefore = cpuMs([target.upstreamPid]).all;
  const r = await (HAS_WRK ? wrk : autocannon)({ ...target, connections, seconds });
  const total = r.total || 1;
  // A handful of socket errors at high concurrency happen to every target on this loaded machine (reported, not fatal).
  if (r.errors > total / 100) throw new Error(`${target.name}: ${r.errors} socket errors in ${total}`);
  const after = cpuMs(target.pids());
  const upstreamAfter = cpuMs([target.upstreamPid]).all;
  return { ...r, cpuUsPerReq: ((after.all - before.all) * 1000) / total, haproxyUsPerReq: ((after.haproxy - before.haproxy) * 1000) / total, upstreamUsPerReq: ((upstreamAfter - upstreamBefore) * 1000) / total };
}

/**
 * What the data plane costs the API: the real server with one gateway worker (the worker owns
 * the port and hands every non-gateway connection to the control plane) against the same
 * server with the gateway in its own process (FLOWPLANE_GATEWAY_WORKERS=0), taking turns.
 * Keep-alive requests (the hand-over is paid once per connection) and a new connection per
 * request (`Connection: close`: every request pays it).
 */
async function apiCost(seconds, rounds) {
  const servers = [];
  try {
    for (const workers of ["1", "0"]) {
      const dir = mkdtempSync(join(tmpdir(), "flowplane-bench-api-"));
      const server = await startServer(dir, { FLOWPLANE_GATEWAY_WORKERS: workers, FLOWPLANE_LOG_LEVEL: "warn" });
      servers.push({ server, dir });
    }
    const key = (d) => readFileSync(join(d, "admin.key"), "utf8").trim();
    const targets = servers.map(({ server, dir }, i) => ({ name: i === 0 ? "API via a worker" : "API, no workers", url: `${server.url}/api/v1/me`, key: key(dir), pids: () => [server.child.pid, ...descendants(server.child.pid)] }));
    const res = await interleaved(targets, rounds, async (t) => {
      const keep = await load({ ...t, headers: { "x-access-key": t.key } }, 16, seconds);
      const fresh = await load({ ...t, headers: { "x-access-key": t.key, connection: "close" } }, 1, seconds);
      return { rps: keep.rps, p50: keep.p50, cpu: keep.cpuUsPerReq, freshRps: fresh.rps, freshP50: fresh.p50, freshCpu: fresh.cpuUsPerReq };
    });
    const [a, b] = targets.map((t) => res[t.name]);
    console.table(targets.map((t) => {
      const f = res[t.name];
      return { "GET /api/v1/me": t.name, "req/s c16 keep-alive": Math.round(med(f, "rps")), "CPU µs/req": Math.round(med(f, "cpu")), "p50 c16 ms": med(f, "p50").toFixed(2),
        "req/s c1 new connection each": Math.round(med(f, "freshRps")), "CPU µs/req (new conn.)": Math.round(med(f, "freshCpu")), "p50 c1 new conn. ms": med(f, "freshP50").toFixed(3) };
    }));
    console.log(`API through a worker vs without workers: keep-alive throughput ${ratio(med(a, "rps"), med(b, "rps"))}; new connection per request: throughput ${ratio(med(a, "freshRps"), med(b, "freshRps"))}, added p50 ${(med(a, "freshP50") - med(b, "freshP50")).toFixed(3)} ms`);
  } finally {
    for (const { server, dir } of servers) {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

export async function main() {
  const seconds = Number(process.argv.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? size(3, 1));
  const rounds = size(3, 1);
  const procs = [];
  let nginxDir;
  const tempDirs = [];
  try {
    // The replica as a driver starts one: the runtime's bin (its bundle), the replica's Node
    // options and process environment. Every front and nginx proxy to this one replica. A stale
    // bundle would be skipped by the bin for the unbundled dist/main.js (bench/runtime.mjs refuses it too).
    const { bundleIsFresh } = await import("../apps/runtime/bin/bundle-fresh.js");
    if (!bundleIsFresh()) throw new Error("the runtime's bundle is older than its TypeScript build: run `npm run build` first");
    const rt = await child([...REPLICA_NODE_OPTIONS, `${root}apps/runtime/bin/flowplane-runtime.js`], { ...REPLICA_ENV, FLOWPLANE_BUNDLE_PATH: fixture, FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_LOG_LEVEL: "info" }, /"url":"([^"]+)"/)
      .catch((e) => { throw new Error(`could not start the runtime (run \`npm run build\` first): ${e.message}`); });
    procs.push(rt.proc);
    const hello = await child([fileURLToPath(import.meta.url)], { FLOWPLANE_BENCH_ROLE: "hello" }, /"listening":"([^"]+)"/);
    procs.push(hello.proc);
    await waitFor(async () => (await fetch(`${rt.url}/ready`)).status === 200, { message: "the runtime's /ready" });
    const flowId = (await (await fetch(`${rt.url}/flows`)).json())[0].id;
    const upstreams = { replica: rt.url, hello: hello.url };
    const upstreamPids = { replica: rt.proc.pid, hello: hello.proc.pid };

    const bases = [{ name: "direct", url: null, pids: () => [] }];
    const HAS_HAPROXY = spawnSync("haproxy", ["-v"]).status === 0;
    if (!HAS_HAPROXY) console.log("haproxy not found (apt-get install -y haproxy): the haproxy target is skipped");
    const HAS_NGINX_LUA = spawnSync("nginx", ["-v"]).status === 0 && existsSync("/usr/lib/nginx/modules/ngx_http_lua_module.so");
    const targets = [["gateway", "0", "node"], ["gateway+log", "1", "node"], ...(HAS_HAPROXY ? [["haproxy", "0", "haproxy"]] : []), ...(HAS_NGINX_LUA ? [["flowplane-nginx", "0", "nginx"]] : [])].filter(([name]) => wanted(name));
    if (BASELINE) targets.push(["gateway (baseline)", "0", "node"]);
    for (const [name, log, proxy] of targets) {
      const gw = await child([name.endsWith("(baseline)") ? `${BASELINE}bench/gateway.mjs` : fileURLToPath(import.meta.url)], {
        FLOWPLANE_BENCH_ROLE: "gateway", FLOWPLANE_BENCH_UPSTREAMS: JSON.stringify(upstreams), FLOWPLANE_BENCH_LOG: log, FLOWPLANE_BENCH_PROXY: proxy,
        FLOWPLANE_BENCH_WORKERS: String(WORKERS), FLOWPLANE_BENCH_PORT: String(await freePort()),
      }, /"listening":"([^"]+)"/);
      procs.push(gw.proc);
      // The control plane and its workers (a restarted worker is counted too).
      bases.push({ name, url: gw.url, pids: () => [gw.proc.pid, ...descendants(gw.proc.pid)] });
    }
    if (WORKERS === 1 && wanted("node floor")) {
      const floor = await child([fileURLToPath(import.meta.url)], { FLOWPLANE_BENCH_ROLE: "floor", FLOWPLANE_BENCH_UPSTREAMS: JSON.stringify(upstreams) }, /"listening":"([^"]+)"/);
      procs.push(floor.proc);
      bases.push({ name: "node floor", url: floor.url, pids: () => [floor.proc.pid] });
    }
    const ng = await startNginx(upstreams, WORKERS);
    if (ng) {
      procs.push(ng.proc);
      nginxDir = ng.dir;
      bases.push({ name: "nginx", url: ng.url, pids: () => [ng.proc.pid, ...descendants(ng.proc.pid)] });
    } else {
      console.log("nginx not found (npm run bench installs it; or apt-get install -y nginx): its figures are skipped, and the goals cannot be judged");
    }
    // The candidate native data plane, and the same nginx with only the contract's headers (no
    // Lua, no key check: what any proxy keeping the contract costs at least), only when asked for
    // (--only=...,nginx+lua,nginx+headers).
    for (const [name, rulesOnly] of [["nginx+lua", false], ["nginx+headers", true]].filter(([n]) => ONLY?.includes(n))) {
      const c = await startNginxLua(upstreams, WORKERS, rulesOnly);
      if (!c) { console.log(`${name}: Debian's nginx or its Lua module (libnginx-mod-http-lua) not found: skipped`); continue; }
      procs.push(c.proc);
      tempDirs.push(c.dir);
      bases.push({ name, url: c.url, pids: () => [c.proc.pid, ...descendants(c.proc.pid)] });
    }
    const urlOf = (b, upstream, path) => (b.url ? `${b.url}${ROUTES[upstream]}${path}` : `${upstreams[upstream]}${path}`);
    for (const b of bases) await waitFor(async () => (await fetch(urlOf(b, "replica", "/flows"), { headers: { "x-access-key": KEY } })).status === 200, { message: `${b.name} answering` });

    const requests = [
      { name: "replica GET /flows", upstream: "replica", method: "GET", path: "/flows" },
      { name: "replica POST /flows/{id}/run", upstream: "replica", method: "POST", path: `/flows/${flowId}/run`, body: JSON.stringify({ input_value: "bench" }) },
      { name: "bare node:http GET /hello", upstream: "hello", method: "GET", path: "/hello" },
    ];
    console.log(`${HAS_WRK ? "wrk" : "autocannon (wrk not found)"}; ${WORKERS} worker process(es) for the data plane and for nginx; ${rounds} round(s) of ${seconds} s per figure, targets interleaved, medians${QUICK ? "  [quick mode: sizes too small to mean anything]" : ""}`);
    const rows = [];
    const verdicts = [];
    for (const rq of requests) {
      const targets = bases.map((b) => ({
        name: b.name, url: urlOf(b, rq.upstream, rq.path), method: rq.method, body: rq.body, pids: b.pids, upstreamPid: upstreamPids[rq.upstream],
        headers: { "x-access-key": KEY, ...(rq.body ? { "content-type": "application/json" } : {}) },
      }));
      for (const t of targets) await load(t, 16, 1); // warm-up: JIT, connection pools
      // One round measures every target once, in turn (A B C A B C ...): load from elsewhere hits them alike.
      const res = await interleaved(targets, rounds, async (t) => {
        const c16 = await load(t, 16, seconds);
        const c64 = await load(t, 64, seconds);
        const c1 = await load(t, 1, seconds);
        return { rps16: c16.rps, rps64: c64.rps, rps1: c1.rps, cpu: (c16.cpuUsPerReq + c64.cpuUsPerReq) / 2, haproxyCpu: (c16.haproxyUsPerReq + c64.haproxyUsPerReq) / 2, upstreamCpu: (c16.upstreamUsPerReq + c64.upstreamUsPerReq) / 2, errors: c16.errors + c64.errors,
          p50c1: c1.p50, p99c1: c1.p99, p50c16: c16.p50, p99c16: c16.p99 };
      });
      const d = res.direct;
      for (const t of targets) {
        const f = res[t.name];
        rows.push({
          request: rq.name, via: t.name,
          "req/s c1": Math.round(med(f, "rps1")), "req/s c16": Math.round(med(f, "rps16")), "req/s c64": Math.round(med(f, "rps64")),
          "c16 vs direct": ratio(med(f, "rps16"), med(d, "rps16")), "c64 vs direct": ratio(med(f, "rps64"), med(d, "rps64")),
          "proxy CPU µs/req": t.name === "direct" ? "" : Math.round(med(f, "cpu")),
          "of which the proxy": t.name === "haproxy" || t.name === "flowplane-nginx" ? Math.round(med(f, "haproxyCpu")) : "",
          "upstream CPU µs/req": Math.round(med(f, "upstreamCpu")),
          "socket errors": f.reduce((a, x) => a + x.errors, 0),
          "p50 c1 ms": med(f, "p50c1").toFixed(3), "p99 c1 ms": med(f, "p99c1").toFixed(2),
          "added p50 c1 ms": t.name === "direct" ? "" : (med(f, "p50c1") - med(d, "p50c1")).toFixed(3),
          "p50 c16 ms": med(f, "p50c16").toFixed(2), "p99 c16 ms": med(f, "p99c16").toFixed(2),
        });
      }
      if (res.nginx) {
        for (const g of ["gateway", "gateway (baseline)", "gateway+log", "haproxy", "flowplane-nginx", "nginx+lua", "nginx+headers", "node floor"].filter((n) => res[n])) {
          const r16 = med(res[g], "rps16") / med(res.nginx, "rps16");
          const r64 = med(res[g], "rps64") / med(res.nginx, "rps64");
          const added = med(res[g], "p50c1") - med(d, "p50c1");
          const addedNginx = med(res.nginx, "p50c1") - med(d, "p50c1");
          const cpu = med(res[g], "cpu") / med(res.nginx, "cpu");
          const up = med(res[g], "upstreamCpu") / med(res.nginx, "upstreamCpu");
          console.log(`${rq.name}: ${g}/nginx throughput c16 ${r16.toFixed(2)}x, c64 ${r64.toFixed(2)}x; CPU/request ${cpu.toFixed(1)}x nginx's, the upstream's ${up.toFixed(2)}x; added p50 at c1 ${added.toFixed(3)} ms (nginx ${addedNginx.toFixed(3)} ms)`);
          const via = { gateway: "the Node workers", haproxy: "HAProxy (FLOWPLANE_GATEWAY_PROXY=haproxy)", "flowplane-nginx": "nginx (FLOWPLANE_GATEWAY_PROXY=nginx)" }[g];
          if (rq.upstream === "replica" && via) verdicts.push({ what: `${rq.name} via ${via}`, r16, r64, added });
        }
      }
    }
    console.table(rows);
    if (!process.argv.includes("--no-api")) await apiCost(seconds, rounds);
    if (!ng) console.log("GOAL throughput >= 0.8x nginx and added p50 at c1 <= 0.5 ms: NOT MEASURED (no nginx to compare with)");
    for (const v of verdicts) {
      const tp = v.r16 >= 0.8 && v.r64 >= 0.8;
      const lat = v.added <= 0.5;
      console.log(`GOAL ${v.what}: throughput >= 0.8x nginx at c16 and c64: ${tp ? "MET" : "MISSED"} (${v.r16.toFixed(2)}x, ${v.r64.toFixed(2)}x); added p50 at c1 <= 0.5 ms: ${lat ? "MET" : "MISSED"} (${v.added.toFixed(3)} ms)`);
    }
  } finally {
    await Promise.all(procs.map((p) => stopChild(p)));
    if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && !process.env.FLOWPLANE_BENCH_ROLE) await main();
