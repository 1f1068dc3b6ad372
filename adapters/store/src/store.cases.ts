import assert from "node:assert/strict";
import { describe, it, before, after } from "node:test";
import { runCases } from "./runs.cases.js";
import {
  ConflictError,
  NotFoundError,
  ValidationError,
  initialStatus,
  prepareVersion,
  DEFAULT_RESOURCES,
  DEFAULT_RUNTIME,
  type Deployment,
  type Store,
} from "@flowplane/core";

/**
 * The storage suite every Store implementation must pass (hono's common.case.test pattern):
 * pglite.test.ts and postgres.test.ts run these same cases against their engine.
 */
export function storeCases(name: string, open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>, skip: string | false = false): void {
  describe(`store suite: ${name}`, { skip }, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store, cleanup } = await open());
      await store.migrate();
      await store.migrate(); // idempotent
    });
    after(async () => {
      await cleanup?.();
    });

    const flow = (id: string, varName = "API_TOKEN") => ({
      id,
      name: `flow ${id}`,
      data: {
        nodes: [{ id: "A-1", data: { type: "TextInput", node: { template: { token: { load_from_db: true, value: varName, password: true } } } } }],
        edges: [],
      },
    });
    const version = (bundle: string, tag: string, access: { accessLevel: "project" | "global"; allowedProjects?: string[] }) =>
      prepareVersion({ name: bundle, versionTag: tag, flows: [flow(`${bundle}-${tag}`)], ...access }, "u-admin");

    it("creates users and finds the org owner", async () => {
      assert.equal(await store.findOrgOwner(), null);
      await store.createUser({ id: "u-admin", name: "admin", kind: "human", orgOwner: true });
      await store.createUser({ id: "u-m1", name: "bot", kind: "machine", orgOwner: false });
      assert.equal((await store.findOrgOwner())?.id, "u-admin");
      const u = await store.getUser("u-m1");
      assert.deepEqual({ ...u, createdAt: undefined }, { id: "u-m1", name: "bot", kind: "machine", orgOwner: false, createdAt: undefined, deactivatedAt: null });
      assert.equal(await store.getUser("nope"), null);
    });

    it("enforces the live key limit atomically, and finds only live keys", async () => {
      const expires = new Date(Date.now() + 86_400_000);
      const attempts = await Promise.allSettled(
        [1, 2, 3, 4, 5].map((i) => store.createKey({ id: `k${i}`, userId: "u-m1", prefix: `fp_${i}`, hash: `h${i}`, expiresAt: expires }, 2)));
      assert.equal(attempts.filter((a) => a.status === "fulfilled").length, 2);
      for (const a of attempts) if (a.status === "rejected") assert.ok(a.reason instanceof ConflictError);
      const live = (await store.listKeys("u-m1")).map((k) => k.id);
      assert.equal(live.length, 2);
      const found = await store.findLiveKey(`h${live[0]!.slice(1)}`, new Date());
      assert.equal(found?.user.id, "u-m1");
      assert.equal(found?.key.id, live[0]);
      assert.deepEqual([...(found?.roles ?? [])], [], "no project roles yet");
      // expired at the time asked: not found
      assert.equal(await store.findLiveKey(`h${live[0]!.slice(1)}`, new Date(expires.getTime() + 1000)), null);
      await store.revokeKey(live[0]!, new Date());
      assert.equal(await store.findLiveKey(`h${live[0]!.slice(1)}`, new Date()), null);
      // revoking frees a place under the limit
      await store.createKey({ id: "k9", userId: "u-m1", prefix: "fp_9", hash: "h9", expiresAt: expires }, 2);
      await assert.rejects(store.createKey({ id: "k10", userId: "u-m1", prefix: "fp_10", hash: "h10", expiresAt: expires }, 2), ConflictError);
    });

    it("records a key's last use at most once per interval, and stops a deactivated user's keys", async () => {
      await store.createUser({ id: "u-leaver", name: "leaver", kind: "machine", orgOwner: false });
      const expires = new Date(Date.now() + 86_400_000);
      await store.createKey({ id: "k-l1", userId: "u-leaver", prefix: "fp_l1", hash: "hl1", expiresAt: expires }, 2);
      const t0 = new Date(Date.now() - 1000);
      await store.touchKey("k-l1", t0, 60);
      await store.touchKey("k-l1", new Date(t0.getTime() + 30_000), 60);
      assert.equal((await store.getKey("k-l1"))?.lastUsedAt, t0.toISOString(), "within the interval: kept");
      const t1 = new Date(t0.getTime() + 61_000);
      await store.touchKey("k-l1", t1, 60);
      assert.equal((await store.getKey("k-l1"))?.lastUsedAt, t1.toISOString());
      assert.equal((await store.findLiveKey("hl1", new Date()))?.user.deactivatedAt, null);
      const d = await store.deactivateUser("u-leaver", new Date());
      assert.ok(d?.deactivatedAt);
      assert.equal(await store.findLiveKey("hl1", new Date()), null);
      await assert.rejects(store.createKey({ id: "k-l2", userId: "u-leaver", prefix: "fp_l2", hash: "hl2", expiresAt: expires }, 2), ConflictError);
      assert.equal(await store.deactivateUser("nope", new Date()), null);
    });

    it("pages through projects with a cursor, each once, and filters by ids", async () => {
      for (let i = 0; i < 7; i++) await store.createProject({ id: `p${i}`, name: `project-${i}` });
      await assert.rejects(store.createProject({ id: "px", name: "project-3" }), ConflictError);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listProjects(null, { limit: 3, cursor });
        assert.ok(page.items.length <= 3);
        seen.push(...page.items.map((p) => p.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(seen, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
      const some = await store.listProjects(["p1", "p5"], { limit: 10 });
      assert.deepEqual(some.items.map((p) => p.id), ["p1", "p5"]);
      assert.equal(some.nextCursor, null);
      await assert.rejects(store.listProjects(null, { limit: 3, cursor: "garbage!" }), ValidationError);
    });

    it("refuses a cursor it could not have issued for that list, before any query (never a database error)", async () => {
      // What a client can forge: base64url of any JSON. A numeric list's key must be digits, a
      // text one's hold no NUL (each of these was a database error, a 500, before).
      const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
      const numericLists: [string, (cursor: string) => Promise<unknown>][] = [
        ["users", (cursor) => store.listUsers({ limit: 2, cursor })],
        ["deployments", (cursor) => store.listDeployments("p0", { limit: 2, cursor })],
        ["events", (cursor) => store.listEvents("d0", { limit: 2, cursor })],
        ["revisions", (cursor) => store.listRevisions("d0", { limit: 2, cursor })],
        ["runs", (cursor) => store.listRuns("d0", {}, { limit: 2, cursor })],
      ];
      const textLists: [string, (cursor: string) => Promise<unknown>][] = [
        ["projects", (cursor) => store.listProjects(null, { limit: 2, cursor })],
        ["bundles", (cursor) => store.listBundles(null, { limit: 2, cursor })],
      ];
      for (const [name, list] of numericLists) {
        for (const bad of [["x"], ["1e5"], ["1.5"], ["-1"], ["99999999999999999999"], ["1", "2"], [1], [], {}, ["\u0000"]]) {
          await assert.rejects(list(forged(bad)), ValidationError, `${name}: ${JSON.stringify(bad)}`);
        }
        await list(forged(["1"])); // a key it could have issued: a page (maybe empty), no error
      }
      for (const [name, list] of textLists) {
        for (const bad of [["\u0000"], ["a\u0000b"], ["x".repeat(1025)], [1], ["a", "b"], "garbage!"]) {
          await assert.rejects(list(typeof bad === "string" ? bad : forged(bad)), ValidationError, `${name}: ${JSON.stringify(bad).slice(0, 40)}`);
        }
        await list(forged(["x"]));
      }
    });

    it("sets, changes and removes project roles; a live key's lookup carries its user's roles", async () => {
      // u-m1's live key k9 has hash h9 (above); the roles come with the key, in the same lookup.
      const rolesOf = async () => [...((await store.findLiveKey("h9", new Date()))?.roles ?? [])].sort();
      await store.setMember("p0", "u-m1", "viewer");
      await store.setMember("p0", "u-m1", "editor");
      await store.setMember("p1", "u-m1", "owner");
      await store.setMember("p2", "u-admin", "viewer"); // another user's role: not u-m1's
      assert.deepEqual(await rolesOf(), [["p0", "editor"], ["p1", "owner"]]);
      assert.equal((await store.listMembers("p0"))[0]?.userName, "bot");
      assert.equal(await store.removeMember("p1", "u-m1"), true);
      assert.equal(await store.removeMember("p1", "u-m1"), false);
      assert.deepEqual(await rolesOf(), [["p0", "editor"]]);
    });

    it("stores bundle versions immutably, filters visibility and resolves the newest", async () => {
      const v1 = version("support-bot", "v1", { accessLevel: "project", allowedProjects: ["p0"] });
      const stored = await store.insertVersion(v1);
      assert.equal(stored.digest, v1.digest);
      assert.equal(stored.projectId, "p0", "the publishing project is recorded");
      assert.deepEqual(stored.parameters, v1.parameters);
      await assert.rejects(store.insertVersion(v1), ConflictError);
      // nothing of the refused insert remains
      assert.equal((await store.listVersions("support-bot", null)).length, 1);
      await store.insertVersion(version("support-bot", "v2", { accessLevel: "project", allowedProjects: ["p1"] }));
      const shared = await store.insertVersion({ ...version("shared-tools", "2024.1", { accessLevel: "global" }), projectId: "p2" });
      assert.equal(shared.projectId, "p2");
      assert.equal((await store.getVersion("shared-tools", "2024.1", null))?.projectId, "p2");

      assert.equal((await store.getVersion("support-bot", "v1", ["p0"]))?.versionTag, "v1");
      assert.equal(await store.getVersion("support-bot", "v1", ["p1"]), null);
      assert.equal((await store.latestVersion("support-bot", null))?.versionTag, "v2");
      assert.equal((await store.latestVersion("support-bot", ["p0"]))?.versionTag, "v1");
      assert.equal((await store.getVersion("shared-tools", "2024.1", []))?.accessLevel, "global");

      const all = await store.listBundles(null, { limit: 1 });
      assert.equal(all.items[0]?.name, "shared-tools");
      const next = await store.listBundles(null, { limit: 1, cursor: all.nextCursor ?? undefined });
      assert.equal(next.items[0]?.name, "support-bot");
      assert.equal(next.items[0]?.versionCount, 2);
      assert.equal(next.items[0]?.latest.versionTag, "v2");
      assert.equal(next.nextCursor, null);
      const forP0 = await store.listBundles(["p0"], { limit: 10 });
      assert.deepEqual(forP0.items.map((b) => [b.name, b.latest.versionTag, b.versionCount]), [["shared-tools", "2024.1", 1], ["support-bot", "v1", 1]]);

      const raw = await store.getRawFlows("support-bot", "v1");
      assert.deepEqual(raw, v1.rawFlows);
      assert.deepEqual(await store.getRawFlow("support-bot", "v1", 0), v1.rawFlows[0]);
      assert.equal(await store.getRawFlow("support-bot", "v1", v1.rawFlows.length), null);
      assert.equal(await store.getRawFlow("support-bot", "nope", 0), null);
      const edited = await store.updateVersion({ ...stored, description: "new words", accessLevel: "global", allowedProjects: [] });
      assert.equal(edited.description, "new words");
      assert.equal(edited.digest, stored.digest);
      assert.equal(edited.projectId, "p0", "an edit keeps the publishing project");
      assert.equal((await store.getVersion("support-bot", "v1", []))?.accessLevel, "global");
    });

    const deployment = (id: string, over: Partial<Deployment> = {}): Deployment => ({
      id,
      projectId: "p0",
      displayName: `Deployment ${id}`,
      resourceName: `deployment-${id}`,
      appId: `app${id}`,
      routes: { http: `rh${id}`, mcp: `rm${id}` },
      bundle: { name: "support-bot", version: "v1", digest: "sha256:x" },
      networkAccess: "public",
      runtime: DEFAULT_RUNTIME,
      parameters: {},
      parameterOverrides: {},
      credentialNames: ["API_TOKEN"],
      resources: DEFAULT_RESOURCES,
      generation: 1,
      revision: 1,
      status: initialStatus(),
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      createdBy: "u-admin",
      deletionRequestedAt: null,
      deletedAt: null,
      ...over,
    });
    const event = { time: new Date().toISOString(), type: "Normal" as const, reason: "Created", message: "created" };

    it("creates a deployment with its credentials and first event in one transaction", async () => {
      const d = await store.createDeployment(deployment("d1"), Buffer.from([1, 2, 3, 250]), event);
      assert.equal(d.status.phase, "Provisioning");
      assert.deepEqual(await store.getSealedCredentials("d1"), Buffer.from([1, 2, 3, 250]));
      assert.equal((await store.listEvents("d1", { limit: 10 })).items[0]?.reason, "Created");
      // same resource name: refused, and neither its credentials nor its event are written
      await assert.rejects(store.createDeployment(deployment("d2", { resourceName: "deployment-d1" }), Buffer.from([9]), event));
      assert.equal(await store.getDeployment("d2"), null);
      assert.equal(await store.getSealedCredentials("d2"), null);
      assert.equal((await store.listEvents("d2", { limit: 10 })).items.length, 0);
    });

    it("refuses to delete a version that a live deployment pins", async () => {
      await assert.rejects(store.deleteVersion("support-bot", "v1", new Date()), ConflictError);
      assert.equal(await store.deleteVersion("support-bot", "v2", new Date()), true);
      assert.equal(await store.deleteVersion("support-bot", "v2", new Date()), false);
      assert.equal(await store.getRawFlows("support-bot", "v2"), null);
    });

    it("an edit of a version deleted since it was read is NotFoundError, and a refusing mayAdd stores nothing", async () => {
      const gone = await store.insertVersion(version("edited-away", "v1", { accessLevel: "global" }));
      assert.equal(await store.deleteVersion("edited-away", "v1", new Date()), true);
      await assert.rejects(store.updateVersion({ ...gone, description: "too late" }), NotFoundError);
      const firsts: (string | null)[] = [];
      await store.insertVersion(version("owned", "v1", { accessLevel: "global" }), (first) => void firsts.push(first?.versionTag ?? null));
      await assert.rejects(store.insertVersion(version("owned", "v2", { accessLevel: "global" }), (first) => {
        firsts.push(first?.versionTag ?? null);
        throw new ConflictError("not yours");
      }), ConflictError);
      assert.deepEqual(firsts, [null, "v1"]);
      assert.deepEqual((await store.listVersions("owned", null)).map((v) => v.versionTag), ["v1"]);
    });

    it("updates under a row lock: concurrent changes are never lost", async () => {
      await Promise.all(Array.from({ length: 10 }, () =>
        store.updateDeployment("d1", (cur) => ({ deployment: { ...cur, generation: cur.generation + 1 } }))));
      assert.equal((await store.getDeployment("d1"))?.generation, 11);
      const moved = store.updateDeployment("d1", (cur) => ({ deployment: { ...cur, projectId: "p1" } }));
      await assert.rejects(moved, ConflictError);
      assert.equal((await store.getDeployment("d1"))?.projectId, "p0");
      const changed = await store.updateDeployment("d1", (cur) => ({
        deployment: { ...cur, generation: cur.generation + 1, parameters: { MODE: "fast" } },
        sealedCredentials: Buffer.from("new"),
        events: [{ ...event, reason: "ParametersChanged" }],
      }));
      assert.equal(changed?.generation, 12);
      assert.deepEqual(changed?.parameters, { MODE: "fast" });
      assert.deepEqual(await store.getSealedCredentials("d1"), Buffer.from("new"));
      // New credentials without a new generation: refused, nothing written (readers keep them per generation).
      await assert.rejects(store.updateDeployment("d1", (cur) => ({ deployment: { ...cur, displayName: "same-generation" }, sealedCredentials: Buffer.from("sneaked") })), ConflictError);
      assert.deepEqual(await store.getSealedCredentials("d1"), Buffer.from("new"));
      assert.notEqual((await store.getDeployment("d1"))?.displayName, "same-generation");
      assert.equal(await store.updateDeployment("missing", (cur) => ({ deployment: cur })), null);
      await store.deleteCredentials("d1");
      assert.equal(await store.getSealedCredentials("d1"), null);
    });

    it("writes a pass's status in one statement, only while the record is as the pass read it, its event with it", async () => {
      await store.createDeployment(deployment("ds"), Buffer.from([1]), event);
      const seen = (await store.getVersionedDeployment("ds"))!;
      const events = async () => (await store.listEvents("ds", { limit: 50 })).items.map((e) => e.reason);
      const ready = { ...seen.deployment.status, phase: "Ready" as const, readyReplicas: 1 };
      const became = { time: "2026-01-02T03:04:05.000Z", type: "Normal" as const, reason: "Available", message: "Provisioning -> Ready:" };
      assert.equal(await store.writeStatus(seen.deployment, ready, became), true);
      const after = (await store.getVersionedDeployment("ds"))!;
      // The status, nothing else: not updatedAt either (the record's last change by someone, which
      // scale to zero counts its idle window from); a new row version, so a pass that kept the record reads it again.
      assert.deepEqual(after.deployment, { ...seen.deployment, status: ready });
      assert.notEqual(after.version, seen.version);
      assert.deepEqual(await events(), ["Created", "Available"]);
      assert.equal((await store.listEvents("ds", { limit: 50 })).items[1]?.time, became.time, "the event at its own time");
      // From a read older than the last status write (its phase is not the stored one): nothing.
      const failed = { ...ready, phase: "Failed" as const };
      const fell = { ...became, type: "Warning" as const, reason: "Crashing", message: "Provisioning -> Failed:" };
      assert.equal(await store.writeStatus(seen.deployment, failed, fell), false);
      const cur = after.deployment;
      // Each change a status follows from, made since the read: nothing written, no event.
      const since = new Date().toISOString();
      const moves: [string, Deployment][] = [
        ["a new generation", { ...cur, generation: cur.generation + 1 }],
        ["an undeploy asked", { ...cur, deletionRequestedAt: since }],
        ["the kill switch", { ...cur, disabled: { at: since, by: "u-admin", stopReplicas: true } }],
        ["a scale", { ...cur, resources: { ...cur.resources, replicas: cur.resources.replicas + 2 } }],
        ["a sleep", { ...cur, sleeping: { since } }],
      ];
      for (const [why, moved] of moves) {
        await store.updateDeployment("ds", () => ({ deployment: moved }));
        assert.equal(await store.writeStatus(cur, { ...failed, phase: "Ready" }, null), false, why);
        assert.equal(await store.writeStatus(cur, failed, { ...fell, message: "Ready -> Failed:" }), false, why);
        assert.deepEqual((await store.getDeployment("ds"))!.status, ready, why);
        await store.updateDeployment("ds", () => ({ deployment: cur }));
      }
      assert.deepEqual(await events(), ["Created", "Available"]);
      // The same phase, no event: the status alone.
      assert.equal(await store.writeStatus(cur, { ...ready, readyReplicas: 2 }, null), true);
      assert.equal((await store.getDeployment("ds"))!.status.readyReplicas, 2);
      assert.deepEqual(await events(), ["Created", "Available"]);
      // A kill switch the pass saw (jsonb compared by value) does not stop its write.
      const off = { ...cur, status: (await store.getDeployment("ds"))!.status, disabled: { at: since, by: "u-admin", stopReplicas: false } };
      await store.updateDeployment("ds", () => ({ deployment: off }));
      assert.equal(await store.writeStatus(off, { ...off.status, phase: "Disabled" as const }, { ...became, reason: "Disabled", message: "Ready -> Disabled:" }), true);
      assert.deepEqual(await events(), ["Created", "Available", "Disabled"]);
      assert.equal(await store.writeStatus({ ...off, id: "missing" }, off.status, null), false);
      // Gone (the cases after this one count the live deployments).
      await store.updateDeployment("ds", (d) => ({ deployment: { ...d, deletedAt: since } }));
    });

    it("finds deployments by route id and lists the active ones", async () => {
      assert.equal((await store.findDeploymentByRoute("rhd1"))?.id, "d1");
      assert.equal((await store.findDeploymentByRoute("rmd1"))?.id, "d1");
      assert.equal(await store.findDeploymentByRoute("nope"), null);
      assert.equal((await store.findDeploymentByResourceName("deployment-d1"))?.id, "d1");
      assert.equal(await store.findDeploymentByResourceName("deployment-nope"), null);
      assert.equal((await store.countDeploymentsByPhase()).Provisioning, (await store.listActiveDeployments()).length);
      assert.ok((await store.listActiveDeployments()).some((x) => x.id === "d1" && x.resourceName === "deployment-d1" && !x.asleep));
      // Asleep: scaled to zero and Idle (the resync looks at it less often); not while it is still stopping.
      const since = new Date().toISOString();
      await store.updateDeployment("d1", (cur) => ({ deployment: { ...cur, sleeping: { since } } }));
      assert.equal((await store.listActiveDeployments()).find((x) => x.id === "d1")?.asleep, false, "sleeping but not Idle yet");
      await store.updateDeployment("d1", (cur) => ({ deployment: { ...cur, status: { ...cur.status, phase: "Idle" } } }));
      assert.equal((await store.listActiveDeployments()).find((x) => x.id === "d1")?.asleep, true);
      await store.updateDeployment("d1", (cur) => ({ deployment: { ...cur, sleeping: null, status: { ...cur.status, phase: "Provisioning" } } }));
      assert.equal((await store.listActiveDeployments()).find((x) => x.id === "d1")?.asleep, false);
    });

    it("gives a deployment's record a row version that every write changes, the same in the read and the list", async () => {
      const listed = async () => (await store.listActiveDeployments()).find((x) => x.id === "d1")?.version;
      const first = await store.getVersionedDeployment("d1");
      assert.equal(first?.deployment.id, "d1");
      assert.deepEqual(first?.deployment, await store.getDeployment("d1"), "the same record as getDeployment");
      assert.equal(typeof first?.version, "string");
      assert.equal(await listed(), first?.version, "the list gives the version of the record as read");
      assert.equal((await store.getVersionedDeployment("d1"))?.version, first?.version, "reading does not change it");
      // A write that changes nothing is still a write: a new version (the reconciler then reads again).
      await store.updateDeployment("d1", (cur) => ({ deployment: cur }));
      const second = await store.getVersionedDeployment("d1");
      assert.notEqual(second?.version, first?.version);
      assert.equal(await listed(), second?.version);
      await store.updateDeployment("d1", (cur) => ({ deployment: { ...cur, displayName: "renamed" } }));
      const third = await store.getVersionedDeployment("d1");
      assert.ok(third?.version !== second?.version && third?.version !== first?.version);
      assert.equal(third?.deployment.displayName, "renamed");
      assert.equal(await store.getVersionedDeployment("missing"), null);
    });

    it("gives a deployment's lease to one holder at a time, and to another once it expires", async () => {
      assert.equal(await store.acquireLease("d1", "cp-a", 60_000), true);
      assert.equal(await store.acquireLease("d1", "cp-b", 60_000), false);
      assert.equal(await store.acquireLease("d1", "cp-a", 60_000), true, "renewal");
      const race = await Promise.all(["x", "y", "z"].map((h) => store.acquireLease("d3", h, 60_000)));
      assert.equal(race.filter(Boolean).length, 1);
      await store.releaseLease("d1", "cp-a");
      assert.equal(await store.acquireLease("d1", "cp-b", 1), true);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(await store.acquireLease("d1", "cp-c", 60_000), true, "an expired lease is taken over");
    });

    it("publishes endpoint sets; a reader with a cursor sees the sets changed since, and never misses one", async () => {
      const all = await store.endpointsSince(null);
      assert.deepEqual(all.items, []);
      await store.publishEndpoints("rt-a", ["http://127.0.0.1:1", "http://127.0.0.1:2"]);
      await store.publishEndpoints("rt-b", ["http://127.0.0.1:3"]);
      const first = await store.endpointsSince(null);
      const byName = (items: { resourceName: string; urls: string[] }[]) => Object.fromEntries(items.map((x) => [x.resourceName, x.urls]));
      assert.deepEqual(byName(first.items), { "rt-a": ["http://127.0.0.1:1", "http://127.0.0.1:2"], "rt-b": ["http://127.0.0.1:3"] });
      await store.publishEndpoints("rt-a", []);
      const next = await store.endpointsSince(first.cursor);
      assert.deepEqual(byName(next.items)["rt-a"], [], "an emptied set is answered (removed or none ready)");
      // Whatever overlaps the cursor is answered again; applied as assignments, that is harmless.
      const since = byName((await store.endpointsSince(next.cursor)).items);
      for (const [name, urls] of Object.entries(since)) assert.deepEqual(urls, byName(next.items)[name] ?? byName(first.items)[name]);
    });

    it("publishes each URL's listener with its set; a set published without any has none", async () => {
      await store.publishEndpoints("rt-l", ["http://127.0.0.1:11", "http://127.0.0.1:12"], { "http://127.0.0.1:11": "socket:[4242]/0" });
      await store.publishEndpoints("rt-m", ["http://127.0.0.1:13"]);
      const items = (await store.endpointsSince(null)).items;
      assert.deepEqual(items.find((x) => x.resourceName === "rt-l")?.listeners, { "http://127.0.0.1:11": "socket:[4242]/0" });
      assert.deepEqual(items.find((x) => x.resourceName === "rt-m")?.listeners, {});
      await store.publishEndpoints("rt-l", ["http://127.0.0.1:11"], { "http://127.0.0.1:11": "socket:[4343]/0" });
      assert.deepEqual((await store.endpointsSince(null)).items.find((x) => x.resourceName === "rt-l")?.listeners, { "http://127.0.0.1:11": "socket:[4343]/0" }, "replaced with the set");
    });

    it("lists a project's live deployments newest first, and events oldest first, with cursors", async () => {
      for (let i = 3; i <= 7; i++) await store.createDeployment(deployment(`d${i}`), Buffer.from("x"), event);
      await store.updateDeployment("d4", (cur) => ({ deployment: { ...cur, deletedAt: new Date().toISOString() } }));
      await store.updateDeployment("d5", (cur) => ({ deployment: { ...cur, deletionRequestedAt: new Date().toISOString(), parameters: { MODE: "fast" } } }));
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listDeployments("p0", { limit: 2, cursor });
        ids.push(...page.items.map((d) => d.id));
        // A listed record is the record itself, to the field (timestamps, nulls, json columns).
        for (const d of page.items) assert.deepEqual(d, await store.getDeployment(d.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(ids, ["d7", "d6", "d5", "d3", "d1"]);
      assert.equal((await store.listDeployments("p1", { limit: 2 })).items.length, 0);
      for (let i = 0; i < 4; i++) await store.appendEvent("d3", { ...event, reason: `R${i}` });
      const first = await store.listEvents("d3", { limit: 3 });
      const rest = await store.listEvents("d3", { limit: 3, cursor: first.nextCursor ?? undefined });
      assert.deepEqual([...first.items, ...rest.items].map((e) => e.reason), ["Created", "R0", "R1", "R2", "R3"]);
    });
    it("keeps a deployment's live revisions (traffic) with the change, and clears them", async () => {
      await store.createDeployment(deployment("tr"), Buffer.from("s"), event);
      assert.equal((await store.getDeployment("tr"))?.traffic, null);
      const traffic = { runs: 2, canary: { stable: { revision: 1, runs: 1 }, percent: 10 }, warm: null };
      const changed = await store.updateDeployment("tr", (cur) => ({
        deployment: { ...cur, generation: cur.generation + 1, revision: 2, traffic },
        revision: { createdBy: "u-m1", cause: "edit", rolledBackTo: null, changes: ["parameters.MODE"] },
      }));
      assert.deepEqual(changed?.traffic, traffic);
      assert.deepEqual((await store.getDeployment("tr"))?.traffic, traffic);
      await store.updateDeployment("tr", (cur) => ({ deployment: { ...cur, traffic: null } }));
      assert.equal((await store.getDeployment("tr"))?.traffic, null);
    });

    it("keeps immutable numbered revisions, written with the change that makes them, credentials sealed beside them", async () => {
      const d = await store.createDeployment(deployment("rv", { parameters: { MODE: "slow" } }), Buffer.from("sealed-1"), event);
      assert.equal(d.revision, 1);
      const r1 = await store.getRevision("rv", 1);
      assert.equal(r1?.cause, "deploy");
      assert.deepEqual(r1?.createdBy, { userId: "u-admin", name: "admin" });
      assert.deepEqual(r1?.parameters, { MODE: "slow" });
      assert.deepEqual(r1?.credentialNames, ["API_TOKEN"]);
      assert.deepEqual(r1?.resources, { cpu: DEFAULT_RESOURCES.cpu, memory: DEFAULT_RESOURCES.memory }, "no replica count: scaling is not a revision");
      assert.deepEqual(await store.getRevisionCredentials("rv", 1), Buffer.from("sealed-1"));

      // An edit with new credentials: revision 2 holds them; revision 1 keeps its own.
      const edited = await store.updateDeployment("rv", (cur) => ({
        deployment: { ...cur, generation: cur.generation + 1, revision: cur.revision + 1, parameters: { MODE: "fast" } },
        sealedCredentials: Buffer.from("sealed-2"),
        revision: { createdBy: "u-m1", cause: "edit", rolledBackTo: null, changes: ["parameters.MODE"] },
      }));
      assert.equal(edited?.revision, 2);
      assert.deepEqual(await store.getRevisionCredentials("rv", 2), Buffer.from("sealed-2"));
      assert.deepEqual(await store.getRevisionCredentials("rv", 1), Buffer.from("sealed-1"));
      // A revision without new credentials seals the ones the deployment holds.
      await store.updateDeployment("rv", (cur) => ({
        deployment: { ...cur, generation: cur.generation + 1, revision: 3, runtime: { ...cur.runtime, logLevel: "debug" } },
        revision: { createdBy: "u-admin", cause: "rollback", rolledBackTo: 1, changes: ["runtime.logLevel"] },
      }));
      assert.deepEqual(await store.getRevisionCredentials("rv", 3), Buffer.from("sealed-2"));
      const r2 = await store.getRevision("rv", 2);
      assert.deepEqual({ by: r2?.createdBy, cause: r2?.cause, changes: r2?.changes, params: r2?.parameters }, { by: { userId: "u-m1", name: "bot" }, cause: "edit", changes: ["parameters.MODE"], params: { MODE: "fast" } });
      assert.equal((await store.getRevision("rv", 3))?.rolledBackTo, 1);

      // The number moves only with a record, by one; a refused change writes nothing at all.
      await assert.rejects(store.updateDeployment("rv", (cur) => ({ deployment: { ...cur, revision: cur.revision + 1 } })), ConflictError);
      await assert.rejects(store.updateDeployment("rv", (cur) => ({
        deployment: { ...cur, revision: cur.revision + 2 }, revision: { createdBy: "u-admin", cause: "edit", rolledBackTo: null, changes: [] },
      })), ConflictError);
      await assert.rejects(store.updateDeployment("rv", (cur) => ({
        // A new generation, so it is the identity check that refuses it (not the credentials rule): nothing of it is written.
        deployment: { ...cur, projectId: "p1", generation: cur.generation + 1, revision: cur.revision + 1 }, sealedCredentials: Buffer.from("lost"),
        revision: { createdBy: "u-admin", cause: "edit", rolledBackTo: null, changes: [] }, events: [{ ...event, reason: "Lost" }],
      })), ConflictError);
      assert.equal((await store.getDeployment("rv"))?.revision, 3);
      assert.equal(await store.getRevision("rv", 4), null);
      assert.deepEqual(await store.getSealedCredentials("rv"), Buffer.from("sealed-2"));
      assert.ok(!(await store.listEvents("rv", { limit: 50 })).items.some((e) => e.reason === "Lost"));
      // A change that is not a revision (scaling) keeps the number.
      const scaled = await store.updateDeployment("rv", (cur) => ({ deployment: { ...cur, resources: { ...cur.resources, replicas: 3 } } }));
      assert.equal(scaled?.revision, 3);

      // Newest first, with a cursor.
      const first = await store.listRevisions("rv", { limit: 2 });
      const rest = await store.listRevisions("rv", { limit: 2, cursor: first.nextCursor ?? undefined });
      assert.deepEqual([...first.items, ...rest.items].map((r) => r.revision), [3, 2, 1]);
      assert.equal(rest.nextCursor, null);
      assert.deepEqual((await store.listRevisions("nope", { limit: 5 })).items, []);
      await assert.rejects(store.listRevisions("rv", { limit: 2, cursor: "bm9wZQ" }), ValidationError);

      // Undeploy clears every revision's credentials with the deployment's.
      await store.deleteCredentials("rv");
      assert.equal(await store.getRevisionCredentials("rv", 1), null);
      assert.equal(await store.getRevisionCredentials("rv", 3), null);
      assert.equal((await store.getRevision("rv", 1))?.bundle.version, "v1", "the record stays for audit");
    });

    runCases(() => store);
  });
}
