import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, type RuntimeSpec } from "@flowplane/core";
import { startBundleServer, type BundleServer } from "@flowplane/driver-suite";
import { repoRoot, waitFor } from "@flowplane/testkit";
import { LocalDriver } from "./local-driver.js";
import { loweredOomScore, memoryLimitBytes, overLimit } from "./memory-limit.js";
import { readProcessTable, treePids, type ProcessTable } from "./process-usage.js";
import { REPLICA_NICE, REPLICA_OOM_SCORE_ADJ } from "./sandbox.js";

const RUNTIME = join(repoRoot, "apps", "runtime", "dist", "main.js");
const MiB = 1024 * 1024;

describe("memory limit: the rules", () => {
  const spec = (limit: string, others: RuntimeSpec[] = []) => ({ resources: { ...DEFAULT_RESOURCES, memory: { request: "1Mi", limit } }, others }) as unknown as RuntimeSpec;

  it("holds a replica to its own pool's limit: the spec's, a warm revision's; none for one being rolled away", () => {
    const warm = { ...spec("2Gi"), revision: 3 } as RuntimeSpec;
    const s = { ...spec("512Mi", [warm]), revision: 4, generation: 7 } as RuntimeSpec;
    assert.equal(memoryLimitBytes(s, { revision: 4, generation: 6 }), 512 * MiB);
    assert.equal(memoryLimitBytes(s, { revision: 3, generation: 5 }), 2048 * MiB);
    assert.equal(memoryLimitBytes(s, { revision: 2, generation: 5 }), null, "an old revision's replica keeps its own until it goes");
    const plain = { ...spec("256Mi"), generation: 2 } as RuntimeSpec;
    assert.equal(memoryLimitBytes(plain, { generation: 2 }), 256 * MiB);
    assert.equal(memoryLimitBytes(plain, { generation: 1 }), null);
    assert.equal(memoryLimitBytes({ ...spec("lots"), generation: 1 } as RuntimeSpec, { generation: 1 }), null);
    assert.equal(memoryLimitBytes(undefined, { generation: 1 }), null);
  });

  it("sums the whole tree (the runtime and what it started) against the limit", () => {
    const table: ProcessTable = new Map([
      [10, { ppid: 1, uid: 1000, cpuTicks: 0, rssBytes: 40 * MiB }],
      [11, { ppid: 10, uid: 1000, cpuTicks: 0, rssBytes: 30 * MiB }],
      [12, { ppid: 11, uid: 1000, cpuTicks: 0, rssBytes: 30 * MiB }],
      [20, { ppid: 1, uid: 1000, cpuTicks: 0, rssBytes: 500 * MiB }],
    ]);
    assert.equal(overLimit(table, 10, 100 * MiB), null, "at the limit is within it");
    const over = overLimit(table, 10, 99 * MiB);
    assert.equal(over?.reason, "OOMKilled");
    assert.match(over!.message, /held 100 MiB, over the deployment's memory limit of 99 MiB/);
    assert.equal(overLimit(table, 11, 60 * MiB), null, "another tree's processes are not counted");
    assert.equal(overLimit(table, 99, 1), null, "a replica gone is no one to kill");
  });
});

describe("memory limit: a replica's OOM score adjustment", { skip: existsSync("/usr/bin/choom") ? false : "util-linux's choom is missing" }, () => {
  it("a process started at 1000 can lower its own adjustment to 0 (without CAP_SYS_RESOURCE), and its tree is then named", async () => {
    // The attack itself: a replica's Python writes its own /proc/self/oom_score_adj. A shell in a
    // tree of choom -n 1000: it lowers its own child's (a process of its tree, as a replica's would be).
    const child = spawn("/usr/bin/choom", ["-n", String(REPLICA_OOM_SCORE_ADJ), "--", "sh", "-c", "sleep 30 & echo $!; wait"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const sleeper = Number(await new Promise<string>((res) => child.stdout.once("data", (d: Buffer) => res(d.toString().trim()))));
      const tree = () => readProcessTable().then((t) => treePids(t, child.pid!));
      await waitFor(async () => (await tree()).includes(sleeper), { timeoutMs: 5_000, message: "the tree" });
      assert.equal(await loweredOomScore(await tree(), REPLICA_OOM_SCORE_ADJ), null, "started at 1000: nothing to say");
      // What a replica can do to itself (the kernel allows down to oom_score_adj_min, 0 unless a CAP_SYS_RESOURCE holder set it).
      await writeFile(`/proc/${sleeper}/oom_score_adj`, "0");
      assert.equal((await readFile(`/proc/${sleeper}/oom_score_adj`, "utf8")).trim(), "0");
      const failure = await loweredOomScore(await tree(), REPLICA_OOM_SCORE_ADJ);
      assert.equal(failure?.reason, "OOMScoreLowered");
      assert.match(failure!.message, /lowered its OOM score adjustment to 0/);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("memory limit: the local driver holds replicas to it", () => {
  let root: string;
  let bundles: BundleServer;
  let driver: LocalDriver;
  let ownAdj: string;
  const spec = (generation: number, limit: string): RuntimeSpec => ({
    deploymentId: "dep-mem", projectId: "p", resourceName: "mem", generation,
    bundle: { name: "suite", version: bundles.versionTag, digest: bundles.digest },
    bundleUrl: bundles.url("dep-mem"), identityToken: bundles.token("dep-mem"), gatewaySecret: "memory-gateway-secret",
    engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
    resources: { ...DEFAULT_RESOURCES, replicas: 1, memory: { request: "1Mi", limit } }, env: {},
  });

  before(async () => {
    ownAdj = (await readFile("/proc/self/oom_score_adj", "utf8")).trim();
    root = await mkdtemp(join(tmpdir(), "flowplane-mem-"));
    bundles = await startBundleServer();
    driver = await LocalDriver.create({
      root, command: [process.execPath, RUNTIME], baseEnv: { PATH: process.env.PATH ?? "" },
      probeIntervalMs: 100, backoff: { baseMs: 200, maxMs: 400 }, shutdownGraceMs: 3000, memoryCheckIntervalMs: 200, crashLoopRestarts: 2,
    });
  });
  after(async () => {
    for (const name of await driver.list()) await driver.delete(name).catch(() => undefined);
    await driver.close();
    await bundles.close();
    await rm(root, { recursive: true, force: true });
  });

  it("every replica is the kernel's first choice when the machine runs out of memory, never the control plane", async () => {
    await driver.apply(spec(1, "1Gi"));
    const pid = await waitFor(async () => (await driver.observe("mem")).replicas.some((r) => r.state === "ready") && driver.pids("mem")[0], { timeoutMs: 60_000, message: "a ready replica" });
    assert.equal((await readFile(`/proc/${pid}/oom_score_adj`, "utf8")).trim(), String(REPLICA_OOM_SCORE_ADJ));
    assert.equal((await readFile("/proc/self/oom_score_adj", "utf8")).trim(), ownAdj, "the control plane keeps its own");
  });

  it("every replica runs at a lower CPU priority (nice 10) than the control plane, which keeps its own", async () => {
    await driver.apply(spec(1, "1Gi"));
    const pid = await waitFor(async () => (await driver.observe("mem")).replicas.some((r) => r.state === "ready") && driver.pids("mem")[0], { timeoutMs: 60_000, message: "a ready replica" });
    // /proc/<pid>/stat: the 19th field is the niceness (fields counted from the pid; the name may hold spaces).
    const niceOf = async (p: number | "self") => { const stat = await readFile(`/proc/${p}/stat`, "utf8"); return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]); };
    assert.equal(await niceOf(pid as number), REPLICA_NICE);
    assert.equal(await niceOf("self"), getPriority(), "the control plane keeps its own");
    assert.notEqual(getPriority(), REPLICA_NICE);
  });

  it("kills a replica whose process lowered its OOM score adjustment, says why, and restarts it", { skip: existsSync("/usr/bin/choom") ? false : "util-linux's choom is missing" }, async () => {
    await driver.apply(spec(1, "1Gi"));
    const pid = await waitFor(async () => (await driver.observe("mem")).replicas.some((r) => r.state === "ready") && driver.pids("mem")[0], { timeoutMs: 60_000, message: "a ready replica" });
    // As the replica's own code could (a process may lower its own adjustment down to 0): the runtime back to the control plane's 0.
    await writeFile(`/proc/${pid}/oom_score_adj`, "0");
    const killed = await waitFor(async () => {
      const r = (await driver.observe("mem")).replicas[0];
      return r?.lastError?.includes("lowered its OOM score adjustment") ? r : null;
    }, { timeoutMs: 30_000, intervalMs: 100, message: "the replica killed for its lowered OOM score" });
    assert.match(killed.lastError!, /^OOMScoreLowered: one of its processes lowered its OOM score adjustment to 0/);
    const next = await waitFor(async () => (await driver.observe("mem")).replicas.some((r) => r.state === "ready") && driver.pids("mem")[0], { timeoutMs: 60_000, message: "a ready replica again" });
    assert.notEqual(next, pid, "a new replica");
    assert.equal((await readFile(`/proc/${next}/oom_score_adj`, "utf8")).trim(), String(REPLICA_OOM_SCORE_ADJ));
  });

  it("kills a replica over the limit, says why, restarts it, and reports a loop of them as the deployment's failure", async () => {
    // A Node runtime holds tens of MiB: 16 MiB is always exceeded.
    const tight = spec(2, "16Mi");
    const seen = await waitFor(async () => {
      await driver.apply(tight);
      const ob = await driver.observe("mem");
      return ob.failure ? ob : null;
    }, { timeoutMs: 60_000, intervalMs: 100, message: "the memory kills reported as a failure" });
    assert.equal(seen.failure!.reason, "OOMKilled");
    assert.match(seen.failure!.message, /over the deployment's memory limit of 16 MiB: killed, as Kubernetes would \(restarted [2-9]\d* time\(s\)\)/);
    // A limit it fits in: a replica that stays ready, checked over several readings.
    const roomy = spec(3, "1Gi");
    await waitFor(async () => {
      await driver.apply(roomy);
      const ob = await driver.observe("mem");
      return !ob.failure && ob.replicas.length === 1 && ob.replicas.every((r) => r.state === "ready" && r.generation === 3);
    }, { timeoutMs: 60_000, intervalMs: 100, message: "generation 3 ready" });
    const pid = driver.pids("mem")[0];
    await new Promise((r) => setTimeout(r, 1_000)); // five readings of the memory check
    assert.deepEqual(driver.pids("mem"), [pid], "the same replica, not killed");
  });
});
