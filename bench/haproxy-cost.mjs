#!/usr/bin/env node
// What HAProxy's fast path costs per call, counted rather than timed (issue 16's gateway goal):
// the user-space instructions each proxy executes per proxied request, under valgrind's
// callgrind, for flowplane's HAProxy configuration as the server writes it (apps/server's
// haproxy/config.ts, its maps and a slot server programmed as program.ts does), for the same
// configuration with one group of its rules taken out (where the cost goes), for a minimal
// HAProxy (one frontend, one backend, no rules, no log) and for nginx (one process, upstream
// keepalive, no access log), all in front of the same bare node:http upstream. Beside them, a
// candidate native data plane doing the same work per call: nginx with its Lua module
// (bench/lib/nginx-lua-fast-path.mjs), and the same nginx with only the contract's header rules.
//
// Why counted: on a shared two-core VM the CPU time per request of one configuration moves by
// a third from one run to the next (32-42 µs in three runs of the same one), which hides the
// difference between two configurations; an instruction count does not move with the machine's
// load. It covers user space only: the system calls, and the kernel's loopback TCP work they
// cost (about half of each proxy's CPU here), are the same for all three proxies, one read and
// one write per request each way.
//
// Usage: node bench/haproxy-cost.mjs [--quick] [--only=flowplane-nginx] [--run]   (after npx tsc -b; needs haproxy, valgrind, nginx
// and libnginx-mod-http-lua: `npm run bench` installs them). Load: autocannon in its own process, N requests over 16 connections.
// --run: each request is a flow run (`POST .../flows/f1/run` with a small JSON body) instead of a `GET`: the fronts read and
// search the body and write the run's log line (docs/performance.md gives both counts).
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { QUICK, autocannon, freePort, root, size, startListening, stopChild, waitFor } from "./lib/common.mjs";
import { NGINX_LUA_MODULE, nginxFastPathConfig } from "./lib/nginx-lua-fast-path.mjs";

const { renderConfig, routeMapKey } = await import(pathToFileURL(`${root}apps/server/dist/haproxy/config.js`).href);
const { RuntimeApi } = await import(pathToFileURL(`${root}apps/server/dist/haproxy/runtime-api.js`).href);
const { ORIGIN_WIDE_ANSWER_HEADERS, REDIRECT_ANSWER_HEADERS } = await import(pathToFileURL(`${root}apps/server/dist/gateway/headers.js`).href);
const { renderNginxConfig, programSocket } = await import(pathToFileURL(`${root}apps/server/dist/nginx/config.js`).href);
const { NginxProgramClient } = await import(pathToFileURL(`${root}apps/server/dist/nginx/program-client.js`).href);

const KEY = "bench-key";
/** `--only=flowplane-nginx`: that row and its variant only, beside nginx (a quick count while changing nginx/lua.ts). */
const ONLY_FP_NGINX = process.argv.includes("--only=flowplane-nginx");
/** `--run`: a flow run's call (a body to read and search, a log line of its own) instead of a GET the fronts only count. */
const RUN = process.argv.includes("--run");
const PATH = RUN ? "/projects/p/apps/a/routes/r/flows/f1/run" : "/projects/p/apps/a/routes/r/hello";
/** What each request of the load is, beside its key. */
const LOAD = RUN ? { method: "POST", body: JSON.stringify({ input_value: "bench" }), extraHeaders: { "content-type": "application/json" } } : { extraHeaders: {} };
const has = (cmd, args = ["-v"]) => spawnSync(cmd, args).error === undefined;
// FLOWPLANE_HAPROXY_BIN, as the server reads it: another HAProxy build counted the same way.
const haproxyBin = [process.env.FLOWPLANE_HAPROXY_BIN, "/usr/sbin/haproxy", "haproxy"].find((b) => b && has(b));
const nginxBin = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].find((b) => has(b));

