// Kubernetes benchmark (issue 6): BENCH_K8S_DEPLOYMENTS (default 1,000) deployments against the
// test cluster (real API server, kwok nodes), through the real control plane with the
// Kubernetes driver: time until all are Ready, control-plane RSS, and API requests per
// deployment (counted exactly: the API server's audit log of flowplane's own identity).
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadFixture, startServer } from "@flowplane/testkit";
import { startCluster } from "../scripts/k8s/cluster.mjs";
import { size } from "./lib/common.mjs";

const N = Number(process.env.BENCH_K8S_DEPLOYMENTS ?? size(1000, 3));
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const auditCount = (file) => {
  try {
    return readFileSync(file, "utf8").split("\n").filter((l) => l.includes('"stage":"ResponseComplete"')).length;
  } catch {
    return 0;
  }
};

export async function main() {
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0"; // the throw-away cluster's self-signed certificate, for its readiness probes
  const cluster = await startCluster({ log: (m) => console.error(`[k8s] ${m}`) });
  const dir = await mkdtemp(join(tmpdir(), "flowplane-bench-k8s-"));
  let server;
  try {
    server = await startServer(dir, { FLOWPLANE_DRIVER: "kubernetes", KUBECONFIG: cluster.flowplaneKubeconfig, FLOWPLANE_LOG_LEVEL: "warn" });
    const key = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    const api = async (method, path, body) => {
      const r = await fetch(`${server.url}/api/v1${path}`, { method, headers: { "x-access-key": key, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}) });
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return r.json();
    };
    const project = (await api("POST", "/projects", { name: "bench" })).id;
    await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] });
    const before = auditCount(cluster.auditLog);
    console.log(`${N} deployments on the test cluster (1 replica each, kwok nodes)`);
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      await api("POST", `/projects/${project}/deployments`, {
        displayName: `echo ${i}`, bundle: { name: "echo", version: "1" }, networkAccess: "public",
        // small requests: the test cluster's kwok nodes must fit all of them (4 nodes x 64 cores)
        resources: { replicas: 1, cpu: { request: "50m", limit: "100m" }, memory: { request: "64Mi", limit: "128Mi" } },
      });
    }
    const created = performance.now();
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
    while ((last = await ready()) < N) {
      if (Date.now() > deadline) throw new Error(`only ${last} of ${N} Ready after an hour`);
      const a = allApplied === undefined ? await applied() : N;
      if (a >= N) allApplied ??= performance.now();
      if (++polls % 10 === 0) console.error(`  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${a} applied, ${last} Ready`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const done = performance.now();
    allApplied ??= done;
    const requests = auditCount(cluster.auditLog) - before;
    const sec = (t) => ((t - t0) / 1000).toFixed(1);
    console.log(`  created through the API in ${sec(created)} s; every Deployment applied by ${sec(allApplied)} s; all Ready ${sec(done)} s after the first create (goal <= 60 s: ${done - t0 <= 60_000 ? "met" : "MISSED"})`);
    console.log(`  control-plane RSS ${rssMiB(server.child.pid).toFixed(0)} MiB`);
    console.log(`  API server requests by flowplane: ${requests} (${(requests / N).toFixed(1)} per deployment, watches included)`);
  } finally {
    await server?.stop().catch(() => undefined);
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
