#!/usr/bin/env node
// Gateway benchmark: one real runtime replica (simple-chat-no-llm, no LLM) called three ways in
// one run: directly, through the flowplane gateway (with and without its access log), and through
// nginx (Debian's, as a child process on loopback with upstream keepalive). Two requests: GET
// /flows (pure proxying) and POST /flows/{id}/run (a small run). autocannon, in its own process,
// drives each target at concurrency 16, 64 and 1; the targets are measured interleaved over rounds
// (A B C D A B C D ...) and shown as ratios to the direct calls and to nginx of the same run. The
// gateway and nginx each get one process/worker, and the proxies' CPU time per request is read
// from /proc (the fairer figure on a shared machine).
//
// Usage: npx tsc -b && node bench/gateway.mjs [seconds-per-figure] [--quick]   (default 5; quick: 1 s, 1 round)
// Needs: nginx (apt-get install -y nginx; found at /usr/sbin or /usr/local/sbin); without it the nginx figures are skipped.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { QUICK, autocannon, freePort, interleaved, med, ratio, size, stopChild, waitFor } from "./lib/common.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const fixture = `${root}../shared/fixtures/langflow/simple-chat-no-llm.json`;
const KEY = "bench-key";
const ROUTE = "/projects/p/apps/a/routes/r";

// The gateway runs in its own process (this file again, in this role), so the load generator
// does not share its event loop.
if (process.env.FLOWPLANE_BENCH_ROLE === "gateway") await serveGateway();

async function serveGateway() {
  const { default: Fastify } = await import("fastify");
  const { registerGateway } = await import(pathToFileURL(`${root}apps/server/dist/gateway/index.js`).href);
  const { createMetrics } = await import(pathToFileURL(`${root}apps/server/dist/metrics.js`).href);
  const upstream = process.env.FLOWPLANE_BENCH_UPSTREAM;
  const logged = process.env.FLOWPLANE_BENCH_LOG === "1";
  const app = Fastify({ logger: logged ? { level: "info", file: "/dev/null" } : false });
  const principal = { userId: "u", name: "bench", kind: "machine", orgOwner: false, roles: new Map([["p", "viewer"]]) };
  const route = { projectId: "p", appId: "a", routeId: "r", kind: "http", deploymentId: "d", resourceName: "res", networkAccess: "public", requestTimeoutSeconds: 300 };
  registerGateway(app, {
    listener: "public",
    bodyLimit: 10 * 1024 * 1024,
    metrics: createMetrics(),
    authenticate: async (key) => (key === KEY ? principal : null),
    resolveRoute: async (id) => (id === "r" ? route : null),
    endpoints: () => [upstream],
    gatewaySecret: () => "bench-gateway-secret",
  });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  // A clean exit (not death by signal), so `node --cpu-prof` can write its profile.
  process.once("SIGTERM", () => void app.close().then(() => process.exit(0)));
  process.stdout.write(`${JSON.stringify({ listening: url })}\n`);
}

/** Spawns a child and resolves with the first URL it prints (`"url":` or `"listening":`). */
async function child(args, env, pattern) {
  const proc = spawn(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout.on("data", (c) => {
      if (buf.length > 8192) return;
      buf += c;
      const m = pattern.exec(buf);
      if (m) resolve(m[1]);
    });
    proc.once("exit", (code) => reject(new Error(`${args.join(" ")} exited ${code}`)));
  });
  proc.stdout.resume();
  return { proc, url };
}

async function startNginx(upstream) {
  const bin = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].find((p) => spawnSync(p, ["-v"]).status === 0);
  if (!bin) return null;
  const dir = mkdtempSync(join(tmpdir(), "flowplane-nginx-"));
  const port = await freePort();
  const u = new URL(upstream);
  writeFileSync(join(dir, "nginx.conf"), `
daemon off;
master_process on;
worker_processes 1;
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
  upstream runtime { server ${u.host}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://runtime;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;   # the gateway streams answers unbuffered; so does nginx here
    }
  }
}
`);
  const proc = spawn(bin, ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")], { stdio: ["ignore", "ignore", "inherit"] });
  return { proc, url: `http://127.0.0.1:${port}`, dir };
}

/** CPU time (user + system, ms) used so far by the processes `pids` (Linux /proc; 0 elsewhere). */
function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    } catch { /* not Linux, or gone */ }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** The nginx worker's pid (the master only accepts and supervises). */
function childPids(pid) {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}

/**
 * Requests per second under autocannon (its own process), and the proxy's CPU time per request:
 * the second is the fairer figure on a machine that other work shares (throughput there depends
 * on who else runs; CPU per request does much less).
 */
async function load(target, connections, seconds) {
  const before = cpuMs(target.pids);
  const r = await autocannon({ ...target, connections, seconds });
  const total = r.total || 1;
  // A handful of socket errors at high concurrency happen to every proxy here (reported, not fatal).
  if (r.errors > total / 1000) throw new Error(`${target.name}: ${r.errors} socket errors in ${total}`);
  return { ...r, cpuUsPerReq: ((cpuMs(target.pids) - before) * 1000) / total };
}