/** Lines of flowplane's configuration matching `re` taken out (a whole group of rules), or null for all of it. */
const without = (re) => (cfg) => cfg.split("\n").filter((l) => !re.test(l)).join("\n");
const VARIANTS = [
  ["flowplane's fast path, as configured", (cfg) => cfg],
  ["  without its log line (the ring)", without(/^ {2}log ring@/)],
  ["  without the forwarding headers (set-header, del-header on the request)", without(/^ {2}http-request (set|del)-header /)],
  ["  without the answer's rules (http-response, http-after-response)", without(/^ {2}http-(after-)?response /)],
  ["  without the run id (HAProxy's uuid)", (cfg) => cfg.replace("set-var(txn.fp_rid) uuid", "set-var(txn.fp_rid) str(00000000-0000-4000-8000-000000000000)")],
];

/** The user-space instructions a callgrind dump holds (its `summary:` or `totals:` line). */
function instructions(file) {
  const m = /^(?:summary|totals): (\d+)/m.exec(readFileSync(file, "utf8"));
  if (!m) throw new Error(`no instruction count in ${file}`);
  return Number(m[1]);
}

/**
 * Runs `args` under callgrind, waits for `url` to answer 200 through it, warms it up, zeroes the
 * counters, sends `n` requests, dumps: instructions per request.
 */
