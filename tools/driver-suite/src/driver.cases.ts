import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, GATEWAY_SECRET_HEADER, type RuntimeDriver, type RuntimeSpec } from "@flowplane/core";
import { startBundleServer, type BundleServer } from "./bundle-server.js";

export interface DriverSuiteOptions {
  /** A fresh driver; `cleanup` removes anything it left. */
  create(): Promise<{ driver: RuntimeDriver; cleanup(): Promise<void> }>;
  /** True when replicas really run the runtime (their endpoints answer HTTP). */
  endpointsAnswer: boolean;
  /** True when replicas' logs can be read (kwok's pods have none: their chunks carry an error). */
  logsAnswer: boolean;
  /** True when the driver measures replicas' CPU and memory here (kwok's pods and a cluster without metrics-server cannot). */
  usageAnswers?: boolean;
  /**
   * True when a replica moves between a deployment's revision pools without a restart (local
   * processes); Kubernetes starts another live revision's pods under that revision's own
   * Deployment instead (pods never change owner).
   */
  replicasChangePool?: boolean;
  /** How long to wait for a state; Kubernetes needs longer than processes. */
  timeoutMs?: number;
}

/**
 * The suite every RuntimeDriver passes (local processes, Kubernetes): apply, observe, rolling
 * update without losing ready replicas, scale, idempotence, delete, list.
 */
/** The gateway secret of the suite's deployment: replicas answer only requests that carry it. */
const GATEWAY = "suite-gateway-secret";