export async function main() {
  const seconds = Number(process.argv.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? size(5, 1));
  const rounds = size(3, 1);
  const procs = [];
  let nginxDir;
  try {
    const rt = await child([`${root}apps/runtime/dist/main.js`], { FLOWPLANE_BUNDLE_PATH: fixture, FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_LOG_LEVEL: "info" }, /"url":"([^"]+)"/)
      .catch((e) => { throw new Error(`could not start the runtime (run \`npx tsc -b\` first): ${e.message}`); });
    procs.push(rt.proc);
    await waitFor(async () => (await fetch(`${rt.url}/ready`)).status === 200, { message: "the runtime's /ready" });
    const flowId = (await (await fetch(`${rt.url}/flows`)).json())[0].id;

    const bases = [{ name: "direct", url: rt.url, prefix: "", pids: [] }];
    for (const [name, log] of [["gateway", "0"], ["gateway+log", "1"]]) {
      const gw = await child([fileURLToPath(import.meta.url)], { FLOWPLANE_BENCH_ROLE: "gateway", FLOWPLANE_BENCH_UPSTREAM: rt.url, FLOWPLANE_BENCH_LOG: log }, /"listening":"([^"]+)"/);
      procs.push(gw.proc);
      bases.push({ name, url: gw.url, prefix: ROUTE, pids: [gw.proc.pid] });
    }
    const ng = await startNginx(rt.url);
    if (ng) {
      procs.push(ng.proc);
      nginxDir = ng.dir;
      bases.push({ name: "nginx", url: ng.url, prefix: "", pids: [] });
    } else {
      console.log("nginx not found (apt-get install -y nginx): its figures are skipped");
    }
    for (const b of bases) await waitFor(async () => (await fetch(`${b.url}${b.prefix}/flows`, { headers: { "x-access-key": KEY } })).status === 200, { message: `${b.name} answering` });
    if (ng) bases.at(-1).pids = childPids(ng.proc.pid);

    const requests = [
      { name: "GET /flows", method: "GET", path: "/flows" },
      { name: "POST /flows/{id}/run", method: "POST", path: `/flows/${flowId}/run`, body: JSON.stringify({ input_value: "bench" }) },
    ];
    console.log(`runtime ${rt.url}; ${rounds} round(s) of ${seconds} s per figure, targets interleaved, medians${QUICK ? "  [quick mode: sizes too small to mean anything]" : ""}`);
    console.log("2 CPUs shared by the load generator (autocannon, its own process), the runtime and the proxy under test");
    const rows = [];
    for (const rq of requests) {
      const targets = bases.map((b) => ({
        name: b.name, url: `${b.url}${b.prefix}${rq.path}`, method: rq.method, body: rq.body, pids: b.pids,
        headers: { "x-access-key": KEY, ...(rq.body ? { "content-type": "application/json" } : {}) },
      }));
      for (const t of targets) await load(t, 16, 1); // warm-up: JIT, connection pools
      // One round measures every target once, in turn (A B C A B C ...): load from elsewhere hits them alike.
      const res = await interleaved(targets, rounds, async (t) => {
        const c16 = await load(t, 16, seconds);
        const c64 = await load(t, 64, seconds);
        const c1 = await load(t, 1, seconds);
        return { rps16: c16.rps, rps64: c64.rps, cpu: (c16.cpuUsPerReq + c64.cpuUsPerReq) / 2, errors: c16.errors + c64.errors,
          mean1: c1.mean, p99c1: c1.p99, mean16: c16.mean, p99c16: c16.p99 };
      });
      const d = res.direct;
      for (const t of targets) {
        const f = res[t.name];
        rows.push({
          request: rq.name, via: t.name,
          "req/s c16": Math.round(med(f, "rps16")), "req/s c64": Math.round(med(f, "rps64")),
          "c16 vs direct": ratio(med(f, "rps16"), med(d, "rps16")), "c64 vs direct": ratio(med(f, "rps64"), med(d, "rps64")),
          "proxy CPU µs/req": t.name === "direct" ? "" : Math.round(med(f, "cpu")),
          "socket errors": f.reduce((a, x) => a + x.errors, 0),
          "mean c1 ms": med(f, "mean1").toFixed(2), "p99 c1 ms": med(f, "p99c1"),
          "mean c16 ms": med(f, "mean16").toFixed(2), "p99 c16 ms": med(f, "p99c16"),
          "added mean c1 ms": t.name === "direct" ? "" : (med(f, "mean1") - med(d, "mean1")).toFixed(2),
        });
      }
      if (res.nginx) {
        for (const g of ["gateway", "gateway+log"]) {
          console.log(`${rq.name}: ${g}/nginx throughput  c16 ${ratio(med(res[g], "rps16"), med(res.nginx, "rps16"))}  c64 ${ratio(med(res[g], "rps64"), med(res.nginx, "rps64"))}`);
        }
      }
    }
    console.table(rows);
  } finally {
    await Promise.all(procs.map((p) => stopChild(p)));
    if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.env.FLOWPLANE_BENCH_ROLE !== "gateway") await main();
