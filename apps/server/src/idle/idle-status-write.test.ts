import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, DEFAULT_RUNTIME, initialStatus, prepareVersion, type Deployment, type Store } from "@flowplane/core";
import { loadFixture } from "@flowplane/testkit";
import { createPgliteClient, createSqlStore } from "@flowplane/store";
import { IdleController } from "./idle-controller.js";

/**
 * A reconcile pass's status write (Store.writeStatus) is not activity for scale to zero: the idle
 * window counts from the record's last change by someone (updated_at), which a status does not move.
 * (Found by session 37's review: the first writeStatus moved updated_at, so a deployment whose
 * replica crash-looped never slept.)
 */
describe("idle window vs the reconciler's status writes", () => {
  let store: Store;
  let close: () => Promise<void>;
  let clock = Date.parse("2026-01-01T00:00:00.000Z");
  const notified: string[] = [];

  before(async () => {
    const sql = await createPgliteClient();
    store = createSqlStore({ sql });
    await store.migrate();
    close = () => sql.close();
    await store.createProject({ id: "p", name: "p" });
    await store.insertVersion({ ...prepareVersion({ name: "b", versionTag: "1", flows: [loadFixture("simple-chat-no-llm")], accessLevel: "project", allowedProjects: ["p"] }, "u"), projectId: "p" });
    const d: Deployment = {
      id: "flappy", projectId: "p", displayName: "flappy", resourceName: "res-flappy", appId: "app-flappy", routes: { http: "h-flappy", mcp: "m-flappy" },
      bundle: { name: "b", version: "1", digest: "sha256:x" }, networkAccess: "public",
      runtime: { ...DEFAULT_RUNTIME, scaleToZero: { idleMinutes: 1, wakeTimeoutSeconds: 5 } },
      parameters: {}, parameterOverrides: {}, credentialNames: [], resources: { ...DEFAULT_RESOURCES, replicas: 2 }, generation: 1, revision: 1, status: initialStatus(),
      createdAt: new Date(clock).toISOString(), updatedAt: new Date(clock).toISOString(), createdBy: "u", deletionRequestedAt: null, deletedAt: null,
    };
    await store.createDeployment(d, Buffer.from("x"), { time: new Date(clock).toISOString(), type: "Normal", reason: "Created", message: "" });
  });
  after(() => close());

  it("a deployment with no request sleeps after its window even while one of its replicas crash-loops (status flaps)", async () => {
    const idle = new IdleController({ store, endpoints: (n) => (n === "res-flappy" ? ["http://127.0.0.1:1"] : []), notify: (id) => notified.push(id), now: () => clock, wallNow: () => clock, pollMs: 5 });
    // No request at all for 3 minutes (window: 1 minute). Every 20 s the reconciler writes a new
    // status, as it does for a replica that restarts (Ready 2/2 <-> Degraded 1/2).
    for (let i = 0; i < 9; i++) {
      clock += 20_000;
      const seen = (await store.getDeployment("flappy"))!;
      const phase = i % 2 === 0 ? "Ready" as const : "Degraded" as const;
      await store.writeStatus(seen, { ...seen.status, phase, readyReplicas: phase === "Ready" ? 2 : 1 }, null);
      await idle.sweep();
    }
    assert.deepEqual(notified, ["flappy"], "3 minutes without a request, window 1 minute: asleep (updated_at moved by status writes kept it awake)");
  });
});
