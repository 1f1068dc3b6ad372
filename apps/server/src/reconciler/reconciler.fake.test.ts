import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { DEFAULT_RESOURCES, type Deployment } from "@flowplane/core";
import { FakeDriver } from "@flowplane/driver-suite";
import { memoryLogger } from "@flowplane/logging";
import { loadFixture, sleep, stepWallClock, waitFor } from "@flowplane/testkit";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";
import { personaChatbot } from "../persona-flow.js";
import { Reconciler } from "./reconciler.js";

/**
 * The reconciler's rules (README.md beside this file) over the fake driver: real store (PGlite),
 * real API, real reconciler; only the runtime is staged, so crashes, throwing calls and hanging
 * deletes happen on cue and every test runs in milliseconds. reconciler.test.ts runs the same
 * loop over real processes.
 */
describe("reconciler over the fake driver", () => {
  const SECRET = "sk-fake-driver-secret-0123";
  let t: TestControlPlane;
  let driver: FakeDriver;
  let reconciler: Reconciler | undefined;
  let base: string;
  let logs: ReturnType<typeof memoryLogger>;
  let results: Record<"ok" | "error" | "skipped", number>;

  before(async () => {
    t = await startTestControlPlane({ notify: (id) => reconciler?.enqueue(id) });
    base = `/api/v1/projects/${await t.project("fast")}/deployments`;
    const r = await t.call("POST", "/api/v1/bundles", { body: { name: "chatbot", versionTag: "1", accessLevel: "global", flows: [loadFixture("memory-chatbot")] } });
    assert.equal(r.status, 201, r.text);
  });
  after(() => t.close());

  /** A fresh driver and reconciler per test; deployments of earlier tests stay in the store and keep being reconciled. */
  const start = (over: { driver?: FakeDriver } = {}) => {
    driver = over.driver ?? new FakeDriver();
    logs = memoryLogger();
    results = { ok: 0, error: 0, skipped: 0 };
    reconciler = new Reconciler({
      store: t.store, driver, credentials: t.credentials, tokens: t.cp.tokens, gatewaySecret: t.cp.gatewaySecrets, holder: "fast",
      // A slow resync: a fast one floods the in-process database; each test starts a reconciler, whose start resyncs.
      resyncMs: 5_000, busyRequeueMs: 20, errorRequeueMs: 20, leaseMs: 100,
      bundleUrl: (id) => `http://cp.invalid/internal/v1/deployments/${id}/bundle`,
      log: logs.log,
      metrics: { observeReconcile: (_s, result) => (results[result] += 1), setPhaseCounts: () => undefined },
    });
    reconciler.start();
  };
  beforeEach(() => start());
  afterEach(async () => {
    await reconciler?.stop();
    reconciler = undefined;
    await driver.close();
  });

  const deploy = async (displayName: string, replicas = 2): Promise<Deployment> => {
    const r = await t.call("POST", base, { body: { displayName, bundle: { name: "chatbot", version: "1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: SECRET }, resources: { replicas } } });
    assert.equal(r.status, 201, r.text);
    return r.json as Deployment;
  };
  const until = (id: string, cond: (d: Deployment) => boolean, message: string) =>
    waitFor(async () => {
      const d = await t.store.getDeployment(id);
      if (!d || !cond(d)) throw new Error(`status ${JSON.stringify(d?.status)}`); // what a timeout reports
      return d;
    }, { timeoutMs: 10_000, intervalMs: 20, message });
  const events = async (id: string) => (await t.store.listEvents(id, { limit: 100 })).items;
  const reasonOf = (d: Deployment) => d.status.conditions.find((c) => c.type === "RuntimeAvailable")?.reason;

  it("resyncs a deployment asleep (scaled to zero, Idle) only every 6th round; an awake one every round", async () => {
    const asleep = await deploy("asleep", 1);
    const awake = await deploy("awake", 1);
    for (const d of [asleep, awake]) await until(d.id, (x) => x.status.phase === "Ready", "Ready");
    // Put to sleep as the idle controller does; its own pass takes it to Idle.
    await t.store.updateDeployment(asleep.id, (cur) => ({ deployment: { ...cur, sleeping: { since: new Date().toISOString() } } }));
    reconciler!.enqueue(asleep.id);
    await until(asleep.id, (x) => x.status.phase === "Idle", "Idle");
    // A reconciler with a fast resync, from its first round: count the driver's applies per deployment.
    await reconciler!.stop();
    const fresh = new FakeDriver();
    const r = new Reconciler({
      store: t.store, driver: fresh, credentials: t.credentials, tokens: t.cp.tokens, gatewaySecret: t.cp.gatewaySecrets, holder: "fast",
      resyncMs: 50, busyRequeueMs: 20, errorRequeueMs: 20, leaseMs: 100, bundleUrl: (id) => `http://cp.invalid/internal/v1/deployments/${id}/bundle`,
    });
    reconciler = r;
    r.start();
    try {
      await waitFor(() => fresh.count("apply", awake.resourceName) >= 13, { timeoutMs: 20_000, intervalMs: 20, message: "13 resync passes of the awake one" });
    } finally {
      await r.stop();
      await fresh.close();
    }
    const sleeping = fresh.count("apply", asleep.resourceName);
    // The awake one is applied at least once a round, so there were at most that many rounds; the
    // asleep one at rounds 0, 6, 12...: at least twice (13 rounds), about a sixth as often.
    const rounds = fresh.count("apply", awake.resourceName);
    assert.ok(sleeping >= 2 && sleeping <= Math.ceil(rounds / 6) + 1, `the asleep one was applied ${sleeping} times, the awake one ${rounds}`);
  });

  it("takes a new deployment to Ready, giving the driver the decrypted credentials", async () => {
    const d = await deploy("create");
    const ready = await until(d.id, (x) => x.status.phase === "Ready", "Ready");
    assert.equal(ready.status.readyReplicas, 2);
    assert.equal(ready.status.observedGeneration, 1);
    const spec = driver.spec(d.resourceName);
    assert.equal(spec?.env.OPENAI_API_KEY, SECRET, "the sealed value reaches the runtime opened");
    assert.equal(spec?.generation, 1);
    assert.match(spec?.identityToken ?? "", /./);
    assert.ok((await events(d.id)).some((e) => e.message.endsWith("-> Ready: 2/2 replicas ready")));
    assert.ok(!logs.text().includes(SECRET));
  });

  it("names the plain parameters a deployment keeps secret to its replicas (names only), and none when it keeps none", async () => {
    const v = await t.call("POST", "/api/v1/bundles", { body: { name: "persona-kept", versionTag: "1", accessLevel: "global", flows: [personaChatbot()], defaults: { PERSONA: "a default" } } });
    assert.equal(v.status, 201, v.text);
    const create = async (displayName: string, extra: Record<string, unknown>) => {
      const r = await t.call("POST", base, { body: { displayName, bundle: { name: "persona-kept", version: "1" }, networkAccess: "public", ...extra } });
      assert.equal(r.status, 201, r.text);
      return until(r.json.id, (x) => x.status.phase === "Ready", "Ready");
    };
    const kept = await create("kept", { credentials: { OPENAI_API_KEY: SECRET, PERSONA: "postgresql://u:held-5151@db/x" } });
    const spec = driver.spec(kept.resourceName)!;
    assert.deepEqual(spec.secretParameters, ["PERSONA"], "the bundle's credential (OPENAI_API_KEY) is the replica's to find; the kept plain one is named");
    assert.equal(spec.env.PERSONA, "postgresql://u:held-5151@db/x");
    const clear = await create("clear", { credentials: { OPENAI_API_KEY: SECRET }, parameters: { PERSONA: "in the clear" } });
    assert.equal(driver.spec(clear.resourceName)!.secretParameters, undefined);
    // Moved back into the clear by an edit: the next generation names none.
    const e = await t.call("PATCH", `${base}/${kept.id}`, { body: { parameters: { PERSONA: "now plain" } } });
    assert.equal(e.status, 200, e.text);
    await until(kept.id, (x) => x.status.observedGeneration === 2 && x.status.phase === "Ready", "Ready at generation 2");
    assert.equal(driver.spec(kept.resourceName)!.secretParameters, undefined);
  });

  it("a pass queued with a delay runs after that delay, though the wall clock steps back an hour meanwhile", async () => {
    const d = await deploy("stepped", 1);
    await until(d.id, (x) => x.status.phase === "Ready", "Ready");
    const applies = () => driver.calls.filter((c) => c.method === "apply" && c.resourceName === d.resourceName).length;
    await sleep(200); // nothing left queued for it: Ready waits for the resync (5 s)
    const before = applies();
    reconciler!.enqueue(d.id, 300);
    const back = stepWallClock(-3_600_000);
    try {
      await waitFor(() => applies() > before, { timeoutMs: 2_000, intervalMs: 20, message: "the pass 300 ms later, not an hour" });
    } finally {
      back();
    }
  });

  it("rolls an edit to a new generation: Updating while the new replicas start, Ready once they serve", async () => {
    const d = await deploy("edit");
    await until(d.id, (x) => x.status.phase === "Ready", "Ready at generation 1");
    driver.setReadiness("manual");
    const r = await t.call("PATCH", `${base}/${d.id}`, { body: { credentials: { OPENAI_API_KEY: `${SECRET}-2` } } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.generation, 2);
    const rolling = await until(d.id, (x) => x.status.phase === "Updating", "Updating");
    // Both old replicas keep serving; one of them is also revision 1's warm replica, which the
    // status counts apart (liveRevisions), so one is counted here.
    assert.equal(rolling.status.readyReplicas, 1, "the old replicas keep serving");
    const mid = await driver.observe(d.resourceName);
    assert.deepEqual(mid.replicas.map((x) => `${x.generation}:${x.state}`).sort(), ["1:ready", "1:ready", "2:starting", "2:starting"]);
    driver.setReadiness("auto");
    driver.makeReady(d.resourceName);
    const done = await until(d.id, (x) => x.status.phase === "Ready" && x.status.observedGeneration === 2, "Ready at generation 2");
    assert.equal(done.status.readyReplicas, 2);
    // Beside the new generation, one replica of revision 1 stays warm for the grace period (an instant rollback).
    const after = (await driver.observe(d.resourceName)).replicas;
    assert.deepEqual(after.filter((x) => x.generation !== 2).map((x) => `${x.revision}:${x.state}`), ["1:ready"]);
    assert.equal(after.filter((x) => x.generation === 2).length, 2);
    assert.equal(driver.spec(d.resourceName)?.env.OPENAI_API_KEY, `${SECRET}-2`);
  });

  it("reports a crash: Degraded while a replica still serves, Failed with the driver's reason when none does", async () => {
    const d = await deploy("crash");
    await until(d.id, (x) => x.status.phase === "Ready", "Ready");
    driver.crash(d.resourceName, { message: "exit code 1", count: 1 });
    const degraded = await until(d.id, (x) => x.status.phase === "Degraded", "Degraded");
    assert.equal(reasonOf(degraded), "ReplicasRestarting");
    assert.equal(degraded.status.readyReplicas, 1);
    driver.crash(d.resourceName, { message: "exit code 1", failure: { reason: "CrashLoopBackOff", message: "the runtime exits at start: flow load failed" } });
    const failed = await until(d.id, (x) => x.status.phase === "Failed", "Failed");
    assert.equal(reasonOf(failed), "CrashLoopBackOff");
    assert.equal(failed.status.readyReplicas, 0);
    const warning = (await events(d.id)).find((e) => e.type === "Warning" && e.reason === "CrashLoopBackOff");
    assert.match(warning?.message ?? "", /-> Failed: the runtime exits at start/);
    driver.makeReady(d.resourceName);
    await until(d.id, (x) => x.status.phase === "Ready", "Ready after recovery");
  });

  it("a pass that read the record before the kill switch was flipped (elsewhere) does not overwrite its phase", async () => {
    const d = await deploy("switch-race");
    await until(d.id, (x) => x.status.phase === "Ready", "Ready");
    let passesAtFlip = -1;
    // Another process disables it while this pass applies: no notify reaches this reconciler.
    driver.intercept("apply", async () => {
      await t.store.updateDeployment(d.id, (cur) => ({ deployment: { ...cur, disabled: { at: new Date().toISOString(), by: "other", stopReplicas: false }, status: { ...cur.status, phase: "Disabled" } } }));
      passesAtFlip = results.ok + results.error;
    }, { resourceName: d.resourceName, once: true });
    driver.crash(d.resourceName, { message: "exit code 1", count: 1 }); // so the stale pass computes another status (Degraded)
    await waitFor(async () => passesAtFlip >= 0 && results.ok + results.error > passesAtFlip, { timeoutMs: 10_000, intervalMs: 10, message: "the pass under way ended" });
    const after = await t.store.getDeployment(d.id);
    assert.equal(after?.status.phase, "Disabled", "the stale pass wrote nothing");
    assert.equal(after?.disabled?.by, "other");
  });

  it("contains a throwing driver call to its deployment: the others keep reconciling, and it retries", async () => {
    // Armed before the create: resource names are the display name and a random suffix.
    const remove = driver.intercept("apply", (name) => {
      if (name?.startsWith("bad-")) throw new Error("apply exploded");
    });
    const bad = await deploy("bad", 1);
    const good = await deploy("good", 1);
    await until(good.id, (x) => x.status.phase === "Ready", "the healthy deployment Ready");
    await waitFor(() => driver.count("apply", bad.resourceName) >= 3, { timeoutMs: 10_000, intervalMs: 20, message: "retries of the failing deployment" });
    assert.notEqual((await t.store.getDeployment(bad.id))?.status.phase, "Ready");
    assert.ok(logs.lines.some((l) => l.level === "error" && l.deploymentId === bad.id && String(l.error).endsWith("apply exploded")));
    assert.ok(results.error >= 3);
    remove();
    await until(bad.id, (x) => x.status.phase === "Ready", "Ready once the driver recovers");
  });

  it("undeploys in order: runtime first, then credentials, then the record; a failed delete is retried and stops there", async () => {
    const d = await deploy("undeploy");
    await until(d.id, (x) => x.status.phase === "Ready", "Ready");
    const atDelete: { credentials: boolean; deletedAt: string | null }[] = [];
    driver.intercept("delete", async () => {
      atDelete.push({ credentials: (await t.store.getSealedCredentials(d.id)) !== null, deletedAt: (await t.store.getDeployment(d.id))!.deletedAt });
    }, { resourceName: d.resourceName });
    driver.failNext("delete", new Error("finalizer stuck"), d.resourceName);
    assert.equal((await t.call("DELETE", `${base}/${d.id}`)).status, 202);
    const stuck = await waitFor(async () => (await events(d.id)).find((e) => e.reason === "DeleteStuck"), { timeoutMs: 10_000, intervalMs: 20, message: "the DeleteStuck event" });
    assert.equal(stuck.type, "Warning");
    assert.match(stuck.message, /finalizer stuck/);
    const gone = await until(d.id, (x) => x.deletedAt !== null, "the record marked deleted");
    assert.equal(gone.status.phase, "Deleting");
    assert.ok(atDelete.length >= 2, "the failed delete was retried");
    assert.ok(atDelete.every((s) => s.credentials && s.deletedAt === null), "credentials and record outlive every delete of the runtime");
    assert.equal(await t.store.getSealedCredentials(d.id), null);
    assert.ok(!(await driver.list()).includes(d.resourceName));
    assert.equal((await events(d.id)).at(-1)?.reason, "Deleted");
  });

  it("leaves a deployment whose lease another holder has, and takes it once released", async () => {
    await reconciler!.stop();
    reconciler = undefined; // the create below wakes nobody
    const d = await deploy("leased", 1);
    assert.equal(await t.store.acquireLease(d.id, "another-control-plane", 60_000), true);
    start();
    await waitFor(() => results.skipped >= 2, { timeoutMs: 10_000, intervalMs: 20, message: "passes skipped for the lease" });
    assert.equal(driver.count("apply", d.resourceName), 0, "nothing applied under another holder's lease");
    assert.equal((await t.store.getDeployment(d.id))?.status.phase, "Provisioning");
    await t.store.releaseLease(d.id, "another-control-plane");
    await until(d.id, (x) => x.status.phase === "Ready", "Ready once the lease is free");
  });

  it("renews a lease it took less than leaseMs/3 ago without a write; older, it writes again", async () => {
    await reconciler!.stop();
    reconciler = undefined;
    const d = await deploy("lease-kept", 1);
    let writes = 0;
    const store = new Proxy(t.store, {
      get: (target, key, recv) => (key === "acquireLease" ? (...a: Parameters<typeof t.store.acquireLease>) => (writes++, target.acquireLease(...a)) : Reflect.get(target, key, recv)),
    });
    let passes = 0;
    const r = new Reconciler({
      store, driver, credentials: t.credentials, tokens: t.cp.tokens, gatewaySecret: t.cp.gatewaySecrets, holder: "fast",
      resyncMs: 60_000, busyRequeueMs: 60_000, leaseMs: 3_000, bundleUrl: (id) => `http://cp.invalid/${id}`,
      metrics: { observeReconcile: () => void passes++, setPhaseCounts: () => undefined },
    });
    try {
      for (let i = 1; i <= 3; i++) {
        r.enqueue(d.id);
        await waitFor(() => passes >= i, { timeoutMs: 10_000, intervalMs: 5, message: `pass ${i}` });
      }
      assert.equal(writes, 1, "three passes within a second: one lease write");
      await new Promise((res) => setTimeout(res, 1_100)); // past leaseMs/3
      r.enqueue(d.id);
      await waitFor(() => passes >= 4, { timeoutMs: 10_000, intervalMs: 5, message: "pass 4" });
      assert.equal(writes, 2, "a lease older than leaseMs/3 is renewed");
    } finally {
      await r.stop();
    }
  });

  /** A reconciler over `t.store` that counts the store calls named in `counted`, and its passes. */
  const counting = (counted: string[], extra: Partial<ConstructorParameters<typeof Reconciler>[0]> = {}) => {
    const calls: Record<string, number> = Object.fromEntries(counted.map((k) => [k, 0]));
    const store = new Proxy(t.store, {
      get: (target, key, recv) => {
        const v = Reflect.get(target, key, recv) as unknown;
        if (typeof key !== "string" || !counted.includes(key) || typeof v !== "function") return v;
        return (...a: unknown[]) => {
          calls[key] = (calls[key] ?? 0) + 1;
          if (typeof a[0] === "string") calls[`${key} ${a[0]}`] = (calls[`${key} ${a[0]}`] ?? 0) + 1; // per deployment id
          return (v as (...x: unknown[]) => unknown).apply(target, a);
        };
      },
    });
    const seen = { passes: 0 };
    const r = new Reconciler({
      store, driver, credentials: t.credentials, tokens: t.cp.tokens, gatewaySecret: t.cp.gatewaySecrets, holder: "fast",
      resyncMs: 60_000, busyRequeueMs: 60_000, leaseMs: 3_000, bundleUrl: (id) => `http://cp.invalid/${id}`,
      metrics: { observeReconcile: () => void seen.passes++, setPhaseCounts: () => undefined }, ...extra,
    });
    const passes = async (id: string, n: number) => {
      for (let i = 0; i < n; i++) {
        const want = seen.passes + 1;
        r.enqueue(id);
        await waitFor(() => seen.passes >= want, { timeoutMs: 10_000, intervalMs: 5, message: `pass ${want}` });
      }
    };
    return { r, calls, passes };
  };

  it("reads a deployment's sealed credentials once per generation; an edit's new ones reach the driver", async () => {
    await reconciler!.stop();
    reconciler = undefined;
    const d = await deploy("sealed-once", 1);
    const { r, calls, passes } = counting(["getSealedCredentials", "getVersionedDeployment"]);
    try {
      await passes(d.id, 3);
      assert.equal(calls.getVersionedDeployment, 3, "every pass asked for by other than a resync reads the record");
      assert.equal(calls.getSealedCredentials, 1, "the credentials once for generation 1");
      assert.equal(driver.spec(d.resourceName)?.env.OPENAI_API_KEY, SECRET);
      const e = await t.call("PATCH", `${base}/${d.id}`, { body: { credentials: { OPENAI_API_KEY: `${SECRET}-new` } } });
      assert.equal(e.status, 200, e.text);
      await passes(d.id, 2);
      assert.equal(calls.getSealedCredentials, 2, "read again for generation 2, once");
      assert.equal(driver.spec(d.resourceName)?.env.OPENAI_API_KEY, `${SECRET}-new`, "the new credentials are applied");
      assert.equal(driver.spec(d.resourceName)?.generation, 2);
    } finally {
      await r.stop();
    }
  });

  it("on its own store, a pass only a resync asked for reads no record while the resync lists its version; a shared store is read every pass", async () => {
    await reconciler!.stop();
    reconciler = undefined;
    const d = await deploy("resync-cached", 1);
    /** Reads of a settled deployment's record over six (or more) resync passes, once one has read it after its last write. */
    const readsOverSixPasses = async (x: Deployment, calls: Record<string, number>) => {
      const reads = () => calls[`getVersionedDeployment ${x.id}`] ?? 0;
      const applies = () => driver.count("apply", x.resourceName);
      await waitFor(() => reads() >= 1 && applies() >= 3, { timeoutMs: 10_000, intervalMs: 5, message: "passes after Ready" });
      const [readsBefore, appliesBefore] = [reads(), applies()];
      await waitFor(() => applies() >= appliesBefore + 6, { timeoutMs: 10_000, intervalMs: 5, message: "six resync passes" });
      return { reads: reads() - readsBefore, passes: applies() - appliesBefore };
    };
    const own = counting(["getVersionedDeployment"], { resyncMs: 40, storeIsOwn: true });
    own.r.start();
    try {
      await until(d.id, (x) => x.status.phase === "Ready", "Ready");
      const n = await readsOverSixPasses(d, own.calls);
      assert.ok(n.reads <= 1, `${n.reads} reads in ${n.passes} resync passes`);
      // A write nobody announces (as a bug would): the next resync lists a new version, so its pass reads and applies it.
      await t.store.updateDeployment(d.id, (cur) => ({ deployment: { ...cur, parameters: { ...cur.parameters, UNANNOUNCED: "seen" } } }));
      await waitFor(() => driver.spec(d.resourceName)?.env.UNANNOUNCED === "seen", { timeoutMs: 10_000, intervalMs: 5, message: "the change applied" });
      // Nothing is kept of a deployment gone (here its runtime is swept as an orphan, which wakes a pass that reads it).
      const kept = (own.r as unknown as { records: Map<string, unknown> }).records;
      assert.ok(kept.has(d.id));
      await t.store.updateDeployment(d.id, (cur) => ({ deployment: { ...cur, deletedAt: new Date().toISOString() } }));
      await waitFor(() => !kept.has(d.id), { timeoutMs: 10_000, intervalMs: 5, message: "dropped once no longer listed" });
    } finally {
      await own.r.stop();
    }
    // A shared PostgreSQL: another control plane may write between a resync's list and its pass, so every pass reads.
    const d2 = await deploy("resync-shared", 1);
    const shared = counting(["getVersionedDeployment"], { resyncMs: 40 });
    shared.r.start();
    try {
      await until(d2.id, (x) => x.status.phase === "Ready", "Ready");
      const n = await readsOverSixPasses(d2, shared.calls);
      // One read per pass (give or take the one pass under way at either count).
      assert.ok(n.reads >= n.passes - 1, `${n.reads} reads in ${n.passes} resync passes`);
    } finally {
      await shared.r.stop();
    }
  });

  it("takes no lease when the store is its own (PGlite), even one another holder left", async () => {
    await reconciler!.stop();
    reconciler = undefined;
    const d = await deploy("own-store", 1);
    assert.equal(await t.store.acquireLease(d.id, "a-holder-from-before", 60_000), true);
    const { r, calls, passes } = counting(["acquireLease"], { storeIsOwn: true });
    try {
      await passes(d.id, 3);
      assert.equal(calls.acquireLease, 0, "no lease written");
      assert.equal(driver.count("apply", d.resourceName), 3, "every pass applied");
    } finally {
      await r.stop();
      await t.store.releaseLease(d.id, "a-holder-from-before");
    }
  });

  it("sweeps orphans (runtimes held for no active deployment) and keeps the others", async () => {
    const live = await deploy("kept", 1);
    await until(live.id, (x) => x.status.phase === "Ready", "Ready");
    await reconciler!.stop();
    const ghost = "ghost-0rphan1";
    await driver.apply({
      deploymentId: "ghost", projectId: "p", resourceName: ghost, generation: 1, bundle: live.bundle, bundleUrl: "http://cp.invalid/x",
      identityToken: "x", gatewaySecret: "g", engine: "native", logLevel: "info", requestTimeoutSeconds: 5, networkAccess: "public",
      resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: {},
    });
    start({ driver }); // a (re)start sweeps at once
    await waitFor(async () => !(await driver.list()).includes(ghost), { timeoutMs: 10_000, intervalMs: 20, message: "the orphan deleted" });
    assert.ok(logs.lines.some((l) => l.msg === "deleting an orphan runtime" && l.resourceName === ghost));
    assert.ok((await driver.list()).includes(live.resourceName));
    assert.equal(driver.count("delete", live.resourceName), 0);
  });
});
