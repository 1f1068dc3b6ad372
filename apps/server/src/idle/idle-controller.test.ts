import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, DEFAULT_RUNTIME, initialStatus, prepareVersion, type Deployment, type Store } from "@flowplane/core";
import { loadFixture, stepWallClock } from "@flowplane/testkit";
import { createPgliteClient, createSqlStore } from "@flowplane/store";
import { IdleController } from "./idle-controller.js";

/** The idle controller over a real (PGlite) store, with a movable clock and a fake set of ready replicas. */
describe("idle controller", () => {
  let store: Store;
  let close: () => Promise<void>;
  let clock = Date.parse("2026-01-01T00:00:00.000Z");
  const ready = new Map<string, string[]>();
  const notified: string[] = [];
  let idle: IdleController;

  const deployment = (id: string, idleMinutes: number | null): Deployment => ({
    id, projectId: "p", displayName: id, resourceName: `res-${id}`, appId: `app-${id}`, routes: { http: `h-${id}`, mcp: `m-${id}` },
    bundle: { name: "b", version: "1", digest: "sha256:x" }, networkAccess: "public",
    runtime: { ...DEFAULT_RUNTIME, scaleToZero: { idleMinutes, wakeTimeoutSeconds: 5 } },
    parameters: {}, parameterOverrides: {}, credentialNames: [], resources: DEFAULT_RESOURCES, generation: 1, revision: 1, status: initialStatus(),
    createdAt: new Date(clock).toISOString(), updatedAt: new Date(clock).toISOString(), createdBy: "u", deletionRequestedAt: null, deletedAt: null,
  });
  const reasons = async (id: string) => (await store.listEvents(id, { limit: 100 })).items.map((e) => e.reason);

  before(async () => {
    const sql = await createPgliteClient();
    store = createSqlStore({ sql });
    await store.migrate();
    close = () => sql.close();
    const project = await store.createProject({ id: "p", name: "p" });
    assert.equal(project.id, "p");
    // The version the deployments pin: the store refuses a deployment of one that is not there.
    await store.insertVersion({ ...prepareVersion({ name: "b", versionTag: "1", flows: [loadFixture("simple-chat-no-llm")], accessLevel: "project", allowedProjects: ["p"] }, "u"), projectId: "p" });
    for (const [id, minutes] of [["busy", 1], ["quiet", 1], ["never", null]] as const) {
      await store.createDeployment(deployment(id, minutes), Buffer.from("x"), { time: new Date(clock).toISOString(), type: "Normal", reason: "Created", message: "" });
      ready.set(`res-${id}`, ["http://127.0.0.1:1"]);
    }
    idle = new IdleController({ store, endpoints: (n) => ready.get(n) ?? [], notify: (id) => notified.push(id), now: () => clock, wallNow: () => clock, pollMs: 5 });
  });
  after(async () => {
    await close();
  });

  it("puts to sleep only what had no request for its window and has none in flight; never what has scale to zero off", async () => {
    idle.activity("busy", 1); // a long stream, still open
    clock += 30_000;
    await idle.sweep();
    assert.deepEqual(notified, [], "30 s is not a minute");
    clock += 31_000;
    await idle.sweep();
    assert.deepEqual(notified, ["quiet"]);
    assert.ok((await store.getDeployment("quiet"))?.sleeping);
    assert.equal((await store.getDeployment("busy"))?.sleeping ?? null, null, "a request in flight keeps it awake");
    assert.equal((await store.getDeployment("never"))?.sleeping ?? null, null);
    assert.ok((await reasons("quiet")).includes("ScaledToZero"));
    // The stream ends: a minute later, busy sleeps too.
    idle.activity("busy", -1);
    clock += 61_000;
    await idle.sweep();
    assert.deepEqual(notified, ["quiet", "busy"]);
  });

  it("a deployment still starting (no ready replica) is not idle: its window starts once a replica is ready", async () => {
    await store.createDeployment(deployment("slow", 1), Buffer.from("x"), { time: new Date(clock).toISOString(), type: "Normal", reason: "Created", message: "" });
    notified.length = 0;
    // Three windows without a ready replica (a slow start, or a crash loop): never put to sleep.
    for (let i = 0; i < 3; i++) {
      clock += 61_000;
      await idle.sweep();
    }
    assert.deepEqual(notified, []);
    // Ready now: a whole window from the sweep that saw it ready.
    ready.set("res-slow", ["http://127.0.0.1:4"]);
    clock += 30_000;
    await idle.sweep();
    assert.deepEqual(notified, [], "the window counts from when the sweep saw it ready, not from its creation");
    clock += 61_000;
    await idle.sweep();
    assert.deepEqual(notified, ["slow"]);
    assert.ok((await store.getDeployment("slow"))?.sleeping);
  });

  it("concurrent wake-ups share one: one event, one reconcile, all resolved once a replica is ready", async () => {
    notified.length = 0;
    ready.set("res-quiet", []);
    const waits = Array.from({ length: 10 }, () => idle.wake("quiet", 5_000));
    // The reconciler starts a replica (here: it appears) some time later.
    setTimeout(() => ready.set("res-quiet", ["http://127.0.0.1:2"]), 50);
    await Promise.all(waits);
    assert.deepEqual(notified, ["quiet"]);
    assert.equal((await store.getDeployment("quiet"))?.sleeping ?? null, null);
    assert.equal((await reasons("quiet")).filter((r) => r === "Woken").length, 1);
    // A wake of an awake deployment with a ready replica changes nothing and returns at once.
    await idle.wake("never", 5_000);
    assert.deepEqual(notified, ["quiet"]);
  });

  it("a caller waits at most its own timeout when no replica comes", async () => {
    ready.set("res-never", []);
    const t = Date.now();
    await idle.wake("never", 100);
    assert.ok(Date.now() - t < 5_000);
    ready.set("res-never", ["http://127.0.0.1:3"]);
  });

  it("on its own clocks, a wall clock stepped forward an hour puts nothing to sleep; a whole window of no request still does", async () => {
    await store.createDeployment({ ...deployment("stepped", 1), updatedAt: new Date().toISOString() }, Buffer.from("x"), { time: new Date().toISOString(), type: "Normal", reason: "Created", message: "" });
    ready.set("res-stepped", ["http://127.0.0.1:5"]);
    const slept: string[] = [];
    const controller = (now?: () => number) => new IdleController({ store, endpoints: (n) => ready.get(n) ?? [], notify: (id) => slept.push(id), ...(now ? { now } : {}) });
    const running = controller(); // its default clocks, started before the step
    const forward = stepWallClock(3_600_000);
    try {
      // The wall clock says an hour went by, the monotonic one a moment.
      await running.sweep();
      assert.ok(!slept.includes("stepped"), "a moment idle, though the wall clock says an hour");
      // A monotonic clock the test moves: a whole minute without a request puts it to sleep.
      let mono = 0;
      const moved = controller(() => mono);
      mono += 30_000;
      await moved.sweep();
      assert.ok(!slept.includes("stepped"), "30 s is not a minute");
      mono += 31_000;
      await moved.sweep();
      assert.ok(slept.includes("stepped"), "a whole minute without a request");
    } finally {
      forward();
    }
    assert.ok((await store.getDeployment("stepped"))?.sleeping);
  });
});
