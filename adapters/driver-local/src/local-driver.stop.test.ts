import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, type RuntimeSpec } from "@flowplane/core";
import { startBundleServer, type BundleServer } from "@flowplane/driver-suite";
import { repoRoot, waitFor } from "@flowplane/testkit";
import { LocalDriver } from "./local-driver.js";
import { isAlive } from "./processes.js";

const RUNTIME = join(repoRoot, "apps", "runtime", "dist", "main.js");
/**
 * A grace period no test waits out: before the fix, a replica stopped while loading lived until
 * it (its SIGTERM was lost), so `delete` would not resolve within the test's timeout.
 */
const GRACE_MS = 600_000;

/**
 * Every process of a replica of `resourceName` under this test's driver root: the runtime and,
 * when sandboxed, its bubblewrap parent (both carry the marker, which names the root by its
 * hash, local-driver.ts). Matching the name alone matched another test run's replicas of the
 * same name on the same machine, and `after` SIGKILLed them: that run then saw its replica
 * crashed, or gone, right after its spawn.
 */
async function processesOf(root: string, resourceName: string): Promise<number[]> {
  const marker = `--flowplane-replica=${createHash("sha256").update(root).digest("hex").slice(0, 12)}/${resourceName}/`;
  const out: number[] = [];
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = (await readFile(`/proc/${e}/cmdline`, "utf8")).split("\0");
      if (argv.some((a) => a.startsWith(marker))) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Stopping a replica that is still starting (the server's SIGTERM with
 * FLOWPLANE_STOP_RUNTIMES_ON_EXIT, an undeploy, a scale to zero): it dies at once, with its
 * bubblewrap parent, instead of outliving the server.
 */
describe("local driver: a replica still starting dies at once when stopped", { timeout: 60_000 }, () => {
  let root: string;
  let bundles: BundleServer;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "flowplane-driver-stop-"));
    bundles = await startBundleServer();
  });
  after(async () => {
    for (const name of ["booting", "real-start"]) for (const pid of await processesOf(root, name)) process.kill(pid, "SIGKILL");
    await bundles.close();
    await rm(root, { recursive: true, force: true });
  });

  const spec = (resourceName: string): RuntimeSpec => ({
    deploymentId: `dep-${resourceName}`, projectId: "p", resourceName, generation: 1,
    bundle: { name: "suite", version: bundles.versionTag, digest: bundles.digest },
    bundleUrl: bundles.url(`dep-${resourceName}`), identityToken: bundles.token(`dep-${resourceName}`), gatewaySecret: "gw",
    engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
    resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: {},
  });

  it("a replica with no SIGTERM handler yet (as Node while it boots; pid 1 of its sandbox ignores the signal) and never ready", async () => {
    // Stands for the runtime before it has installed its handler: alive, never ready.
    const driver = await LocalDriver.create({ root, command: [process.execPath, "-e", "setInterval(() => {}, 1000)", "--"], baseEnv: { PATH: process.env.PATH ?? "" }, probeIntervalMs: 100, shutdownGraceMs: GRACE_MS });
    try {
      await driver.apply(spec("booting"));
      const [pid] = driver.pids("booting");
      assert.ok(pid && isAlive(pid), `the replica runs: ${JSON.stringify(await driver.observe("booting"))}`);
      const procs = await processesOf(root, "booting");
      assert.ok(procs.includes(pid));
      if (driver.isolation.mode === "sandbox") assert.ok(procs.length >= 2, `the runtime and its bubblewrap parent: ${procs.join(",")}`);
      // Still starting some time later: a probe round has seen it, not ready.
      await waitFor(async () => (await driver.observe("booting")).replicas[0]?.state === "starting" && procs.every(isAlive), { timeoutMs: 5_000, intervalMs: 100 });
      await driver.delete("booting");
      await waitFor(async () => (await processesOf(root, "booting")).length === 0, { timeoutMs: 10_000, intervalMs: 50, message: "no process of the replica left" });
      assert.ok(procs.every((p) => !isAlive(p)), "neither the runtime nor its bubblewrap parent survives");
    } finally {
      await driver.close();
    }
  });

  it("the real runtime, stopped right after its spawn (still booting, then loading its flow)", async () => {
    const driver = await LocalDriver.create({ root, command: [process.execPath, RUNTIME], baseEnv: { PATH: process.env.PATH ?? "" }, probeIntervalMs: 100, shutdownGraceMs: GRACE_MS });
    try {
      await driver.apply(spec("real-start"));
      const procs = await processesOf(root, "real-start");
      assert.ok(procs.length >= 1);
      assert.equal((await driver.observe("real-start")).replicas[0]?.state, "starting");
      await driver.delete("real-start");
      await waitFor(async () => (await processesOf(root, "real-start")).length === 0, { timeoutMs: 10_000, intervalMs: 50, message: "no process of the replica left" });
      assert.ok(procs.every((p) => !isAlive(p)));
    } finally {
      await driver.close();
    }
  });
});
