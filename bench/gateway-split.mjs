#!/usr/bin/env node
// Where a run's CPU goes, process by process: nginx in front of one replica against flowplane's
// nginx (FLOWPLANE_GATEWAY_PROXY=nginx, as bench/gateway.mjs's "flowplane-nginx" target runs it:
// its control plane, one gateway worker, one nginx worker) in front of the same replica, taking
// turns (A B A B ...), at c16 and c64, wrk as the load. bench/gateway.mjs says whether the goal
// is met; this says why a ratio is what it is. Per run, from /proc: each process's CPU (user +
// system) — nginx's workers, the control plane (it reads nginx's log lines), the gateway worker,
// the replica and wrk itself — the replica's voluntary context switches (it slept waiting for
// work: a front that cannot keep it busy) and involuntary ones (something else took its CPU), and
// how many of the calls flowplane's nginx sent to the workers instead of serving them (its
// programming socket's GET /stats). Ratios are flowplane's nginx over nginx, per round, then the median.
// Usage: npm run build && node bench/gateway-split.mjs [seconds-per-figure] [--quick]   (default 3 s, 3 rounds)
// Needs: nginx with its Lua module, and wrk (npm run bench installs them); without them it says so and stops.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { REPLICA_ENV, REPLICA_NODE_OPTIONS, descendants, freePort, median, size, stopChild, waitFor } from "./lib/common.mjs";
import { child, startNginx } from "./gateway.mjs";
import { NGINX_LUA_MODULE } from "./lib/nginx-lua-fast-path.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const ROUTE = "/projects/p/apps/a/routes/replica";
const KEY = "bench-key";

/** A process's name, CPU so far (ms) and context switches, or null once it is gone. */
function sample(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return {
      name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
      cmdline: readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " "),
      cpuMs: (Number(f[11]) + Number(f[12])) * 10, // utime + stime, USER_HZ 100
      voluntary: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0),
      involuntary: Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0),
    };
  } catch {
    return null;
  }
}

/** The calls flowplane's nginx served itself so far (its programming socket's GET /stats), the socket found from its master's command line (-p). */
async function fastCalls(gatewayPid) {
  const { NginxProgramClient } = await import(pathToFileURL(`${root}apps/server/dist/nginx/program-client.js`).href);
  const { programSocket } = await import(pathToFileURL(`${root}apps/server/dist/nginx/config.js`).href);
  for (const pid of descendants(gatewayPid)) {
    const dir = / -p (\S+)/.exec(sample(pid)?.cmdline ?? "")?.[1];
    if (dir && existsSync(programSocket(dir))) return (await new NginxProgramClient({ socketPath: programSocket(dir) }).stats()).fast;
  }
  return NaN;
}

/** What a process is, for the table: the replica and the control plane by pid, the rest by name. */
function roleOf(pid, s, t) {
  if (pid === t.replicaPid) return "replica";
  if (pid === t.controlPlanePid) return "control plane";
  if (s.name === "nginx") return "nginx";
  if (s.cmdline.includes("data-plane/worker")) return "gateway worker";
  return s.name;
}