async function countPerRequest(dir, name, args, url, n) {
  const out = join(dir, `${name}.cg`);
  // LuaJIT writes the machine code it runs: valgrind must see those writes (no effect on the others).
  const proc = spawn("valgrind", ["--tool=callgrind", "--smc-check=all-non-file", `--callgrind-out-file=${out}`, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr.on("data", (c) => (err = (err + c).slice(-4000)));
  try {
    const headers = { "x-access-key": KEY };
    await waitFor(async () => (await fetch(url, { headers })).status === 200, { timeoutMs: 60_000, intervalMs: 250, message: `${name} answering through valgrind: ${err.slice(-400)}` });
    const { extraHeaders, ...load } = LOAD;
    await autocannon({ url, headers: { ...headers, ...extraHeaders }, connections: 16, amount: 200, ...load });
    if (spawnSync("callgrind_control", ["-z", String(proc.pid)]).status !== 0) throw new Error(`callgrind_control -z ${proc.pid} failed`);
    await autocannon({ url, headers: { ...headers, ...extraHeaders }, connections: 16, amount: n, ...load });
    if (spawnSync("callgrind_control", ["-d", String(proc.pid)]).status !== 0) throw new Error(`callgrind_control -d ${proc.pid} failed`);
    const dump = readdirSync(dir).filter((f) => f.startsWith(`${name}.cg.`)).sort().at(-1);
    if (!dump) throw new Error(`no callgrind dump for ${name}`);
    return instructions(join(dir, dump)) / n;
  } finally {
    await stopChild(proc);
  }
}

/**
 * flowplane's own nginx (apps/server's nginx/config.ts as the server writes it, one process),
 * programmed over its socket as nginx/program.ts does: the route, and the key again every second
 * (a key entry lives 4 s at most, and callgrind runs far slower than that).
 */
async function countFlowplaneNginx(dir, label, edit, up, sinkPort, n) {
  const port = await freePort();
  const ngDir = mkdtempSync(join(dir, "flowplane-nginx-"));
  const conf = join(ngDir, "nginx.conf");
  writeFileSync(conf, edit(renderNginxConfig({ dir: ngDir, bind: { host: "127.0.0.1", port }, node: { path: join(ngDir, "node.sock") }, workers: 1, maxConnections: 1024, fastBodyMax: 16_384, logSink: { port: sinkPort, token: "bench" }, ...(process.getuid?.() === 0 ? { user: { name: "root", group: "root" } } : {}) })));
  const client = new NginxProgramClient({ socketPath: programSocket(ngDir) });
  const key = { key: `${createHash("sha256").update(KEY).digest("hex")}/p`, userId: "user", keyId: "key", ttlMs: 4_000 };
  let stop = false;
  const program = (async () => {
    await waitFor(async () => { await client.stats(); return true; }, { timeoutMs: 60_000, intervalMs: 250, message: "nginx's programming socket" });
    await client.send({ routes: { set: [{ key: routeMapKey({ projectId: "p", appId: "a", routeId: "r" }), deployment: "dep", project: "p", app: "a", revision: 1, timeoutMs: 30_000, secret: "secret-0123456789", route: "r", addresses: [`${up.hostname}:${up.port}`] }] }, keys: { set: [key] } });
    while (!stop) {
      await new Promise((r) => setTimeout(r, 1_000));
      await client.send({ keys: { set: [key] } }).catch(() => undefined);
    }
  })();
  // No workers behind it (node.sock does not exist): a call it did not serve itself is a 502, which fails the count.
  try {
    return await countPerRequest(dir, `fpnginx${port}`, [nginxBin, "-p", ngDir, "-c", conf, "-e", join(ngDir, "error.log"), "-g", "daemon off; master_process off;"], `http://127.0.0.1:${port}${PATH}`, n);
  } finally {
    stop = true;
    await program.catch(() => undefined);
  }
}

export async function main() {
  const missing = [["haproxy", haproxyBin], ["valgrind", has("valgrind", ["--version"])], ["callgrind_control", has("callgrind_control", ["-h"])]].filter(([, ok]) => !ok).map(([x]) => x);
  if (missing.length) {
    console.log(`haproxy-cost: ${missing.join(", ")} not found (npm run bench installs them): skipped`);
    return;
  }
  const n = size(3000, 300);
  const dir = mkdtempSync(join(tmpdir(), "flowplane-haproxy-cost-"));
  const upstream = await startListening("hello", [`${root}bench/lib/hello-server.mjs`], {}, "/");
  // HAProxy's log ring forwards to the control plane's sink: here a listener that reads and drops.
  const sink = createServer((c) => c.resume().on("error", () => undefined));
  await new Promise((r) => sink.listen(0, "127.0.0.1", r));
  const rows = [];
  try {
    const up = new URL(upstream.url);
    // flowplane's configuration, its maps holding one route and one key as program.ts writes them.
    const routesMap = join(dir, "routes.map");
    const keysMap = join(dir, "keys.map");
    writeFileSync(routesMap, `${routeMapKey({ projectId: "p", appId: "a", routeId: "r" })} s0|dep|p|a|1|30000|secret-0123456789|r\n`);
    writeFileSync(keysMap, `${createHash("sha256").update(KEY).digest("hex")}/p user|key\n`);
    for (const [label, edit] of ONLY_FP_NGINX ? [] : VARIANTS) {
      const port = await freePort();
      const socket = join(dir, `stats-${port}.sock`);
      const cfg = edit(renderConfig({ bind: { host: "127.0.0.1", port }, node: { host: "127.0.0.1", port: await freePort() }, socket, routesMap, keysMap, slots: 1, threads: 1, maxConnections: 4096, fastBodyMax: 16_384, logSink: { port: sink.address().port, token: "bench" } }));
      const file = join(dir, `haproxy-${port}.cfg`);
      writeFileSync(file, cfg);
      const check = spawnSync(haproxyBin, ["-c", "-q", "-f", file], { encoding: "utf8" });
      if (check.status !== 0) throw new Error(`${label}: HAProxy refused the configuration: ${check.stderr.slice(-400)}`);
      // The slot's server, programmed over the runtime API once HAProxy is up, as program.ts does.
      const program = (async () => {
        const api = new RuntimeApi(socket);
        await waitFor(async () => { await api.now(["show info"]); return true; }, { timeoutMs: 60_000, intervalMs: 250, message: "HAProxy's runtime API" });
        await api.run([`add server s0/r1 ${up.hostname}:${up.port} pool-max-conn -1 pool-purge-delay 10s`, "enable server s0/r1"]);
      })();
      const counted = countPerRequest(dir, `hp${port}`, [haproxyBin, "-f", file], `http://127.0.0.1:${port}${PATH}`, n);
      // Both awaited whatever fails first: a rejection left unheard would end the process before `finally` stops what it started.
      const [programmed, count] = await Promise.allSettled([program, counted]);
      if (programmed.status === "rejected") throw programmed.reason;
      if (count.status === "rejected") throw count.reason;
      rows.push([label, count.value]);
    }
    const minPort = await freePort();
    const minFile = join(dir, "minimal.cfg");
    writeFileSync(minFile, `global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n  option http-keep-alive\nfrontend f\n  bind 127.0.0.1:${minPort} proto h1\n  default_backend b\nbackend b\n  server r1 ${up.hostname}:${up.port}\n`);
    if (!ONLY_FP_NGINX) rows.push(["minimal HAProxy (no rules, no log)", await countPerRequest(dir, "minimal", [haproxyBin, "-f", minFile], `http://127.0.0.1:${minPort}${PATH}`, n)]);
    if (nginxBin) {
      const ngPort = await freePort();
      writeFileSync(join(dir, "nginx.conf"), `daemon off;\nmaster_process off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n  upstream up { server ${up.hostname}:${up.port}; keepalive 64; }\n  server {\n    listen 127.0.0.1:${ngPort};\n    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }\n  }\n}\n`);
      rows.push(["nginx (one process, no access log)", await countPerRequest(dir, "nginx", [nginxBin, "-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "nginx-error.log")], `http://127.0.0.1:${ngPort}${PATH}`, n)]);
      // The candidate: the same nginx doing the fast path's work, and with only its header rules.
      const answerDrops = [...ORIGIN_WIDE_ANSWER_HEADERS, ...REDIRECT_ANSWER_HEADERS];
      const candidates = [["nginx with the fast path's header rules only (no Lua, no key check)", true]];
      // Debian's module loads only into Debian's nginx.
      if (existsSync(NGINX_LUA_MODULE) && nginxBin === "/usr/sbin/nginx") candidates.push(["nginx + Lua doing the fast path's work (a candidate)", false]);
      else console.log(`${NGINX_LUA_MODULE} not found, or nginx is not Debian's (npm run bench installs both): the nginx + Lua row is skipped`);
      for (const [label, rulesOnly] of ONLY_FP_NGINX ? [] : candidates) {
        const port = await freePort();
        const conf = join(dir, `nginx-${port}.conf`);
        writeFileSync(conf, nginxFastPathConfig({ dir, port, upstream: up, key: KEY, answerDrops, rulesOnly }));
        rows.push([label, await countPerRequest(dir, `nginx${port}`, [nginxBin, "-p", dir, "-c", conf, "-e", join(dir, "nginx-error.log")], `http://127.0.0.1:${port}${PATH}`, n)]);
      }
      if (existsSync(NGINX_LUA_MODULE) && nginxBin === "/usr/sbin/nginx") {
        for (const [label, edit] of [["flowplane's nginx (FLOWPLANE_GATEWAY_PROXY=nginx), as configured", (c) => c], ["  without its log line (the log phase still takes the call's state and gives its slot back)", (c) => {
          // Not without the whole phase: it takes each call's entry from under_way (nginx/lua.ts), which would otherwise pile up.
          const done = c.replace("return log_call(s.rid,", "return nil and log_call(s.rid,");
          if (done === c) throw new Error("nginx/lua.ts done() no longer calls log_call as this variant expects");
          return done;
        }]]) {
          rows.push([label, await countFlowplaneNginx(dir, label, edit, up, sink.address().port, n)]);
        }
      }
    } else console.log("nginx not found (npm run bench installs it): its row is skipped");
  } finally {
    await stopChild(upstream.proc);
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (QUICK) console.log("[quick mode: sizes too small to mean anything]");
  const full = rows[0][1];
  // A "without" row against the configuration it takes something out of: the row above it that is not one.
  const baseOf = (label) => rows.slice(0, rows.findIndex(([l]) => l === label)).findLast(([l]) => !l.startsWith("  without"))[1];
  const less = (v, base) => `-${Math.round(base - v)} (${((100 * (base - v)) / base).toFixed(0)}%)`;
  const ng = rows.find(([l]) => l.startsWith("nginx"))?.[1];
  console.log(`user-space instructions per proxied ${RUN ? "run (POST ./flows/f1/run, a small JSON body)" : "GET"} (callgrind, ${n} requests over 16 connections, a bare node:http upstream; the same on any machine, at any load):`);
  console.table(rows.map(([label, v]) => ({
    proxy: label,
    "instructions/request": Math.round(v),
    ...(ng ? { "vs nginx": `${(v / ng).toFixed(2)}x` } : {}),
    "vs the fast path": label.startsWith("  without") ? less(v, baseOf(label)) : `${(v / full).toFixed(2)}x`,
  })));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
