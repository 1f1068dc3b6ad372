import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { apiCaller, killAll, loadFixture, replicaPidsOf, waitFor } from "@flowplane/testkit";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * A deployment's tweaks policy (runtime.tweaksPolicy, Langflow 1.13's tweaks_policy) end to end:
 * the real server and gateway, real replicas on the local driver, Langflow's Simple API Test
 * export (its Text Input feeds the Chat Output's sender name). Under `off` every tweak is refused
 * as Langflow refuses it (422 TWEAKS_REFUSED) and a plain run still runs; an edit to `permissive`
 * is a new revision whose replicas take the tweak; a component's code stays refused under it.
 */
const TEXT_INPUT = "TextInput-eFiZp";
const CHAT_OUTPUT = "ChatOutput-J6aor";

describe("tweaks policy (e2e)", { timeout: 600_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  let project: string;
  let dep: { id: string; endpoints: { http: string }; runtime: { tweaksPolicy: string } };
  let flowId: string;
  const api = (method: string, path: string, body?: unknown) => apiCaller(server.url, admin)(method, path, body);
  const path = (rest = "") => `/projects/${project}/deployments/${dep.id}${rest}`;
  const run = (body: unknown) => fetch(`${dep.endpoints.http}/api/v1/run/${flowId}`, { method: "POST", headers: { "x-access-key": admin, "content-type": "application/json" }, body: JSON.stringify(body) });
  const settled = (generation: number) => waitFor(async () => {
    const d = (await api("GET", path())).json;
    return d.status.phase === "Ready" && d.status.observedGeneration === generation && d.status.readyReplicas === d.resources.replicas ? d : null;
  }, { timeoutMs: 180_000, intervalMs: 250, message: `generation ${generation} Ready` });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-tweaks-policy-"));
    server = await startServer(dir, { FLOWPLANE_RESYNC_SECONDS: "2" });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "tweaks" })).json.id;
    assert.equal((await api("POST", "/bundles", { name: "api-test", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-api-test")] })).status, 201);
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a setting it does not know, naming the field, and writes nothing", async () => {
    const r = await api("POST", `/projects/${project}/deployments`, { displayName: "bad", bundle: { name: "api-test", version: "1" }, networkAccess: "public", runtime: { tweaksPolicy: "strict" } });
    assert.equal(r.status, 400, r.text);
    assert.ok((r.json.error.details as { field: string }[]).some((e) => e.field === "runtime.tweaksPolicy"), r.text);
    assert.equal((await api("GET", `/projects/${project}/deployments`)).json.items.length, 0);
  });

  it("off: every tweak is refused as Langflow 1.13 refuses it, and a run without tweaks still runs", async () => {
    const r = await api("POST", `/projects/${project}/deployments`, { displayName: "no-tweaks", bundle: { name: "api-test", version: "1" }, networkAccess: "public", runtime: { tweaksPolicy: "off" } });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    assert.equal(dep.runtime.tweaksPolicy, "off");
    await settled(1);
    flowId = ((await (await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": admin } })).json()) as { id: string }[])[0]!.id;
    const refused = await run({ input_value: "hi", tweaks: { [TEXT_INPUT]: { input_value: "Tweaked" } } });
    assert.equal(refused.status, 422);
    assert.deepEqual(await refused.json(), { detail: { error: "Refused tweaks", code: "TWEAKS_REFUSED", message: "This deployment does not accept tweaks.", fields: ["input_value"] } });
    const plain = await run({ input_value: "hi", session_id: "s1" });
    assert.equal(plain.status, 200);
    assert.match(await plain.text(), /"sender_name":"AI"/, "the author's value");
  });

  it("an edit to permissive is a new revision whose replicas take the tweak; a component's code is still refused", async () => {
    const r = await api("PATCH", path(), { runtime: { tweaksPolicy: "permissive" } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.runtime.tweaksPolicy, "permissive");
    await settled(2);
    const revisions = (await api("GET", path("/revisions"))).json.items as { revision: number; changes: string[] }[];
    assert.equal(revisions[0]!.revision, 2);
    assert.deepEqual(revisions[0]!.changes, ["runtime.tweaksPolicy"]);
    const diff = (await api("GET", path("/revisions/diff?from=1&to=2"))).json as { runtime: { name: string; from: string | null; to: string | null }[] };
    assert.deepEqual(diff.runtime.filter((c) => c.name === "tweaksPolicy"), [{ name: "tweaksPolicy", from: "off", to: "permissive" }]);
    const tweaked = await waitFor(async () => {
      const res = await run({ input_value: "hi", tweaks: { [TEXT_INPUT]: { input_value: "Tweaked" } } });
      return res.status === 200 ? res.text() : (await res.text(), null);
    }, { timeoutMs: 30_000, intervalMs: 250, message: "the tweak taken" });
    assert.match(tweaked, /"sender_name":"Tweaked"/);
    const code = await run({ input_value: "hi", tweaks: { [CHAT_OUTPUT]: { code: "import os" } } });
    assert.equal(code.status, 422);
    assert.deepEqual(await code.json(), { detail: { error: "Refused tweaks", code: "TWEAKS_REFUSED", message: "The field is protected and keeps the value set by the flow author.", fields: ["code"] } });
  });
});
