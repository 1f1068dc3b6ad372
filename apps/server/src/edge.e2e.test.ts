import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { killAll, loadFixture, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { pidsMatching, startServer, type ServerProcess } from "./test-process.js";

/**
 * The edge, end to end through the real server process and a real replica: every refusal the
 * API and the gateway make (reserved names, NUL, oversized values and bodies, bad keys) is
 * tried with a canary credential value, a real deployment runs with it, and then every log the
 * run produced (the server's stdout and stderr at debug level, the replicas' logs in the data
 * folder) is searched for the canary: it must appear nowhere.
 */
describe("edge limits and secrecy (e2e)", { timeout: 300_000 }, () => {
  const CANARY = `canary-${randomBytes(12).toString("hex")}`;
  let dir: string;
  let server: ServerProcess;
  let llm: FakeOpenAI;
  let admin: string;
  let project: string;
  let dep: { id: string; resourceName: string; endpoints: { http: string } };
  let flowId: string;

  const api = async (method: string, path: string, body?: unknown, key = admin) => {
    const r = await fetch(`${server.url}/api/v1${path}`, {
      method, headers: { "x-access-key": key, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, text, json: text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : undefined };
  };
  const deployBody = (over: Record<string, unknown> = {}) => ({
    displayName: "Edge", bundle: { name: "chat", version: "1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: CANARY },
    runtime: { logLevel: "debug" }, ...over,
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-edge-"));
    llm = await startFakeOpenAI();
    server = await startServer(dir, { FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_API_BASE", OPENAI_API_BASE: llm.baseUrl, FLOWPLANE_LOG_LEVEL: "debug", FLOWPLANE_RESYNC_SECONDS: "2" });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    project = (await api("POST", "/projects", { name: "edge" })).json.id;
    const r = await api("POST", "/bundles", { name: "chat", versionTag: "1", accessLevel: "project", allowedProjects: [project], flows: [loadFixture("memory-chatbot")] });
    assert.equal(r.status, 201, r.text);
  });
  after(async () => {
    await server?.kill().catch(() => undefined);
    killAll(await pidsMatching(`/${dep?.resourceName ?? "none"}/`));
    await llm?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses every bad input carrying the canary with a 4xx that does not echo it", async () => {
    const base = `/projects/${project}/deployments`;
    const refusals: [string, () => Promise<{ status: number; text: string }>, number][] = [
      ["NUL in a credential", () => api("POST", base, deployBody({ credentials: { OPENAI_API_KEY: `${CANARY}\u0000` } })), 400],
      ["NUL in the display name, credential set", () => api("POST", base, deployBody({ displayName: "E\u0000" })), 400],
      ["the same in a dry run", () => api("POST", `${base}?dryRun=true`, deployBody({ displayName: "E\u0000" })), 400],
      ["reserved name as a parameter", () => api("POST", base, deployBody({ parameters: { NODE_OPTIONS: CANARY } })), 400],
      ["reserved name as a credential", () => api("POST", `${base}?dryRun=true&step=credentials`, deployBody({ credentials: { OPENAI_API_KEY: CANARY, LD_PRELOAD: CANARY } })), 200],
      ["a credential over 64 KiB", () => api("POST", base, deployBody({ credentials: { OPENAI_API_KEY: CANARY.repeat(4000) } })), 400],
      ["a publish default on a reserved name", () => api("POST", "/bundles", { name: "evil", versionTag: "1", accessLevel: "global", flows: [loadFixture("memory-chatbot")], defaults: { NODE_OPTIONS: CANARY } }), 400],
      ["a lone surrogate next to the canary", () => api("POST", base, `{"displayName":"E\\ud800","bundle":{"name":"chat","version":"1"},"networkAccess":"public","credentials":{"OPENAI_API_KEY":"${CANARY}"}}`), 400],
      ["10,000-deep JSON next to the canary", () => api("POST", base, `{"credentials":{"OPENAI_API_KEY":"${CANARY}"},"x":${"[".repeat(10_000)}${"]".repeat(10_000)}}`), 400],
      ["a body over the limit", () => api("POST", base, JSON.stringify(deployBody({ pad: CANARY.repeat(400_000) }))), 413],
      ["the canary as an access key", () => api("GET", "/me", undefined, CANARY), 401],
    ];
    for (const [name, call, status] of refusals) {
      const r = await call();
      assert.equal(r.status, status, `${name}: ${r.text.slice(0, 300)}`);
      assert.ok(!r.text.includes(CANARY), `${name}: the answer echoes the canary`);
      assert.doesNotMatch(r.text, /internal_error/, name);
    }
    assert.equal((await api("GET", `${base}?limit=200`)).json.items.length, 0, "nothing was written");
  });

  it("runs a deployment with the canary credential; the gateway's body limit is the replica's", async () => {
    const r = await api("POST", `/projects/${project}/deployments`, deployBody());
    assert.equal(r.status, 201, r.text);
    dep = r.json;
    const deadline = Date.now() + 90_000;
    while ((await api("GET", `/projects/${project}/deployments/${dep.id}`)).json.status.phase !== "Ready") {
      assert.ok(Date.now() < deadline, "the deployment did not become Ready");
      await new Promise((res) => setTimeout(res, 200));
    }
    flowId = ((await (await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": admin } })).json()) as { id: string }[])[0]!.id;
    const run = (body: string, key = admin) => fetch(`${dep.endpoints.http}/flows/${flowId}/run`, { method: "POST", headers: { "x-access-key": key, "content-type": "application/json" }, body });
    const ok = await run(JSON.stringify({ input_value: "hello" }));
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(llm.requests.at(-1)?.headers.authorization, `Bearer ${CANARY}`, "the credential reaches the flow");

    // 3 MiB: above the runtime's old 1 MiB default, below the gateway's 10 MiB. The replica takes it.
    const mid = await run(JSON.stringify({ input_value: "big", tweaks: {}, pad: "x".repeat(3 * 1024 * 1024) }));
    assert.notEqual(mid.status, 502, "a body the gateway accepts is one the replica accepts");
    assert.notEqual(mid.status, 413);
    await mid.arrayBuffer();
    const over = await run(JSON.stringify({ input_value: "too big", pad: "x".repeat(10 * 1024 * 1024) }));
    assert.equal(over.status, 413);
    assert.equal(((await over.json()) as { error: { code: string } }).error.code, "payload_too_large");
    const noKey = await run(JSON.stringify({ input_value: CANARY }), CANARY);
    assert.equal(noKey.status, 401);
    // a flow run whose input carries the canary, and an edit refused with it
    assert.equal((await run(JSON.stringify({ input_value: CANARY }))).status, 200);
    const edit = await api("PATCH", `/projects/${project}/deployments/${dep.id}`, { credentials: { OPENAI_API_KEY: `${CANARY}\u0000` } });
    assert.equal(edit.status, 400);
    assert.ok(!edit.text.includes(CANARY));
  });

  it("no log of the run holds the canary credential", async () => {
    assert.equal(await server.stop(), 0);
    const logs: [string, string][] = [["server stdout+stderr", server.out()]];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.name.endsWith(".log")) logs.push([relative(dir, p), await readFile(p, "utf8")]);
      }
    };
    await walk(dir);
    assert.ok(logs.some(([name]) => /replica-.*\.log$/.test(name)), "the replica logs were found");
    assert.ok(server.out().length > 1000, "the server logged at debug level");
    const hits = logs.filter(([, text]) => text.includes(CANARY)).map(([name]) => name);
    assert.deepEqual(hits, []);
  });
});
