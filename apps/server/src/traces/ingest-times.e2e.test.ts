import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { apiCaller, killAll, loadFixture, replicaPidsOf, startServer, waitFor, type ServerProcess } from "@flowplane/testkit";

/**
 * Hostile review: the replica-facing traces endpoint takes what a replica sends (the team's own
 * code runs there) and must answer a bad batch with 400 naming the field, never a 500. The
 * schema's comment says it accepts "years 0000..9999 (what toISOString writes)", but PostgreSQL's
 * timestamptz has no year 0: `start: "0000-01-01T00:00:00Z"` passes validation and the INSERT
 * fails, answered 500 `internal_error`. Real server, real replica, its own identity token.
 */
describe("traces ingest: a start the store cannot hold is a 400, not a 500 (e2e)", { timeout: 180_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  let dep: { id: string; projectId: string };
  let token: string;

  const api = (method: string, path: string, body?: unknown) => apiCaller(server.url, admin)(method, path, body);
  const post = async (start: string) => {
    const trace = { requestId: `r-${start}`, flowId: "f", revision: 1, engine: "native", start, durationMs: 1, status: "ok", error: null, tokens: null, spans: [] };
    const r = await fetch(`${server.url}/internal/v1/deployments/${dep.id}/traces`, {
      method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ traces: [trace] }),
    });
    return { status: r.status, text: await r.text() };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-trace-times-"));
    server = await startServer(dir);
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    const project = (await api("POST", "/projects", { name: "t" })).json.id as string;
    assert.equal((await api("POST", "/bundles", { name: "chat", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    const r = await api("POST", `/projects/${project}/deployments`, { displayName: "T", bundle: { name: "chat", version: "1" }, networkAccess: "public", parameters: {}, resources: { replicas: 1 } });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    // The replica's own identity token, as a flow running in it could read it.
    token = await waitFor(async () => {
      for (const pid of await replicaPidsOf(dir)) {
        const env = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
        const t = env.split("\0").find((l) => l.startsWith("FLOWPLANE_IDENTITY_TOKEN="));
        if (t) return t.slice("FLOWPLANE_IDENTITY_TOKEN=".length);
      }
      return undefined;
    }, { timeoutMs: 60_000, intervalMs: 200, message: "a replica with its identity token" });
  });
  after(async () => {
    await server?.kill().catch(() => undefined);
    killAll(await replicaPidsOf(dir));
    await rm(dir, { recursive: true, force: true });
  });

  it("a well-formed trace is stored (control)", async () => {
    const r = await post("2026-01-01T00:00:00.000Z");
    assert.equal(r.status, 200, r.text);
  });

  it("year 0000 (which the schema allowed and PostgreSQL refuses) is a 400 naming traces.0.start", async () => {
    const r = await post("0000-01-01T00:00:00.000Z");
    assert.notEqual(r.status, 500, `a replica's bad time crashed the insert: ${r.text}`);
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /traces\.0\.start/);
    assert.match(r.text, /0001 to 9999/);
  });

  it("a time an offset carries past 9999 in UTC is a 400 too; the year's edges in UTC are stored", async () => {
    assert.equal((await post("9999-12-31T23:59:59-14:00")).status, 400);
    assert.equal((await post("9999-12-31T23:59:59.999Z")).status, 200);
    assert.equal((await post("0001-01-01T00:00:00.000Z")).status, 200);
  });
});
