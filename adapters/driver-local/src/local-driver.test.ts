import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, type RuntimeSpec } from "@flowplane/core";
import { driverCases, startBundleServer, type BundleServer } from "@flowplane/driver-suite";
import { repoRoot, stepWallClock } from "@flowplane/testkit";
import { LocalDriver, type LocalDriverOptions } from "./local-driver.js";
import { isAlive } from "./processes.js";

const GATEWAY = "local-gateway-secret";
const RUNTIME = join(repoRoot, "apps", "runtime", "dist", "main.js");
const fast = { probeIntervalMs: 100, backoff: { baseMs: 200, maxMs: 1000 }, shutdownGraceMs: 3000 };
const options = (root: string, over: Partial<LocalDriverOptions> = {}): LocalDriverOptions => ({
  root, command: [process.execPath, RUNTIME], baseEnv: { PATH: process.env.PATH ?? "" }, ...fast, ...over,
});

driverCases("local processes", {
  endpointsAnswer: true,
  logsAnswer: true,
  usageAnswers: true,
  async create() {
    const root = await mkdtemp(join(tmpdir(), "flowplane-driver-"));
    const driver = await LocalDriver.create(options(root));
    return { driver, cleanup: async () => { await driver.close(); await rm(root, { recursive: true, force: true }); } };
  },
});

