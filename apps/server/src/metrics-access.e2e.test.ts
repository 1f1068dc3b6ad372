import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startServer, type ServerProcess } from "./test-process.js";

/**
 * Who may read /metrics (README "Metrics", docs/metrics.md). On the local driver the replicas
 * run tenants' flows on this machine and reach the private listener (it is how a flow calls
 * another deployment), so /metrics there must not answer a caller without a credential: it
 * names every team's deployments, routes and request counts. The real server, with its gateway
 * workers (the private listener is theirs; /metrics is handed to the control plane's process).
 */
describe("/metrics needs the metrics token or an org owner's key (e2e)", { timeout: 120_000 }, () => {
  let dir: string;
  let server: ServerProcess;
  let admin: string;
  let tenantKey: string;
  const token = "metrics-token-for-the-test-0123456789abcdef";

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}/api/v1${path}`, { method, headers: { "x-access-key": admin, "content-type": "application/json" }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    assert.ok(r.ok, `${method} ${path}: ${r.status} ${await r.clone().text()}`);
    return (await r.json()) as Record<string, unknown>;
  };
  const scrape = (headers: Record<string, string> = {}, url = server.privateUrl) => fetch(`${url}/metrics`, { headers });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-metrics-access-"));
    server = await startServer(dir, { FLOWPLANE_GATEWAY_WORKERS: "2", FLOWPLANE_METRICS_TOKEN: token });
    admin = (await readFile(join(dir, "admin.key"), "utf8")).trim();
    // A tenant: a machine user owning a project of its own, as a team's flow would hold.
    const project = (await api("POST", "/projects", { name: "tenant" })).id as string;
    const user = (await api("POST", "/users", { name: "tenant-app", kind: "machine" })).id as string;
    await api("PUT", `/projects/${project}/members/${user}`, { role: "owner" });
    tenantKey = (await api("POST", `/users/${user}/access-keys`, { expiresInDays: 1 })).key as string;
  });
  after(async () => {
    await server?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a caller without a credential, or with a wrong one, on the private listener: 401, no metric in the answer", async () => {
    const wrong: Record<string, string>[] = [{}, { authorization: "Bearer wrong-token" }, { authorization: `Basic ${Buffer.from(`x:${token}`).toString("base64")}` }, { "x-access-key": "fp_wrong" }];
    for (const headers of wrong) {
      const res = await scrape(headers);
      const text = await res.text();
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.doesNotMatch(text, /flowplane_/, JSON.stringify(headers));
    }
  });

  it("refuses a tenant's valid access key (not an org owner's): 403", async () => {
    const res = await scrape({ "x-access-key": tenantKey });
    assert.equal(res.status, 403);
    assert.doesNotMatch(await res.text(), /flowplane_/);
  });

  it("serves the metrics token (Prometheus' bearer credential) and an org owner's key", async () => {
    const allowed: Record<string, string>[] = [{ authorization: `Bearer ${token}` }, { "x-access-key": admin }, { authorization: `Bearer ${admin}` }];
    for (const headers of allowed) {
      const res = await scrape(headers);
      assert.equal(res.status, 200, JSON.stringify(Object.keys(headers)));
      assert.match(await res.text(), /flowplane_gateway_request_duration_seconds/);
    }
  });

  it("is still not on the public listener", async () => {
    assert.equal((await scrape({ authorization: `Bearer ${token}` }, server.url)).status, 404);
  });

  // Last: it spends this address's failed-authentication budget (20 at once, 2/s).
  it("charges wrong credentials to the caller's address in the API's own budget: 429 with Retry-After once spent, for /metrics and the API alike; the token and a valid key still pass", async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 30; i++) {
      // Alternately a wrong token and a key-shaped unknown key (each looked up: only the budget stops them).
      const headers: Record<string, string> = i % 2 === 0 ? { authorization: `Bearer wrong-token-${i}` } : { "x-access-key": `fp_${"x".repeat(42)}${i % 10}` };
      const res = await scrape(headers);
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get("retry-after");
      assert.doesNotMatch(await res.text(), /flowplane_/);
    }
    assert.ok(statuses.slice(0, 15).every((s) => s === 401), `the first wrong credentials are 401: ${statuses.join(",")}`);
    assert.ok(statuses.slice(25).every((s) => s === 429), `over budget: 429 (${statuses.join(",")})`);
    assert.match(retryAfter ?? "", /^\d+$/);
    // The same address's wrong key to the API is over budget too: one budget, not one per door.
    const viaApi = await fetch(`${server.url}/api/v1/projects`, { headers: { "x-access-key": `fp_${"y".repeat(43)}` } });
    assert.equal(viaApi.status, 429);
    await viaApi.text();
    const good: Record<string, string>[] = [{ authorization: `Bearer ${token}` }, { "x-access-key": admin }];
    for (const headers of good) {
      const res = await scrape(headers);
      assert.equal(res.status, 200, JSON.stringify(Object.keys(headers)));
      await res.text();
    }
    assert.equal((await fetch(`${server.url}/api/v1/projects`, { headers: { "x-access-key": admin } })).status, 200);
  });
});
