import assert from "node:assert/strict";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readReplicaLogs } from "@flowplane/driver-local";
import { waitFor } from "@flowplane/testkit";
import { personaChatbot } from "../persona-flow.js";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";
import { RunsService } from "./service.js";

/**
 * A logs follow checks access again as it goes: a viewer whose role is removed (or whose key is
 * revoked) stops receiving the deployment's lines within the re-check interval, instead of for
 * the rest of the stream's 30 minutes. Real store (PGlite), real log files.
 */
describe("logs follow re-checks access", () => {
  let t: TestControlPlane;
  let dir: string;
  let p: string;
  let id: string;
  before(async () => {
    t = await startTestControlPlane();
    dir = await mkdtemp(join(tmpdir(), "flowplane-follow-"));
    p = await t.project("follow");
    assert.equal((await t.call("POST", "/api/v1/bundles", { body: { name: "persona", versionTag: "1", accessLevel: "global", flows: [personaChatbot()] } })).status, 201);
    const d = await t.call("POST", `/api/v1/projects/${p}/deployments`, { body: { displayName: "F", bundle: { name: "persona", version: "1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-x" } } });
    assert.equal(d.status, 201, d.text);
    id = d.json.id;
    await writeFile(join(dir, "replica-a.log"), "first\n");
  });
  after(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const loss of ["role removed", "key revoked"] as const) {
    it(`${loss}: the stream ends within the re-check interval, not at its 60 s limit`, async () => {
      const viewer = await t.user(`v-${loss.replace(" ", "-")}`, { [p]: "viewer" });
      const runs = new RunsService({
        store: t.store, deployments: t.cp.deployments, logs: { readLogs: (_name, read) => readReplicaLogs(dir, read) },
        followPollMs: 10, followRecheckMs: 30, followMaxMs: 60_000,
      });
      const principal = await t.cp.identity.authenticate(viewer.key);
      const target = await runs.logsTarget(principal, p, id, { tail: "10" });
      const gone = new AbortController();
      const seen: string[] = [];
      let ended = false;
      const stillFollowing = async () => runs.mayFollow(await t.cp.identity.authenticate(viewer.key), p, id);
      const reading = (async () => {
        for await (const lines of runs.follow(target, gone.signal, stillFollowing)) seen.push(...lines.map((l) => l.text));
        ended = true;
      })();
      try {
        await waitFor(async () => seen.includes("first"), { timeoutMs: 5_000, intervalMs: 10, message: "the tail" });
        assert.equal(ended, false, "the follow runs while the caller may read");
        if (loss === "role removed") await t.store.removeMember(p, viewer.id);
        else await t.call("DELETE", `/api/v1/access-keys/${principal.keyId}`);
        await waitFor(async () => ended, { timeoutMs: 5_000, intervalMs: 10, message: "the follow ends after the caller lost access" });
        await appendFile(join(dir, "replica-a.log"), `after-${loss}\n`);
      } finally {
        gone.abort();
        await reading;
      }
    });
  }
});
