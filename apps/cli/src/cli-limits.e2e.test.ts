import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fixturePath, waitFor } from "@flowplane/testkit";
import { runCli, type CliResult } from "./testing/cli.js";
import { startTestServer, type TestServer } from "./testing/server.js";

/**
 * Rate limits end to end (docs/rate-limits-and-idle.md): set with `flowplane deploy` and `edit`
 * flags, validated by the server with the field named, shown by `get`, and enforced by the real
 * server's gateway in front of a real replica.
 */
describe("rate limits from the CLI", { timeout: 240_000 }, () => {
  let server: TestServer;
  let home: string;
  let otherKey: string;
  const fp = (args: string[], input?: string): Promise<CliResult> => runCli(args, {
    env: { HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_SERVER: server.url, FLOWPLANE_ACCESS_KEY: server.adminKey, FLOWPLANE_PROJECT: "limits" },
    input, cwd: home,
  });
  const ok = (r: CliResult) => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const json = async (args: string[]) => JSON.parse(ok(await fp([...args, "-o", "json"])).stdout);
  let endpoint = "";
  const flows = (key: string) => fetch(`${endpoint}/flows`, { headers: { "x-access-key": key } });

  before(async () => {
    // One gateway worker: it holds the whole of every limit, so the exact counts below hold. With
    // N workers each holds 1/N (docs/gateway.md; data-plane.e2e.test.ts checks that split).
    server = await startTestServer({ FLOWPLANE_GATEWAY_WORKERS: "1" });
    home = await mkdtemp(join(tmpdir(), "fp-cli-limits-"));
    ok(await fp(["projects", "create", "limits"]));
    ok(await fp(["publish", fixturePath("memory-chatbot"), "--name", "chat", "--tag", "v1"]));
    await writeFile(join(home, "openai.key"), "sk-test\n", { mode: 0o600 });
    ok(await fp(["users", "add", "caller", "--kind", "machine"]));
    ok(await fp(["members", "add", "caller", "--role", "viewer"]));
    otherKey = ok(await fp(["keys", "create", "--user", "caller", "--days", "1"])).stdout.trim();
  });

  after(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const base = ["deploy", "--name", "Limited", "--bundle", "chat@v1", "--credential", "OPENAI_API_KEY=@openai.key", "--engine", "native"];

  it("refuses bad limits with the server's messages naming each field; nothing deployed", async () => {
    const r = await fp([...base, "--rate-limit", "0", "--key-burst", "3", "--max-concurrent", "1.5", "--key-rate-limit", "fast"]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /step 1 Configure/);
    assert.match(r.stderr, /runtime\.limits\.deployment\.requestsPerSecond: requestsPerSecond must be at least 0\.01/);
    assert.match(r.stderr, /runtime\.limits\.deployment\.maxConcurrent: maxConcurrent must be a whole number/);
    assert.match(r.stderr, /runtime\.limits\.perKey\.requestsPerSecond: requestsPerSecond must be a number/);
    assert.deepEqual(await json(["list"]), []);
    const burst = await fp([...base, "--key-burst", "3"]);
    assert.equal(burst.code, 3);
    assert.match(burst.stderr, /runtime\.limits\.perKey\.burst: burst needs requestsPerSecond beside it/);
  });

  it("deploys with a per-key limit: `get` shows it; a key over it gets 429 with the headers, another key does not, and it recovers", async () => {
    ok(await fp([...base, "--key-rate-limit", "0.2", "--key-burst", "2", "--max-concurrent", "8", "--wait"]));
    const d = await json(["get", "Limited"]);
    endpoint = d.endpoints.http;
    assert.deepEqual(d.runtime.limits, {
      deployment: { requestsPerSecond: null, burst: null, maxConcurrent: 8 },
      perKey: { requestsPerSecond: 0.2, burst: 2, maxConcurrent: null },
    });
    assert.match(ok(await fp(["get", "Limited"])).stdout, /Rate limits: +deployment 8 concurrent; per key 0\.2\/s \(burst 2\)/);

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await flows(server.adminKey));
    assert.deepEqual(statuses.map((r) => r.status), [200, 200, 429]);
    const refused = statuses[2]!;
    assert.equal(refused.headers.get("retry-after"), "5");
    assert.equal(refused.headers.get("ratelimit-policy"), '"deployment-concurrency";q=8, "key";q=2;w=10');
    assert.equal(refused.headers.get("ratelimit"), '"key";r=0;t=5');
    assert.equal((await refused.json() as { error: { code: string } }).error.code, "rate_limited");
    // Another caller's key has its own budget.
    assert.equal((await flows(otherKey)).status, 200);
    // One token is back after 5 s (0.2 per second).
    await waitFor(async () => (await flows(server.adminKey)).status === 200, { timeoutMs: 15_000, intervalMs: 500, message: "the limited key recovers" });
  });

  it("the API answers 400 naming the field, for a deploy and for an edit; nothing changes", async () => {
    const d = await json(["get", "Limited"]) as { id: string; projectId: string; generation: number };
    const call = (method: string, path: string, body: unknown) => fetch(`${server.url}/api/v1/projects/${d.projectId}/deployments${path}`, {
      method, headers: { "x-access-key": server.adminKey, "content-type": "application/json" }, body: JSON.stringify(body),
    });
    const created = await call("POST", "", {
      displayName: "Other", bundle: { name: "chat", version: "v1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk" },
      runtime: { limits: { deployment: { requestsPerSecond: 1e9 }, perKey: { maxConcurrent: 0 } } },
    });
    assert.equal(created.status, 400);
    const body = await created.json() as { error: { code: string; details: { field: string; message: string }[] } };
    assert.deepEqual(body.error.details.map((e) => e.field).sort(), ["runtime.limits.deployment.requestsPerSecond", "runtime.limits.perKey.maxConcurrent"]);
    const patched = await call("PATCH", `/${d.id}`, { runtime: { limits: { perKey: { burst: 0.5 } } } });
    assert.equal(patched.status, 400);
    assert.match(JSON.stringify(await patched.json()), /runtime\.limits\.perKey\.burst/);
    const r = await fp(["edit", "Limited", "--key-max-concurrent", "-1"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /runtime\.limits\.perKey\.maxConcurrent: maxConcurrent must be at least 1/);
    assert.equal((await json(["get", "Limited"])).generation, d.generation, "nothing changed");
  });

  it("`edit --key-rate-limit none` lifts the limit, without a new generation (no restart)", async () => {
    const generation = (await json(["get", "Limited"])).generation;
    ok(await fp(["edit", "Limited", "--key-rate-limit", "none"]));
    assert.equal((await json(["get", "Limited"])).generation, generation);
    assert.match(ok(await fp(["events", "Limited"])).stdout, /SettingsChanged/);
    assert.deepEqual((await json(["get", "Limited"])).runtime.limits.perKey, { requestsPerSecond: null, burst: null, maxConcurrent: null });
    // The gateway reads the route again within its one-second cache.
    await waitFor(async () => {
      const rs = [];
      for (let i = 0; i < 5; i++) rs.push((await flows(server.adminKey)).status);
      return rs.every((s) => s === 200);
    }, { timeoutMs: 15_000, intervalMs: 500, message: "five requests in a row pass" });
  });

  it("`edit --idle-after` scales it to zero when idle; a request through the gateway wakes it", async () => {
    ok(await fp(["edit", "Limited", "--idle-after", "0.05", "--wake-timeout", "30"]));
    const d = await json(["get", "Limited"]);
    assert.deepEqual(d.runtime.scaleToZero, { idleMinutes: 0.05, wakeTimeoutSeconds: 30 });
    assert.match(ok(await fp(["get", "Limited"])).stdout, /Scale to zero: +after 0\.05 min without a request \(a request waits up to 30 s while it wakes\)/);
    await waitFor(async () => (await json(["get", "Limited"])).status.phase === "Idle", { timeoutMs: 60_000, intervalMs: 500, message: "Idle" });
    assert.equal((await flows(server.adminKey)).status, 200, "held while it woke, then served");
    assert.match(ok(await fp(["events", "Limited"])).stdout, /ScaledToZero[\s\S]*Woken/);
    const bad = await fp(["edit", "Limited", "--idle-after", "0"]);
    assert.equal(bad.code, 3, bad.stderr);
    assert.match(bad.stderr, /runtime\.scaleToZero\.idleMinutes: idleMinutes must be at least 0\.05/);
  });
});
