// Kubernetes benchmark (issue 6): BENCH_K8S_DEPLOYMENTS (default 1,000) deployments against the
// test cluster (real API server, kwok nodes), through the real control plane with the
// Kubernetes driver: time until all are Ready, control-plane RSS, and API requests per
// deployment (counted exactly: the API server's audit log of flowplane's own identity).
// The control plane's database is PostgreSQL, as the Kubernetes install runs it (its manifest
// needs DATABASE_URL), on the server FLOWPLANE_TEST_DATABASE_URL names (`npm run bench` starts
// one: scripts/with-postgres.sh), in a fresh database dropped afterwards; PGlite, the embedded
// default, without that variable or with BENCH_K8S_STORE=pglite.
import { readFileSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createTestDatabase } from "@flowplane/store";
import { loadFixture, startServer } from "@flowplane/testkit";
import { startCluster } from "../scripts/k8s/cluster.mjs";
import { size } from "./lib/common.mjs";

const N = Number(process.env.BENCH_K8S_DEPLOYMENTS ?? size(1000, 3));
/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
const cpuSeconds = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
};
/** CPU seconds of every PostgreSQL process on the machine, by pid (the server and its backends). */
const postgresCpu = () => {
  const out = new Map();
  for (const pid of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "postgres") out.set(pid, cpuSeconds(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
};
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
/** flowplane's requests in the audit log after line `from`: their count and a count per verb and resource. */
const audit = (file, from = 0) => {
  let lines = [];
  try {
    lines = readFileSync(file, "utf8").split("\n").filter((l) => l.includes('"stage":"ResponseComplete"'));
  } catch {
    return { total: 0, byKind: new Map() };
  }
  const byKind = new Map();
  for (const l of lines.slice(from)) {
    const e = JSON.parse(l);
    const kind = `${e.verb} ${e.objectRef?.resource ?? e.requestURI}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ""}`;
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  return { total: lines.length, byKind };
};

export async function main() {
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0"; // the throw-away cluster's self-signed certificate, for its readiness probes
  const cluster = await startCluster({ log: (m) => console.error(`[k8s] ${m}`) });
  const dir = await mkdtemp(join(tmpdir(), "flowplane-bench-k8s-"));
  let server;
  const database = process.env.FLOWPLANE_TEST_DATABASE_URL && process.env.BENCH_K8S_STORE !== "pglite" ? await createTestDatabase() : null;
  // Stopped by a signal (SIGTERM to its pid, Ctrl-C): the processes it started stop with it,
  // by their own handles, rather than staying behind (a cluster left running costs the next run).
  const onSignal = (signal) => void (async () => {
    await server?.stop().catch(() => undefined);
    await cluster.stop();
    await database?.drop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  })();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    // BENCH_K8S_PROFILE=<folder>: the control plane writes a V8 CPU profile there when it stops
    // (lib/cpu-profile.mjs; read it with lib/profile-top.mjs).
    const profile = process.env.BENCH_K8S_PROFILE
      ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${new URL("./lib/cpu-profile.mjs", import.meta.url).href}`.trim(), FLOWPLANE_CPU_PROFILE_DIR: process.env.BENCH_K8S_PROFILE }
      : {};
    server = await startServer(dir, { FLOWPLANE_DRIVER: "kubernetes", KUBECONFIG: cluster.flowplaneKubeconfig, FLOWPLANE_LOG_LEVEL: "warn", ...(database ? { DATABASE_URL: database.url } : {}), ...profile });
    const key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    const api = async (method, path, body) => {
      const r = await fetch(`${server.url}/api/v1${path}`, { method, headers: { "x-access-key": key, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}) });
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return r.json();
    };
    const project = (await api("POST", "/projects", { name: "bench" })).id;
    await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] });
    const before = audit(cluster.auditLog).total;
    // Every request the API server answered, from anyone (its own apiserver_request_total): what
    // flowplane's objects cost the cluster's controllers, scheduler, kwok and admission besides.
    const served = async () => {
      const m = await (await fetch(`${cluster.server}/metrics`, { headers: { authorization: `Bearer ${cluster.token}` } })).text();
      // By verb and resource (its subresource after a slash): where the others' requests go.
      const by = new Map();
      for (const [, labels, n] of m.matchAll(/^apiserver_request_total\{([^}]*)\} (\d+)/gm)) {
        const l = Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
        const k = `${l.verb} ${l.resource || "(none)"}${l.subresource ? `/${l.subresource}` : ""}`;
        by.set(k, (by.get(k) ?? 0) + Number(n));
      }
      return by;
    };
    const sum = (by) => [...by.values()].reduce((a, n) => a + n, 0);
    const served0 = await served();
    console.log(`${N} deployments on the test cluster (1 replica each, kwok nodes), created ${process.env.BENCH_K8S_CREATE_CONCURRENCY > 1 ? `${process.env.BENCH_K8S_CREATE_CONCURRENCY} at a time` : "one after another"}; the control plane on ${database ? "PostgreSQL (as the Kubernetes install runs it)" : "PGlite (the embedded default)"}`);
    // Where the machine's CPU went during the run: each cluster process and the control plane.
    const parts = [...cluster.components, { name: "flowplane control plane", pid: server.child.pid }];
    const cpu0 = parts.map((c) => cpuSeconds(c.pid));
    const pg0 = database ? postgresCpu() : null;
    const t0 = performance.now();
    // BENCH_K8S_CREATE_CONCURRENCY (default 1): creates in flight at once, as a CI job deploying
    // many services might send them; 1 is one after another, as earlier runs measured.
    const C = Math.max(1, Number(process.env.BENCH_K8S_CREATE_CONCURRENCY ?? 1));
    let next = 0;
    await Promise.all(Array.from({ length: C }, async () => {
      for (let i = next++; i < N; i = next++) {
        await api("POST", `/projects/${project}/deployments`, {
          displayName: `echo ${i}`, bundle: { name: "echo", version: "1" }, networkAccess: "public",
          // small requests: the test cluster's kwok nodes must fit all of them (4 nodes x 64 cores)
          resources: { replicas: 1, cpu: { request: "50m", limit: "100m" }, memory: { request: "64Mi", limit: "128Mi" } },
        });
      }
    }));
    const created = performance.now();
    // While waiting: the control plane's own count of Ready deployments (its phase gauge on the
    // private listener, recounted within a second of a phase change), not the list of all N
    // deployments every second (megabytes of JSON a second, made and parsed on the same two
    // cores as the run). It can only lag, so the time is never early; the list confirms it at the end.
    const readyGauge = async () => {
      const m = await (await fetch(`${server.privateUrl}/metrics`, { headers: { "x-access-key": key } })).text();
      return Number(/^flowplane_deployments\{phase="Ready"\} (\d+)/m.exec(m)?.[1] ?? 0);
    };
    const ready = async () => {
      let n = 0;
      let cursor = "";
      for (let page = 0; page < 100; page++) {
        const r = await api("GET", `/projects/${project}/deployments?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
        n += r.items.filter((d) => d.status.phase === "Ready").length;
        if (!r.nextCursor) break;
        cursor = r.nextCursor;
      }
      return n;
    };
    // Where the time goes: flowplane's part ends when every Deployment object exists (the
    // driver applied it); the rest is the cluster's controllers, scheduler and kwok making pods.
    const applied = async () => {
      // No label selector: the API server leaves out remainingItemCount from a filtered list.
      // The test cluster runs no Deployment but flowplane's.
      const r = await fetch(`${cluster.server}/apis/apps/v1/deployments?limit=1`, { headers: { authorization: `Bearer ${cluster.token}` } });
      const body = await r.json();
      return (body.items?.length ?? 0) + (body.metadata?.remainingItemCount ?? 0);
    };
    let allApplied;
    let polls = 0;
    const deadline = Date.now() + 60 * 60_000;
    let last = -1;
    while ((last = await readyGauge()) < N || (last = await ready()) < N) {
      if (Date.now() > deadline) throw new Error(`only ${last} of ${N} Ready after an hour`);
      const a = allApplied === undefined ? await applied() : N;
      if (a >= N) allApplied ??= performance.now();
      if (++polls % 10 === 0) console.error(`  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${a} applied, ${last} Ready`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const done = performance.now();
    allApplied ??= done;
    const { total, byKind } = audit(cluster.auditLog, before);
    const requests = total - before;
    const sec = (t) => ((t - t0) / 1000).toFixed(1);
    console.log(`  created through the API in ${sec(created)} s; every Deployment applied by ${sec(allApplied)} s; all Ready ${sec(done)} s after the first create (goal <= 60 s: ${done - t0 <= 60_000 ? "met" : "MISSED"})`);
    const pgSeconds = pg0 ? [...postgresCpu()].reduce((a, [pid, s]) => a + s - (pg0.get(pid) ?? 0), 0) : null;
    console.log(`  CPU seconds during the run: ${parts.map((c, i) => `${c.name} ${(cpuSeconds(c.pid) - cpu0[i]).toFixed(1)}`).join(", ")}${pgSeconds === null ? "" : `, PostgreSQL ${pgSeconds.toFixed(1)}`}`);
    // The run is CPU-bound on a small machine: the cluster's own processes set a floor no control plane can go under.
    const clusterSeconds = cluster.components.reduce((a, c, i) => a + cpuSeconds(c.pid) - cpu0[i], 0);
    console.log(`  the cluster's processes alone: ${clusterSeconds.toFixed(1)} CPU seconds, ${(clusterSeconds / availableParallelism()).toFixed(1)} s of all ${availableParallelism()} cores`);
    console.log(`  control-plane RSS ${rssMiB(server.child.pid).toFixed(0)} MiB`);
    console.log(`  API server requests by flowplane: ${requests} (${(requests / N).toFixed(1)} per deployment, watches included)`);
    const servedBy = await served();
    const all = sum(servedBy) - sum(served0);
    console.log(`  API server requests from everyone: ${all} (${(all / N).toFixed(1)} per deployment: flowplane's, the controllers', the scheduler's, kwok's, admission's own lookups)`);
    const grown = [...servedBy].map(([k, n]) => [k, n - (served0.get(k) ?? 0)]).filter(([, n]) => n >= N / 10).sort((a, b) => b[1] - a[1]);
    for (const [k, n] of grown) console.log(`    ${k}: ${n} (${(n / N).toFixed(2)} per deployment)`);
    // The reconciler's passes (its histogram on the private listener's /metrics): how often it looked.
    const m = await (await fetch(`${server.privateUrl}/metrics`, { headers: { "x-access-key": key } })).text();
    const passes = [...m.matchAll(/^flowplane_reconcile_duration_seconds_count\{result="(\w+)"\} (\d+)/gm)].map(([, r, n]) => `${r} ${n}`);
    const passSec = [...m.matchAll(/^flowplane_reconcile_duration_seconds_sum\{result="\w+"\} ([\d.e+-]+)/gm)].reduce((a, [, v]) => a + Number(v), 0);
    console.log(`  reconcile passes: ${passes.join(", ")} (${passSec.toFixed(0)} s spent in passes, summed over concurrent ones)`);
    // Failed passes, by message (the server logs at warn: failures only).
    const failures = new Map();
    for (const line of server.out().split("\n").filter((l) => l.includes("reconcile failed"))) {
      // URLs (each names its namespace) shortened to their resource kind, so that messages group and the reason after them shows.
      const why = (/"error":"([^"]*)/.exec(line)?.[1] ?? line).replace(/https?:\/\/\S*?\/namespaces\/[^/\s:]+(\/[a-z]+)?\S*?(?=: |\s|$)/g, (_, kind) => `<${kind ? kind.slice(1) : "namespace"} URL>`).replace(/[0-9a-z]{6,}-[0-9a-z]{4,}/g, "…").slice(0, 240);
      failures.set(why, (failures.get(why) ?? 0) + 1);
    }
    for (const [why, n] of failures) console.log(`  failed passes (${n}): ${why}`);
    for (const [kind, n] of [...byKind].sort((a, b) => b[1] - a[1])) console.log(`    ${kind}: ${n} (${(n / N).toFixed(2)} per deployment)`);
  } finally {
    await server?.stop().catch(() => undefined);
    await cluster.stop();
    await database?.drop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
