#!/usr/bin/env node
// Run history benchmark (issue #19): the gateway's added latency and CPU with the run recorder on
// vs off, in one run. One real runtime replica (simple-chat-no-llm, no LLM); gateway processes in
// front of it, identical but for the recorder: off; on with a store that takes every batch at
// once (the recorder's own cost); on with PGlite in a temporary folder (as `npm start` runs);
// on with PostgreSQL when FLOWPLANE_TEST_DATABASE_URL is set (scripts/with-postgres.sh, as
// `npm run bench` does); plus direct calls for reference.
// The request is Langflow's run API with a session_id in its body, so the recorder's body peek
// runs on every call. Targets are measured interleaved over rounds (A B C A B C ...), medians
// shown; goal: "on" within noise of "off" (<= 5%).
//
// Usage: npx tsc -b && node bench/runs.mjs [seconds-per-figure] [--quick]   (default 5; quick: 1 s, 1 round)
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { QUICK, autocannon, interleaved, med, ratio, root, size, stopChild, waitFor } from "./lib/common.mjs";

const fixture = `${root}../shared/fixtures/langflow/simple-chat-no-llm.json`;
const KEY = "bench-key";
const ROUTE = "/projects/p/apps/a/routes/r";

// Each gateway runs in its own process (this file again, in this role).
if (process.env.FLOWPLANE_BENCH_ROLE === "gateway") await serveGateway();

async function serveGateway() {
  const imp = (p) => import(pathToFileURL(`${root}${p}`).href);
  // Fastify as the server resolves it (its dependency, not the root package's).
  const { default: Fastify } = await import(pathToFileURL(createRequire(`${root}apps/server/package.json`).resolve("fastify")).href);
  const { createGateway, serveGatewayPaths } = await imp("apps/server/dist/gateway/index.js");
  const { createMetrics, registerMetricsRoute } = await imp("apps/server/dist/metrics.js");
  const record = process.env.FLOWPLANE_BENCH_RECORD === "1";
  const metrics = createMetrics();
  let runs;
  let close = async () => undefined;
  if (record) {
    const { createPgliteClient, createPostgresClient, createSqlStore } = await imp("adapters/store/dist/index.js");
    const { BufferedRunRecorder } = await imp("apps/server/dist/runs/recorder.js");
    const db = process.env.FLOWPLANE_BENCH_DB;
    // "none": the recorder's own cost, with a database that takes every batch at once.
    const sql = db === "none" ? null : db.startsWith("postgres") ? await createPostgresClient(db) : await createPgliteClient(db);
    const store = sql ? createSqlStore({ sql }) : { insertRuns: async () => undefined };
    if (sql) await store.migrate();
    const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
    runs = new BufferedRunRecorder({ store, registry: metrics.registry, log: quiet });
    close = async () => { await runs.close(); await sql?.close(); };
  }
  const app = Fastify({ logger: false });
  const principal = { userId: "u", name: "bench", kind: "machine", orgOwner: false, roles: new Map([["p", "viewer"]]), keyId: "k" };
  const route = { projectId: "p", appId: "a", routeId: "r", kind: "http", deploymentId: "d", resourceName: "res", networkAccess: "public", requestTimeoutSeconds: 300 };
  const quietLog = { debug() {}, info() {}, warn() {}, error() {}, child: () => quietLog };
  // The gateway's pipeline as a worker runs it (no access log: the recorder is what is measured).
  const gateway = createGateway({
    listener: "public", bodyLimit: 10 * 1024 * 1024, metrics, log: quietLog, accessLog: () => {},
    authenticate: async (key) => (key === KEY ? principal : null),
    resolveRoute: async (id) => (id === "r" ? route : null),
    endpoints: () => [process.env.FLOWPLANE_BENCH_UPSTREAM],
    gatewaySecret: () => "bench-gateway-secret",
    ...(runs ? { runs } : {}),
  });
  // Open: this bench process is alone on loopback and holds no tenant (serve.ts requires a credential).
  registerMetricsRoute(app, metrics, { access: async () => undefined });
  await app.ready();
  serveGatewayPaths(app.server, gateway);
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  process.once("SIGTERM", () => void app.close().then(() => gateway.close()).then(close).then(() => process.exit(0)));
  process.stdout.write(`${JSON.stringify({ listening: url })}\n`);
}

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

/** CPU time (user + system, ms) used so far by process `pid` (Linux /proc; 0 elsewhere). */
function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}

