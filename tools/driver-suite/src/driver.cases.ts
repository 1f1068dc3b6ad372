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

    it("runs none at 0 replicas (a deployment disabled with its replicas stopped) and comes back at the same generation", async () => {
      const none = await converge(spec(4, 0), (x) => x.replicas.length === 0);
      assert.equal(none.exists, true, "the deployment's resources stay");
      assert.deepEqual(driver.endpoints(resourceName), []);
      await converge(spec(4, 1), readyAt(4, 1));
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