export function driverCases(name: string, o: DriverSuiteOptions, skip: string | false = false): void {
  describe(`driver suite: ${name}`, { skip }, () => {
    let driver: RuntimeDriver;
    let cleanup: () => Promise<void>;
    let bundles: BundleServer;
    const timeout = o.timeoutMs ?? 60_000;
    const resourceName = `suite-${Date.now().toString(36)}`;

    before(async () => {
      bundles = await startBundleServer();
      ({ driver, cleanup } = await o.create());
    });
    after(async () => {
      await driver?.delete(resourceName).catch(() => undefined);
      await cleanup?.();
      await bundles?.close();
    });

    const spec = (generation: number, replicas: number, over: Partial<RuntimeSpec> = {}): RuntimeSpec => ({
      deploymentId: "dep-1", projectId: "proj-1", resourceName, generation,
      bundle: { name: "suite", version: bundles.versionTag, digest: bundles.digest },
      bundleUrl: bundles.url("dep-1"), identityToken: bundles.token("dep-1"), gatewaySecret: GATEWAY,
      engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
      resources: { ...DEFAULT_RESOURCES, replicas }, env: { GREETING: `hello ${generation}` },
      ...over,
    });

    /** Applies until `done` holds (drivers move one step per apply), checking `invariant` on every observation. */
    const converge = async (s: RuntimeSpec, done: (o: Awaited<ReturnType<RuntimeDriver["observe"]>>) => boolean, invariant?: (o: Awaited<ReturnType<RuntimeDriver["observe"]>>) => void) => {
      const deadline = Date.now() + timeout;
      for (;;) {
        await driver.apply(s);
        const ob = await driver.observe(resourceName);
        invariant?.(ob);
        if (done(ob)) return ob;
        if (Date.now() > deadline) assert.fail(`did not converge: ${JSON.stringify(ob)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const readyAt = (gen: number, n: number) => (ob: Awaited<ReturnType<RuntimeDriver["observe"]>>) =>
      ob.replicas.filter((r) => r.generation === gen && r.state === "ready").length === n && ob.replicas.length === n;

    it("starts the replicas asked for and reports them ready", async () => {
      const ob = await converge(spec(1, 2), readyAt(1, 2));
      assert.equal(ob.exists, true);
      assert.equal(ob.appliedGeneration, 1);
      assert.equal(ob.failure, undefined);
      // Every driver says how it isolates the replicas (the deployment's Isolated condition).
      assert.equal(ob.isolation?.mode, driver.isolation.mode);
      assert.ok((ob.isolation?.detail ?? "").length > 0);
      const eps = driver.endpoints(resourceName);
      assert.ok(eps.length >= 1);
      if (o.endpointsAnswer) {
        for (const ep of eps) {
          const r = await fetch(`${ep}/flows`, { headers: { [GATEWAY_SECRET_HEADER]: GATEWAY } });
          assert.equal(r.status, 200);
          assert.equal(((await r.json()) as unknown[]).length, 1);
        }
      }
      assert.ok((await driver.list()).includes(resourceName));
    });

    it("reads each replica's log from its tail, then only what follows the cursor, and one replica alone", async () => {
      const replicas = (await driver.observe(resourceName)).replicas.map((r) => r.id).sort();
      const first = await driver.readLogs(resourceName, { tailLines: 50 });
      assert.deepEqual(first.filter((c) => replicas.includes(c.replica)).map((c) => c.replica).sort(), replicas, "a chunk for every replica");
      if (o.logsAnswer) {
        for (const c of first.filter((x) => replicas.includes(x.replica))) {
          assert.equal(c.error, undefined);
          assert.ok(c.lines.length >= 1, `replica ${c.replica} has logged its start`);
          assert.ok(c.lines.every((l) => !l.includes("\n")), "one line per entry");
        }
        const cursors = Object.fromEntries(first.map((c) => [c.replica, c.cursor]));
        const next = await driver.readLogs(resourceName, { cursors });
        for (const c of next) {
          const before = first.find((x) => x.replica === c.replica)?.lines ?? [];
          assert.ok(!c.lines.some((l) => before.includes(l)), "nothing already read is answered again");
        }
        const tailed = await driver.readLogs(resourceName, { tailLines: 1 });
        for (const c of tailed.filter((x) => replicas.includes(x.replica))) assert.equal(c.lines.length, 1);
      }
      const one = await driver.readLogs(resourceName, { replica: replicas[0]! });
      assert.deepEqual(one.map((c) => c.replica), [replicas[0]]);
      assert.deepEqual(await driver.readLogs("suite-no-such-deployment", {}), []);
    });

    it("measures the replicas' CPU and memory, or says why it cannot; never a replica it does not run", async () => {
      const replicas = (await driver.observe(resourceName)).replicas.map((r) => r.id).sort();
      const u = await driver.usage(resourceName);
      assert.equal(u.available || !o.usageAnswers, true, `this driver measures here: ${JSON.stringify(u)}`);
      if (!u.available) {
        assert.ok(u.reason.length > 0, "the reason is said");
        return;
      }
      for (const r of u.replicas) {
        assert.ok(replicas.includes(r.replica), `${r.replica} is one of the deployment's replicas`);
        assert.ok(r.memoryBytes >= 0 && (r.cpuCores !== undefined || r.cpuSecondsTotal !== undefined), JSON.stringify(r));
      }
      if (o.usageAnswers) {
        assert.deepEqual(u.replicas.map((r) => r.replica).sort(), replicas, "every running replica measured");
        // A running runtime (Node) holds megabytes and has used some CPU to start.
        assert.ok(u.replicas.every((r) => r.memoryBytes > 1024 * 1024 && (r.cpuSecondsTotal ?? r.cpuCores ?? 0) > 0), JSON.stringify(u));
      }
      const none = await driver.usage("suite-no-such-deployment");
      assert.ok(!none.available || none.replicas.length === 0, "nothing for a deployment it does not hold");
    });

    it("is idempotent: applying the same spec again changes nothing", async () => {
      const before = (await driver.observe(resourceName)).replicas.map((r) => r.id).sort();
      for (let i = 0; i < 3; i++) await driver.apply(spec(1, 2));
      const ob = await driver.observe(resourceName);
      assert.deepEqual(ob.replicas.map((r) => r.id).sort(), before);
    });

    it("rolls to a new generation without ever dropping below the ready replicas asked for", async () => {
      let minReady = Infinity;
      const ob = await converge(spec(2, 2), readyAt(2, 2), (x) => {
        minReady = Math.min(minReady, x.replicas.filter((r) => r.state === "ready").length);
      });
      assert.equal(minReady, 2, "maxUnavailable 0");
      assert.ok(ob.replicas.every((r) => r.generation === 2));
    });

    it("scales up and down", async () => {
      await converge(spec(3, 3), readyAt(3, 3));
      await converge(spec(4, 1), readyAt(4, 1));
    });

    it("runs none at 0 replicas (scaled to zero while idle, or disabled with its replicas stopped) and wakes at the same generation", async () => {
      const none = await converge(spec(4, 0), (x) => x.replicas.length === 0);
      assert.equal(none.exists, true, "the deployment's resources stay");
      assert.equal(none.appliedGeneration, 4);
      assert.deepEqual(driver.endpoints(resourceName), []);
      // Woken: what the gateway waits for (a ready endpoint) comes back.
      await converge(spec(4, 1), readyAt(4, 1));
      assert.ok(driver.endpoints(resourceName).length >= 1);
    });

    it("labels each replica with the revision it was started for; a scale keeps it", async () => {
      const ob = await converge(spec(5, 1, { revision: 3 }), readyAt(5, 1));
      assert.deepEqual(ob.replicas.map((r) => r.revision), [3]);
      // Scaling is no new revision nor generation: the replica added carries the same one.
      const scaled = await converge(spec(5, 2, { revision: 3 }), readyAt(5, 2));
      assert.deepEqual(scaled.replicas.map((r) => r.revision), [3, 3]);
      const rolled = await converge(spec(6, 1, { revision: 4 }), readyAt(6, 1));
      assert.deepEqual(rolled.replicas.map((r) => r.revision), [4]);
    });

    const byRevision = (ob: Awaited<ReturnType<RuntimeDriver["observe"]>>, revision: number) => ob.replicas.filter((r) => r.revision === revision);
    const readyRevisions = (want: Record<number, number>) => (ob: Awaited<ReturnType<RuntimeDriver["observe"]>>) =>
      Object.entries(want).every(([rev, n]) => byRevision(ob, Number(rev)).filter((r) => r.state === "ready").length === n)
      && ob.replicas.length === Object.values(want).reduce((a, b) => a + b, 0);
    /** The revision a replica behind `url` names on its answers (the runtime's x-flowplane-revision). */
    const answeringRevision = async (url: string) => (await fetch(`${url}/flows`, { headers: { [GATEWAY_SECRET_HEADER]: GATEWAY } })).headers.get("x-flowplane-revision");

    it("keeps another live revision's replicas beside the current ones, each reachable on its own", async () => {
      const before = (await driver.observe(resourceName)).replicas.map((r) => r.id);
      // Revision 5 becomes current; revision 4 stays live (a canary's stable revision, a warm one) with 1 replica.
      const ob = await converge(spec(7, 2, { revision: 5, others: [spec(6, 1, { revision: 4, env: { GREETING: "hello 6" } })] }), readyRevisions({ 5: 2, 4: 1 }));
      if (o.replicasChangePool !== false) assert.deepEqual(byRevision(ob, 4).map((r) => r.id), before, "the live revision's replica is kept, not restarted");
      for (const rev of [4, 5]) {
        const eps = driver.endpoints(resourceName, rev);
        assert.ok(eps.length >= 1, `revision ${rev} has ready endpoints`);
        if (o.endpointsAnswer) for (const ep of eps) assert.equal(await answeringRevision(ep), String(rev));
      }
      assert.deepEqual(driver.endpoints(resourceName, 99), [], "no replica of a revision that is not live");
    });

    it("a spec for a live revision (a rollback to it) runs on that revision's replicas (locally the very same ones)", async () => {
      const before = byRevision(await driver.observe(resourceName), 4).map((r) => r.id);
      const ob = await converge(spec(8, 1, { revision: 4, others: [spec(7, 1, { revision: 5 })] }), readyRevisions({ 4: 1, 5: 1 }));
      if (o.replicasChangePool !== false) assert.deepEqual(byRevision(ob, 4).map((r) => r.id), before, "revision 4's replica serves on, the same one");
      if (o.endpointsAnswer) for (const ep of driver.endpoints(resourceName, 4)) assert.equal(await answeringRevision(ep), "4");
    });

    it("lets a revision no longer named go (the warm one's grace period is over)", async () => {
      const ob = await converge(spec(8, 1, { revision: 4 }), readyRevisions({ 4: 1 }));
      assert.equal(byRevision(ob, 5).length, 0);
      assert.deepEqual(driver.endpoints(resourceName, 5), []);
    });

    it("deletes everything it holds for the deployment", async () => {
      await driver.delete(resourceName);
      assert.ok(!(await driver.list()).includes(resourceName));
      const ob = await driver.observe(resourceName);
      assert.equal(ob.exists, false);
      assert.deepEqual(driver.endpoints(resourceName), []);
      await driver.delete(resourceName); // idempotent
    });
  });
}
