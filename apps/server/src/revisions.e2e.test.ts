import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { killAll, startFakeOpenAI, waitFor as poll, type FakeOpenAI } from "@flowplane/testkit";
import { personaChatbot } from "./persona-flow.js";
import { pidsMatching, startServer, type ServerProcess } from "./test-process.js";

/**
 * Revisions and rollback end to end (DESIGN 11), through the real server process, its gateway
 * and real replicas on the local driver: an edit makes revision 2; rollback to 1 makes revision
 * 3 under a bounded load with zero failed requests, and the replicas then really run with
 * revision 1's parameter and credential values (read off the requests a fake LLM records).
 * Every proxied answer names the revision in `x-flowplane-revision`.
 */
describe("revisions and rollback on one machine (e2e)", { timeout: 600_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let llm: FakeOpenAI;
  let admin: string;
  let project: string;
  let dep: { id: string; resourceName: string; endpoints: { http: string } };
  let flowId: string;

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}/api/v1${path}`, {
      method, headers: { "x-access-key": admin, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined, text };
  };
  const path = (rest = "") => `/projects/${project}/deployments/${dep.id}${rest}`;
  const settled = (generation: number, what: string) => poll(async () => {
    const d = (await api("GET", path())).json;
    if (!(d.status.phase === "Ready" && d.status.observedGeneration === generation && d.status.readyReplicas === d.resources.replicas)) throw new Error(`status ${JSON.stringify(d.status)}`);
    return d;
  }, { timeoutMs: 120_000, intervalMs: 200, message: what });
  const run = () => fetch(`${dep.endpoints.http}/flows/${flowId}/run`, {
    method: "POST", headers: { "x-access-key": admin, "content-type": "application/json" }, body: JSON.stringify({ input_value: "ping", session_id: `s${Math.random()}` }),
  });
  /** What the replica that answered the last run ran with: the system message (PERSONA) and the key it sent. */
  const lastSeen = () => {
    const req = llm.requests.at(-1)!;
    const system = (req.body.messages as { role: string; content: unknown }[]).find((m) => m.role === "system");
    return { persona: JSON.stringify(system?.content ?? null), auth: req.headers.authorization };
  };
  /** A bounded load (4 workers, at most 5,000 requests or 120 s) while `change` runs. */
  const underLoad = async (change: () => Promise<void>) => {
    let done = false;
    let count = 0;
    const failures: string[] = [];
    const revisions = new Set<string>();
    const deadline = Date.now() + 120_000;
    const worker = async () => {
      while (!done && count < 5000 && Date.now() < deadline) {
        count++;
        try {
          const r = await run();
          revisions.add(r.headers.get("x-flowplane-revision") ?? "none");
          const body = (await r.json()) as { success?: boolean };
          if (r.status !== 200 || body.success !== true) failures.push(`${r.status} ${JSON.stringify(body).slice(0, 200)}`);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    try {
      await change();
    } finally {
      done = true;
      await Promise.all(workers);
    }
    return { failures, count, revisions };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-rev-"));
    llm = await startFakeOpenAI();
    server = await startServer(dir, { FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_API_BASE", OPENAI_API_BASE: llm.baseUrl, FLOWPLANE_RESYNC_SECONDS: "2" });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "rev" })).json.id;
    assert.equal((await api("POST", "/bundles", { name: "persona", versionTag: "1", accessLevel: "global", flows: [personaChatbot()] })).status, 201);
    const r = await api("POST", `/projects/${project}/deployments`, {
      displayName: "Persona", bundle: { name: "persona", version: "1" }, networkAccess: "public",
      credentials: { OPENAI_API_KEY: "sk-rev-one" }, parameters: { PERSONA: "You are a pirate." }, resources: { replicas: 2 },
    });
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    await settled(1, "Ready");
    const flows = (await (await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": admin } })).json()) as { id: string }[];
    flowId = flows[0]!.id;
  });
  after(async () => {
    await server?.kill().catch(() => undefined);
    killAll(await pidsMatching(`/${dep?.resourceName ?? "none"}/`));
    await llm?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("revision 1 runs with its values, and the gateway names it", async () => {
    const r = await run();
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-flowplane-revision"), "1");
    await r.json();
    assert.deepEqual(lastSeen(), { persona: JSON.stringify("You are a pirate."), auth: "Bearer sk-rev-one" });
  });

  it("an edit makes revision 2; the replicas run its values", async () => {
    const r = await api("PATCH", path(), { parameters: { PERSONA: "You are a poet." }, credentials: { OPENAI_API_KEY: "sk-rev-two" } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.revision, 2);
    await settled(r.json.generation, "rolled to revision 2");
    await poll(async () => (await run()).headers.get("x-flowplane-revision") === "2", { timeoutMs: 5_000, intervalMs: 50, message: "the gateway names revision 2" });
    assert.deepEqual(lastSeen(), { persona: JSON.stringify("You are a poet."), auth: "Bearer sk-rev-two" });
  });

  it("rollback to 1 under load: zero failed requests; revision 3 runs revision 1's parameter and credential", async () => {
    let generation = 0;
    const { failures, count, revisions } = await underLoad(async () => {
      const r = await api("POST", path("/rollback"), { revision: 1 });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.revision, 3);
      generation = r.json.generation;
      await settled(generation, "rolled back");
    });
    assert.deepEqual(failures, [], `${failures.length} of ${count} failed`);
    assert.ok(count > 20, `the load ran (${count} requests)`);
    assert.ok(revisions.has("3") && ![...revisions].some((x) => x !== "2" && x !== "3"), `the header named ${[...revisions].join(", ")}`);
    // Every replica now serving was started for revision 3: read what each one sends.
    for (let i = 0; i < 4; i++) {
      const r = await run();
      assert.equal(r.headers.get("x-flowplane-revision"), "3");
      await r.json();
      assert.deepEqual(lastSeen(), { persona: JSON.stringify("You are a pirate."), auth: "Bearer sk-rev-one" });
    }
    const list = (await api("GET", path("/revisions"))).json as { items: { revision: number; cause: string; rolledBackTo: number | null; changes: string[] }[] };
    assert.deepEqual(list.items.map((x) => [x.revision, x.cause, x.rolledBackTo]), [[3, "rollback", 1], [2, "edit", null], [1, "deploy", null]]);
    assert.deepEqual(list.items[0]!.changes, ["parameters.PERSONA", "credentials.OPENAI_API_KEY"]);
    const events = (await api("GET", path("/events?limit=200"))).text;
    assert.match(events, /revision 3 \(generation 3\) by admin: rolled back to revision 1/);
    assert.doesNotMatch(events + JSON.stringify(list), /sk-rev-/);
  });
});