/** One wrk run against a target: runs a second, and per run each role's CPU (µs) and the replica's context switches. */
async function measure(t, connections, seconds, script) {
  const pids = [...t.pids(), t.replicaPid];
  const before = new Map(pids.map((p) => [p, sample(p)]));
  const fast0 = t.controlPlanePid ? await fastCalls(t.controlPlanePid) : 0;
  const wrk = spawn("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "-s", script, `${t.url}${ROUTE}/flows/${t.flowId}/run`], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  wrk.stdout.on("data", (c) => (out += c));
  // wrk's own CPU, read while it runs (its /proc entry goes with it): its last 50 ms at most are missed.
  let wrkLast = null;
  const poll = setInterval(() => { wrkLast = sample(wrk.pid) ?? wrkLast; }, 50);
  const code = await new Promise((r) => wrk.once("exit", r));
  clearInterval(poll);
  if (code !== 0) throw new Error(`wrk exited ${code}: ${out.slice(-300)}`);
  const runs = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  if (/Non-2xx or 3xx responses/.test(out) || runs === 0) throw new Error(`${t.name}: runs failed: ${out.slice(-300)}`);
  const row = { rps: runs / seconds, cpu: {} };
  for (const p of pids) {
    const a = sample(p);
    const b = before.get(p);
    if (!a || !b) continue;
    const role = roleOf(p, a, t);
    row.cpu[role] = (row.cpu[role] ?? 0) + ((a.cpuMs - b.cpuMs) * 1000) / runs;
    if (p === t.replicaPid) {
      row.replicaSlept = (a.voluntary - b.voluntary) / runs;
      row.replicaPreempted = (a.involuntary - b.involuntary) / runs;
    }
  }
  if (wrkLast) row.cpu.wrk = (wrkLast.cpuMs * 1000) / runs;
  // (Within the calls in flight as wrk stops, which it does not count and nginx may have counted.)
  if (t.controlPlanePid) row.toWorkers = Math.max(0, runs - ((await fastCalls(t.controlPlanePid)) - fast0));
  return row;
}

export async function main() {
  const seconds = Number(process.argv.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? size(3, 1));
  const rounds = size(3, 1);
  if (spawnSync("nginx", ["-v"]).error || !existsSync(NGINX_LUA_MODULE) || spawnSync("wrk", ["--version"]).error) {
    console.log("gateway-split: needs nginx with its Lua module (libnginx-mod-http-lua) and wrk (npm run bench installs them): not measured");
    return;
  }
  const { bundleIsFresh } = await import("../apps/runtime/bin/bundle-fresh.js");
  if (!bundleIsFresh()) throw new Error("the runtime's bundle is older than its TypeScript build: run `npm run build` first");
  const procs = [];
  let nginxDir;
  const dir = mkdtempSync(join(tmpdir(), "flowplane-split-"));
  try {
    const rt = await child([...REPLICA_NODE_OPTIONS, `${root}apps/runtime/bin/flowplane-runtime.js`], {
      ...REPLICA_ENV, FLOWPLANE_BUNDLE_PATH: `${root}../shared/fixtures/langflow/simple-chat-no-llm.json`, FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_LOG_LEVEL: "info",
    }, /"url":"([^"]+)"/);
    procs.push(rt.proc);
    const replica = rt.url;
    await waitFor(async () => (await fetch(`${replica}/ready`)).status === 200, { message: "the runtime's /ready" });
    const flowId = (await (await fetch(`${replica}/flows`)).json())[0].id;
    // nginx as bench/gateway.mjs runs it: one worker, upstream keepalive, unbuffered, no access log.
    const ng = await startNginx({ replica }, 1);
    nginxDir = ng.dir;
    procs.push(ng.proc);
    const gw = await child([`${root}bench/gateway.mjs`], {
      FLOWPLANE_BENCH_ROLE: "gateway", FLOWPLANE_BENCH_UPSTREAMS: JSON.stringify({ replica, hello: replica }), FLOWPLANE_BENCH_LOG: "0",
      FLOWPLANE_BENCH_PROXY: "nginx", FLOWPLANE_BENCH_WORKERS: "1", FLOWPLANE_BENCH_PORT: String(await freePort()),
    }, /"listening":"([^"]+)"/);
    procs.push(gw.proc);
    const targets = [
      { name: "nginx", url: ng.url, pids: () => [ng.proc.pid, ...descendants(ng.proc.pid)], replicaPid: rt.proc.pid, flowId },
      { name: "flowplane-nginx", url: gw.url, pids: () => [gw.proc.pid, ...descendants(gw.proc.pid)], replicaPid: rt.proc.pid, controlPlanePid: gw.proc.pid, flowId },
    ];
    for (const t of targets) await waitFor(async () => (await fetch(`${t.url}${ROUTE}/flows`, { headers: { "x-access-key": KEY } })).status === 200, { message: `${t.name} answering` });
    const script = join(dir, "run.lua");
    writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(JSON.stringify({ input_value: "bench" }))}\nwrk.headers["content-type"] = "application/json"\nwrk.headers["x-access-key"] = "${KEY}"\n`);
    console.log(`wrk, POST /flows/{id}/run; nginx and flowplane's nginx (one worker each) in front of one replica, taking turns; ${rounds} round(s) of ${seconds} s per figure; medians; CPU in µs a run`);
    for (const c of [16, 64]) {
      for (const t of targets) await measure(t, c, 1, script); // warm-up: JIT, connection pools
      const res = { nginx: [], "flowplane-nginx": [] };
      for (let r = 0; r < rounds; r++) for (const t of targets) res[t.name].push(await measure(t, c, seconds, script));
      const roles = [...new Set(Object.values(res).flat().flatMap((x) => Object.keys(x.cpu)))];
      const rows = targets.map((t) => {
        const f = res[t.name];
        const m = (get) => median(f.map(get));
        const total = m((x) => Object.values(x.cpu).reduce((a, b) => a + b, 0));
        return {
          [`c${c}`]: t.name, "runs/s": Math.round(m((x) => x.rps)),
          ...Object.fromEntries(roles.map((role) => [role, f.some((x) => x.cpu[role] !== undefined) ? m((x) => x.cpu[role] ?? 0).toFixed(1) : ""])),
          "all": total.toFixed(1),
          "replica slept /run": m((x) => x.replicaSlept ?? 0).toFixed(3), "replica preempted /run": m((x) => x.replicaPreempted ?? 0).toFixed(3),
          [`to the workers (± ${c})`]: t.controlPlanePid ? `${f.map((x) => x.toWorkers).join(" / ")} of ${f.map((x) => Math.round(x.rps * seconds)).join(" / ")}` : "",
        };
      });
      console.table(rows);
      const per = (get) => median(res["flowplane-nginx"].map((x, i) => get(x) / get(res.nginx[i])));
      const sum = (x) => Object.values(x.cpu).reduce((a, b) => a + b, 0);
      console.log(`c${c}: flowplane's nginx / nginx, per round then the median: runs a second ${per((x) => x.rps).toFixed(2)}x; CPU a run, every process ${per(sum).toFixed(2)}x, the front's own (nginx's workers) ${per((x) => x.cpu.nginx ?? NaN).toFixed(2)}x, the replica's ${per((x) => x.cpu.replica ?? NaN).toFixed(2)}x`);
    }
  } finally {
    await Promise.all(procs.map((p) => stopChild(p.proc ?? p)));
    rmSync(dir, { recursive: true, force: true });
    if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