export async function main() {
  const seconds = Number(process.argv.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? size(5, 1));
  const rounds = size(5, 1);
  const procs = [];
  const dbDir = mkdtempSync(join(tmpdir(), "flowplane-bench-runs-"));
  let pgDb;
  try {
    const rt = await child([`${root}apps/runtime/dist/main.js`], { FLOWPLANE_BUNDLE_PATH: fixture, FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_LOG_LEVEL: "info" }, /"url":"([^"]+)"/)
      .catch((e) => { throw new Error(`could not start the runtime (run \`npx tsc -b\` first): ${e.message}`); });
    procs.push(rt.proc);
    await waitFor(async () => (await fetch(`${rt.url}/ready`)).status === 200, { message: "the runtime's /ready" });
    const flowId = (await (await fetch(`${rt.url}/flows`)).json())[0].id;
    const bases = [{ name: "direct", url: rt.url, prefix: "" }];
    const gateways = [["recording off", "0", ""], ["recording on (no database)", "1", "none"], ["recording on (PGlite)", "1", join(dbDir, "pglite")]];
    if (process.env.FLOWPLANE_TEST_DATABASE_URL) {
      const { createTestDatabase } = await import(pathToFileURL(`${root}adapters/store/dist/index.js`).href);
      pgDb = await createTestDatabase();
      gateways.push(["recording on (PostgreSQL)", "1", pgDb.url]);
    } else {
      console.log("PostgreSQL: skipped (run through scripts/with-postgres.sh, as `npm run bench` does, or set FLOWPLANE_TEST_DATABASE_URL)");
    }
    for (const [name, record, db] of gateways) {
      const gw = await child([fileURLToPath(import.meta.url)], { FLOWPLANE_BENCH_ROLE: "gateway", FLOWPLANE_BENCH_UPSTREAM: rt.url, FLOWPLANE_BENCH_RECORD: record, FLOWPLANE_BENCH_DB: db }, /"listening":"([^"]+)"/);
      procs.push(gw.proc);
      bases.push({ name, url: gw.url, prefix: ROUTE, pid: gw.proc.pid });
    }
    const body = JSON.stringify({ input_value: "bench", session_id: "bench-session" });
    const targets = bases.map((b) => ({
      name: b.name, pid: b.pid, url: `${b.url}${b.prefix}/api/v1/run/${flowId}`, method: "POST", body,
      headers: { "x-access-key": KEY, "content-type": "application/json" },
    }));
    for (const t of targets) await autocannon({ ...t, connections: 16, seconds: 1 }); // warm-up
    console.log(`POST /api/v1/run/{flow} with a session_id; ${rounds} round(s) of ${seconds} s per figure, interleaved, medians${QUICK ? "  [quick mode: sizes too small to mean anything]" : ""}`);
    const res = await interleaved(targets, rounds, async (t) => {
      const c1 = await autocannon({ ...t, connections: 1, seconds });
      const before = t.pid ? cpuMs(t.pid) : 0;
      const c16 = await autocannon({ ...t, connections: 16, seconds });
      const cpu = t.pid ? ((cpuMs(t.pid) - before) * 1000) / (c16.total || 1) : 0;
      return { mean1: c1.mean, p99c1: c1.p99, rps16: c16.rps, mean16: c16.mean, cpu };
    });
    const d = res.direct;
    const off = res["recording off"];
    const rows = targets.map((t) => {
      const f = res[t.name];
      return {
        via: t.name,
        "mean c1 ms": med(f, "mean1").toFixed(3), "p99 c1 ms": med(f, "p99c1"),
        "added mean c1 ms": t.name === "direct" ? "" : (med(f, "mean1") - med(d, "mean1")).toFixed(3),
        "req/s c16": Math.round(med(f, "rps16")), "c16 vs off": t.name === "direct" ? "" : ratio(med(f, "rps16"), med(off, "rps16")),
        "gateway CPU µs/req": t.pid ? Math.round(med(f, "cpu")) : "",
      };
    });
    console.table(rows);
    const addedOff = med(off, "mean1") - med(d, "mean1");
    for (const b of bases.slice(2)) {
      const on = res[b.name];
      const addedOn = med(on, "mean1") - med(d, "mean1");
      console.log(`${b.name}: gateway added latency at c1 ${addedOn.toFixed(3)} ms vs ${addedOff.toFixed(3)} ms off (${ratio(addedOn, addedOff)}); throughput c16 on/off ${ratio(med(on, "rps16"), med(off, "rps16"))}; gateway CPU per request on/off ${ratio(med(on, "cpu"), med(off, "cpu"))}`);
      const metrics = await (await fetch(`${b.url}/metrics`)).text();
      const written = /flowplane_runs_recorded_total\{outcome="written"\} (\d+)/.exec(metrics)?.[1] ?? "0";
      const dropped = /flowplane_runs_recorded_total\{outcome="dropped"\} (\d+)/.exec(metrics)?.[1] ?? "0";
      console.log(`  runs recorded: ${written} written, ${dropped} dropped (the rest still buffered)`);
    }
  } finally {
    await Promise.all(procs.map((p) => stopChild(p)));
    await pgDb?.drop();
    rmSync(dbDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.env.FLOWPLANE_BENCH_ROLE !== "gateway") await main();
