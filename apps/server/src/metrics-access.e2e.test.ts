import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { connect } from "node:net";
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

  // A /metrics request on a connection a worker kept (its first request a gateway path) reaches
  // the control plane relayed from the worker's loopback, naming the client beside the relay
  // secret (data-plane/fallback.ts): it is that client's budget, as for the API, not the
  // worker's address, which every relayed caller shares. Other loopback addresses stand for
  // other machines (Linux routes all of 127/8 to lo).
  it("charges a /metrics request a worker relays to the client it names, not to the worker's loopback", async () => {
    const port = Number(new URL(server.privateUrl).port);
    /** The statuses of a gateway call then a /metrics scrape, pipelined on one connection from `from`. */
    const relayed = (from: string, bearer: string) =>
      new Promise<number[]>((resolve, reject) => {
        const socket = connect({ port, host: "127.0.0.1", localAddress: from });
        let text = "";
        const done = () => resolve([...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])));
        const timer = setTimeout(() => (socket.destroy(), done()), 5_000);
        socket.on("data", (b) => (text += String(b)));
        socket.on("error", reject);
        socket.on("close", () => (clearTimeout(timer), done()));
        socket.write("GET /projects/p/apps/a/routes/r/x HTTP/1.1\r\nHost: x\r\n\r\n");
        socket.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${bearer}\r\n\r\n`);
      });
    const spent: number[] = [];
    // 20 at once, then 2/s: the most this client's budget can have let through by now. Sent past
    // it (bounded), however slow this machine is: a fixed 30 took over 5 s on a loaded one, and
    // the refill let the last ones through.
    const started = Date.now();
    const budget = () => 20 + Math.ceil((2 * (Date.now() - started)) / 1000) + 1;
    for (let i = 0; spent.length < budget() + 3 && i < 200; i++) {
      const statuses = await relayed("127.0.0.2", `wrong-token-${i}`);
      assert.equal(statuses.length, 2, `both answered on one connection: ${statuses.join(",")}`);
      spent.push(statuses[1]!);
    }
    const through = spent.filter((s) => s !== 429).length;
    assert.ok(spent.includes(429) && through <= budget(), `the relayed client is over budget: ${through} of ${spent.length} let through (${spent.join(",")})`);
    // The first one's budget is one, relayed or not: scraping directly, it is refused before
    // long. Up to 10 scrapes, until the first 429: the refill (2/s) may have let a few through
    // since the last relayed 429 on a slow machine, at most one per 500 ms; a budget of its own
    // (20 at once) would let all 10 through.
    const direct = (i: number) => new Promise<number>((resolve, reject) => {
      const socket = connect({ port, host: "127.0.0.1", localAddress: "127.0.0.2" });
      socket.once("data", (b) => (resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(String(b))?.[1])), socket.destroy()));
      socket.on("error", reject);
      socket.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-direct-${i}\r\nConnection: close\r\n\r\n`);
    });
    const since = Date.now();
    const directly: number[] = [];
    for (let i = 0; i < 10 && !directly.includes(429); i++) directly.push(await direct(i));
    const refilled = Math.ceil((2 * (Date.now() - since)) / 1000) + 1;
    assert.ok(directly.includes(429) && directly.length - 1 <= refilled, `the same client scraping directly is over budget too: ${directly.join(",")}`);
    // Another client relayed the same way has its own budget.
    const other = await relayed("127.0.0.3", "another-wrong-token");
    assert.equal(other[1], 401, `another relayed client is not charged for the first: ${other.join(",")}`);
  });
});