describe("local driver: supervision, adoption, isolation", () => {
  let root: string;
  let bundles: BundleServer;
  let driver: LocalDriver;
  const name = "local-extra";
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "flowplane-driver-"));
    bundles = await startBundleServer();
    driver = await LocalDriver.create(options(root));
  });
  after(async () => {
    await driver.delete(name).catch(() => undefined);
    await driver.delete("broken").catch(() => undefined);
    await driver.close();
    await bundles.close();
    await rm(root, { recursive: true, force: true });
  });

  const SECRET = "s3cret-value-for-the-driver";
  const spec = (over: Partial<RuntimeSpec> = {}): RuntimeSpec => ({
    deploymentId: "dep-x", projectId: "p", resourceName: name, generation: 1,
    bundle: { name: "suite", version: bundles.versionTag, digest: bundles.digest },
    bundleUrl: bundles.url("dep-x"), identityToken: bundles.token("dep-x"), gatewaySecret: GATEWAY,
    engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
    resources: { ...DEFAULT_RESOURCES, replicas: 2 }, env: { API_TOKEN: SECRET }, ...over,
  });
  const until = async (d: LocalDriver, s: RuntimeSpec | null, cond: () => Promise<boolean>, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline) assert.fail(`timed out: ${JSON.stringify(await d.observe(s?.resourceName ?? name))}`);
      if (s) await d.apply(s);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const readyCount = async (d: LocalDriver, n = name) => (await d.observe(n)).replicas.filter((r) => r.state === "ready").length;

  it("keeps values out of every file: folder 0700, files 0600, no credential on disk", async () => {
    await until(driver, spec(), async () => (await readyCount(driver)) === 2);
    const dir = join(root, name);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    for (const f of await readdir(dir)) {
      assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f);
      assert.doesNotMatch(await readFile(join(dir, f), "utf8"), new RegExp(SECRET), f);
    }
  });

  it("caps each replica's V8 heap from the memory limit (the one limit a process can be held to)", async () => {
    const [pid] = driver.pids(name);
    const env = (await readFile(`/proc/${pid}/environ`, "utf8")).split("\0");
    assert.ok(env.includes(`NODE_OPTIONS=--max-old-space-size=${Math.floor((2 ** 30 * 0.75) / 2 ** 20)}`), "1Gi limit -> 768 MiB heap");
    assert.ok(env.includes(`API_TOKEN=${SECRET}`), "the credential reaches the replica as an environment variable");
  });

  it("caps glibc's malloc arenas in each replica's process (MALLOC_ARENA_MAX: less memory held after load)", async () => {
    const [pid] = driver.pids(name);
    const env = (await readFile(`/proc/${pid}/environ`, "utf8")).split("\0");
    assert.deepEqual(env.filter((e) => e.startsWith("MALLOC_")), ["MALLOC_ARENA_MAX=2"]);
  });

  it("restarts a killed replica, and the deployment is whole again", async () => {
    const [victim] = driver.pids(name);
    process.kill(victim!, "SIGKILL");
    await until(driver, spec(), async () => {
      const ob = await driver.observe(name);
      return ob.replicas.some((r) => r.restarts >= 1) && (await readyCount(driver)) === 2;
    });
    assert.ok(!driver.pids(name).includes(victim!));
  });

  it("takes a replica that stops answering out of the endpoints after 3 failed probes, and back when it answers", async () => {
    await until(driver, spec(), async () => (await readyCount(driver)) === 2);
    const pids = driver.pids(name).sort();
    const [victim] = pids;
    // Stopped, the process keeps its sockets: connections are accepted, nothing answers.
    process.kill(victim!, "SIGSTOP");
    const stoppedAt = Date.now();
    try {
      await until(driver, null, async () => (await readyCount(driver)) === 1, 60_000);
      // Default probes: 1 s apart, 2 s timeout, 3 failures in a row. One or two timeouts are not enough.
      assert.ok(Date.now() - stoppedAt >= 2 * 2000, `not ready only after the third failed probe (${Date.now() - stoppedAt} ms)`);
      assert.equal(driver.endpoints(name).length, 1);
      assert.deepEqual((await driver.observe(name)).replicas.map((r) => r.state).sort(), ["ready", "starting"]);
    } finally {
      process.kill(victim!, "SIGCONT");
    }
    await until(driver, null, async () => (await readyCount(driver)) === 2);
    assert.deepEqual(driver.pids(name).sort(), pids, "the same processes: a hung replica that recovers is not restarted");
  });

  it("keeps its timings when the wall clock steps: an hour back, a hung replica still leaves the endpoints; an hour forward, starting replicas are not killed for their start timeout", async () => {
    // A deployment of its own: the rollout below must not change the one the other tests share.
    const clocked = "local-clock";
    const mine = (over: Partial<RuntimeSpec> = {}) => spec({ resourceName: clocked, ...over });
    const ready = () => readyCount(driver, clocked);
    try {
      await until(driver, mine(), async () => (await ready()) === 2);
      const [victim] = driver.pids(clocked).sort();
      // NTP, or a VM resumed: on Date.now, no ready replica was probed again for the hour.
      const back = stepWallClock(-3_600_000);
      process.kill(victim!, "SIGSTOP");
      try {
        await until(driver, null, async () => (await ready()) === 1, 60_000);
      } finally {
        process.kill(victim!, "SIGCONT");
        back();
      }
      await until(driver, null, async () => (await ready()) === 2);
      // A rollout, and the clock an hour forward while its replicas start: on Date.now each one
      // starting then was killed at the next probe round, its start timeout (120 s) long past.
      const rolled = mine({ generation: 2 });
      await driver.apply(rolled);
      const forward = stepWallClock(3_600_000);
      try {
        await until(driver, rolled, async () => {
          const ob = await driver.observe(clocked);
          return ob.replicas.length === 2 && ob.replicas.every((r) => r.generation === 2 && r.state === "ready");
        }, 60_000);
        const ob = await driver.observe(clocked);
        assert.deepEqual(ob.replicas.map((r) => r.restarts), [0, 0], JSON.stringify(ob));
      } finally {
        forward();
      }
    } finally {
      await driver.delete(clocked);
    }
  });

  it("adopts live replicas after a driver restart instead of restarting them", async () => {
    const pids = driver.pids(name).sort();
    await driver.close();
    driver = await LocalDriver.create(options(root));
    await until(driver, null, async () => (await readyCount(driver)) === 2);
    assert.deepEqual(driver.pids(name).sort(), pids);
    await driver.apply(spec());
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(driver.pids(name).sort(), pids, "the same spec applied again starts nothing new");
    assert.ok(pids.every(isAlive));
  });

  it("reports a crash loop with the runtime's reason (digest mismatch), never as ready", async () => {
    const bad = spec({ resourceName: "broken", bundle: { name: "suite", version: bundles.versionTag, digest: `sha256:${"0".repeat(64)}` }, resources: { ...DEFAULT_RESOURCES, replicas: 1 } });
    await until(driver, bad, async () => (await driver.observe("broken")).failure !== undefined);
    const ob = await driver.observe("broken");
    assert.equal(ob.failure?.reason, "DigestMismatch");
    assert.match(ob.failure?.message ?? "", /digest mismatch/);
    assert.equal(driver.endpoints("broken").length, 0);
  });

  it("keeps the logs of the last ten gone replicas (and the last rollout's) when a rollout starts new ones, not every one a deployment ever had", async () => {
    const dir = join(root, name);
    // Twelve logs of replicas gone long ago, as many rollouts leave them.
    const t0 = Date.now() / 1000 - 3600;
    for (let i = 0; i < 12; i++) {
      await writeFile(join(dir, `replica-old${i}.log`), "gone\n", { mode: 0o600 });
      await utimes(join(dir, `replica-old${i}.log`), t0 + i, t0 + i);
    }
    const before = driver.pids(name);
    // A parameter edit: a rolling update starts new replicas (new ids, new logs) and drains the old.
    const edited = spec({ generation: 2, env: { API_TOKEN: SECRET, MORE: "x" } });
    await until(driver, edited, async () => (await driver.observe(name)).replicas.filter((r) => r.state === "ready" && r.generation === 2).length === 2 && driver.pids(name).every((p) => !before.includes(p)));
    const current = new Set((await driver.observe(name)).replicas.map((r) => r.id));
    const logs = (await readdir(dir)).filter((f) => f.startsWith("replica-"));
    const gone = logs.filter((f) => !current.has(f.slice("replica-".length, -".log".length)));
    assert.ok(logs.length >= current.size + 2, `the new replicas' logs and the replaced ones': ${logs.join(", ")}`);
    // Pruned as each new replica starts, while the replicas it replaces still run: the ten most
    // recent gone ones, and the ones this rollout replaced.
    assert.ok(gone.length <= 10 + before.length, `at most ten logs of gone replicas, and this rollout's, are kept: ${gone.join(", ")}`);
    assert.ok(!logs.includes("replica-old0.log") && !logs.includes("replica-old1.log"), "the oldest went first");
  });

  it("stops every process and removes the folder on delete", async () => {
    const pids = driver.pids(name);
    await driver.delete(name);
    assert.ok(pids.every((p) => !isAlive(p)));
    await assert.rejects(stat(join(root, name)));
  });
});
