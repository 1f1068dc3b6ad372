import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { postgresSkipReason } from "@flowplane/store";
import { startPostgresTestControlPlane, startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * Conflicting calls at once on one bundle. On PGlite a handler's queries barely interleave with
 * another's; on a real PostgreSQL (and with several control planes over it) they do, which is
 * where each of these failed: every check made before the write must hold at the write.
 */
const ROUNDS = 12;

function raceCases(engine: string, open: () => Promise<TestControlPlane>, skip: string | false = false): void {
  describe(`conflicting calls at once (${engine})`, { skip }, () => {
    let t: TestControlPlane;
    const flow = loadFixture("simple-chat-no-llm");
    before(async () => {
      t = await open();
    });
    after(() => t?.close());

    it("an edit of a version deleted meanwhile is a 404, never a 500", async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const name = `edited-${i}`;
        assert.equal((await t.call("POST", "/api/v1/bundles", { body: { name, versionTag: "1", accessLevel: "global", flows: [flow] } })).status, 201);
        const [edit, del] = await Promise.all([
          t.call("PATCH", `/api/v1/bundles/${name}/versions/1`, { body: { description: "x" } }),
          t.call("DELETE", `/api/v1/bundles/${name}/versions/1`, { body: {} }),
        ]);
        assert.equal(del.status, 204);
        assert.ok([200, 404].includes(edit.status), `round ${i}: ${edit.status} ${edit.text}`);
      }
    });

    it("a deploy or a version change racing the version's delete: never a deployment pinned to a deleted version", async () => {
      const p = await t.project(`pins-${engine}`);
      const base = `/api/v1/projects/${p}/deployments`;
      const deploy = (name: string, version: string) => t.call("POST", base, { body: { displayName: "D", bundle: { name, version }, networkAccess: "public", runtime: { engine: "native" } } });
      const publish = (name: string, versionTag: string) => t.call("POST", "/api/v1/bundles", { body: { name, versionTag, accessLevel: "global", flows: [flow] } });
      const remove = (name: string, tag: string) => t.call("DELETE", `/api/v1/bundles/${name}/versions/${tag}`, { body: {} });
      const pinnedExists = async (id: string) => {
        const d = (await t.call("GET", `${base}/${id}`)).json as { bundle: { name: string; version: string } };
        return (await t.call("GET", `/api/v1/bundles/${d.bundle.name}/versions/${d.bundle.version}`)).status === 200;
      };
      for (let i = 0; i < ROUNDS; i++) {
        const name = `pinned-${i}`;
        for (const tag of ["1", "2", "3"]) assert.equal((await publish(name, tag)).status, 201);
        const [created] = await Promise.all([deploy(name, "2"), remove(name, "2")]);
        if (created.status === 201) assert.ok(await pinnedExists(created.json.id), `round ${i}: deployed onto a deleted version`);
        const d = await deploy(name, "1");
        assert.equal(d.status, 201, d.text);
        const [changed] = await Promise.all([t.call("PATCH", `${base}/${d.json.id}`, { body: { bundle: { version: "3" } } }), remove(name, "3")]);
        assert.ok([200, 400, 409].includes(changed.status), `round ${i}: ${changed.status} ${changed.text}`);
        assert.ok(await pinnedExists(d.json.id), `round ${i}: moved onto a deleted version`);
      }
    });

    it("an edit that read the deployment before a scale or a rate-limit change committed is refused, never undoing it", async () => {
      const p = await t.project(`edits-${engine}`);
      const base = `/api/v1/projects/${p}/deployments`;
      assert.equal((await t.call("POST", "/api/v1/bundles", { body: { name: `edits-${engine}`, versionTag: "1", accessLevel: "global", flows: [flow] } })).status, 201);
      // The edit's handler reads the deployment, then its credentials, then writes under the row
      // lock: the other change commits while the edit waits on that read (as on a busy database,
      // or another control plane).
      const between = async (edit: unknown, other: unknown) => {
        const d = await t.call("POST", base, { body: { displayName: "E", bundle: { name: `edits-${engine}`, version: "1" }, networkAccess: "public", runtime: { engine: "native" } } });
        assert.equal(d.status, 201, d.text);
        const url = `${base}/${d.json.id}`;
        const read = t.store.getSealedCredentials.bind(t.store);
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        let reached!: () => void;
        const waiting = new Promise<void>((r) => (reached = r));
        t.store.getSealedCredentials = async (id) => {
          t.store.getSealedCredentials = read;
          reached();
          await held;
          return read(id);
        };
        const first = t.call("PATCH", url, { body: edit });
        await waiting;
        const second = await t.call("PATCH", url, { body: other });
        release();
        return { first: await first, second, now: (await t.call("GET", url)).json as { resources: { replicas: number }; runtime: { requestTimeoutSeconds: number; limits: { deployment: { requestsPerSecond: number | null } } } } };
      };
      const scaled = await between({ runtime: { requestTimeoutSeconds: 30 } }, { resources: { replicas: 3 } });
      assert.equal(scaled.second.status, 200, scaled.second.text);
      assert.equal(scaled.now.resources.replicas, 3, "the scale answered 200 stays");
      assert.equal(scaled.first.status, 409, `the edit that read before the scale: ${scaled.first.status} ${scaled.first.text}`);
      const limited = await between({ runtime: { scaleToZero: { idleMinutes: 5 } } }, { runtime: { limits: { deployment: { requestsPerSecond: 5 } } } });
      assert.equal(limited.second.status, 200, limited.second.text);
      assert.equal(limited.now.runtime.limits.deployment.requestsPerSecond, 5, "the rate limit answered 200 stays");
      assert.equal(limited.first.status, 409, `the settings change that read before the rate limit: ${limited.first.status} ${limited.first.text}`);
    });

    it("two projects publishing one new bundle name at once: one owns it, the other is refused", async () => {
      const a = await t.project(`race-a-${engine}`);
      const b = await t.project(`race-b-${engine}`);
      const ua = await t.user("publisher-a", { [a]: "editor" });
      const ub = await t.user("publisher-b", { [b]: "editor" });
      for (let i = 0; i < ROUNDS; i++) {
        const name = `claimed-${i}`;
        const [ra, rb] = await Promise.all([
          t.call("POST", "/api/v1/bundles", { key: ua.key, body: { name, versionTag: "a", accessLevel: "global", flows: [flow] } }),
          t.call("POST", "/api/v1/bundles", { key: ub.key, body: { name, versionTag: "b", accessLevel: "global", flows: [flow] } }),
        ]);
        assert.deepEqual([ra.status, rb.status].sort(), [201, 403], `round ${i}: ${ra.status} ${rb.status}`);
        const versions = (await t.call("GET", `/api/v1/bundles/${name}`)).json.versions as { projectId: string }[];
        assert.equal(new Set(versions.map((v) => v.projectId)).size, 1, `round ${i}: ${name} holds versions of two projects`);
      }
    });
  });
}

raceCases("PGlite", () => startTestControlPlane());

raceCases("PostgreSQL", startPostgresTestControlPlane, postgresSkipReason());
