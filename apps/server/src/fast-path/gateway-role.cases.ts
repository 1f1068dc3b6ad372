import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestDatabase, postgresSkipReason } from "@flowplane/store";
import { apiCaller, killAll, loadFixture, waitFor } from "@flowplane/testkit";
import { pidsMatching, startServer, type ServerProcess } from "../test-process.js";
import { FRONT_TEST_UID_BASES } from "./front.cases.js";
import type { FrontUnderTest } from "./front.cases.js";

/**
 * The gateway as the Kubernetes install runs it (deploy/kubernetes/flowplane.yaml): a process
 * with FLOWPLANE_ROLES=gateway alone and FLOWPLANE_GATEWAY_PROXY=haproxy or nginx, beside another
 * process running the API and the reconciler (local driver), both on one PostgreSQL. The
 * gateway process learns every change by reading the store, never from the API in its own
 * process, so what front.cases.ts tests in one process is tested here across two: the front
 * serves the route itself, a key revoked through the other process is refused within the key
 * entry's bound, the kill switch takes the route off the fast path, and the fast path keeps
 * serving while the API process is SIGKILLed. Which path served a call is read from the front's
 * own counters.
 */
export function gatewayRoleCases(front: FrontUnderTest): void {
  describe(`the gateway role alone behind ${front.name}, the API in another process (PostgreSQL, e2e)`, { skip: postgresSkipReason() || front.skip, timeout: 240_000 }, () => {
    let db: { url: string; drop: () => Promise<void> };
    let cpDir: string;
    let gwDir: string;
    let cp: ServerProcess;
    let gw: ServerProcess;
    let admin: string;
    let project: string;
    let dep: { id: string; resourceName: string; endpoints: { http: string } };
    let base: string;
    const secretKey = randomBytes(32).toString("hex");
    const common = () => ({ DATABASE_URL: db.url, FLOWPLANE_SECRET_KEY: secretKey, FLOWPLANE_RESYNC_SECONDS: "2", FLOWPLANE_WARM_REVISION_SECONDS: "0" });
    const api = (method: string, path: string, body?: unknown) => apiCaller(cp.url, admin)(method, path, body);

    /** Calls the front served itself, from its own counters. */
    const fastCount = () => front.fastCount(gwDir);
    /** One call through the gateway process, and whether the front served it itself (nothing else calls meanwhile). */
    const served = async (key: string | null, path = "/flows") => {
      const n = await fastCount();
      const r = await fetch(`${base}${path}`, { headers: key ? { "x-access-key": key } : {}, signal: AbortSignal.timeout(15_000) });
      const body = await r.text();
      return { status: r.status, body, fast: (await fastCount()) > n };
    };
    const onFastPath = (key: string) => waitFor(async () => {
      const x = await served(key);
      return x.status === 200 && x.fast;
    }, { timeoutMs: 20_000, intervalMs: 100, message: `${front.name} in the gateway process serves the route itself` });

    before(async () => {
      db = await createTestDatabase();
      cpDir = await mkdtemp(join(tmpdir(), "flowplane-gwrole-cp-"));
      gwDir = await mkdtemp(join(tmpdir(), "flowplane-gwrole-gw-"));
      cp = await startServer(cpDir, { ...common(), FLOWPLANE_ROLES: "api,reconciler" });
      // Its own deployments' uid range, so its front's account is this suite's alone (front.cases.ts FRONT_TEST_UID_BASES).
      gw = await startServer(gwDir, { ...common(), FLOWPLANE_ROLES: "gateway", FLOWPLANE_GATEWAY_WORKERS: "1", FLOWPLANE_GATEWAY_PROXY: front.proxy, FLOWPLANE_RUNTIME_UID_BASE: String(FRONT_TEST_UID_BASES[`role/${front.proxy}`]) });
      admin = (await readFile(join(cpDir, "admin.key"), "utf8")).trim();
      project = (await api("POST", "/projects", { name: "gwrole" })).json.id;
      assert.equal((await api("POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
      const r = await api("POST", `/projects/${project}/deployments`, { displayName: "Echo", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
      assert.equal(r.status, 201, r.text);
      dep = r.json;
      await waitFor(async () => (await api("GET", `/projects/${project}/deployments/${dep.id}`)).json.status.phase === "Ready", { timeoutMs: 120_000, intervalMs: 200, message: "Ready" });
      base = `${gw.url}${new URL(dep.endpoints.http).pathname}`;
    });

    after(async () => {
      // A clean stop: as root the front's folders outside the data folder go with it (a SIGKILL leaves them for the next start, which a test never makes).
      await gw?.stop().catch(() => undefined);
      await cp?.kill().catch(() => undefined);
      killAll(await pidsMatching(`/${dep?.resourceName ?? "none"}/`));
      await db?.drop().catch(() => undefined);
      for (const d of [cpDir, gwDir]) if (d) await rm(d, { recursive: true, force: true });
    });

    it(`serves a deployment made through the other process on ${front.name}'s fast path, a run too, and no API`, async () => {
      await onFastPath(admin);
      const flows = JSON.parse((await served(admin)).body) as { id: string }[];
      const n = await fastCount();
      const run = await fetch(`${base}/flows/${flows[0]!.id}/run`, { method: "POST", headers: { "x-access-key": admin, "content-type": "application/json" }, body: JSON.stringify({ input_value: `through ${front.name}` }) });
      assert.equal(run.status, 200);
      assert.match(await run.text(), new RegExp(`through ${front.name}`));
      assert.ok((await fastCount()) > n, `the run was served by ${front.name}`);
      // Recorded by the gateway process from the front's log, read back through the API process.
      const requestId = run.headers.get("x-request-id");
      assert.match(requestId ?? "", /^[0-9a-f-]{36}$/);
      const recorded = await waitFor(async () => {
        const items = (await api("GET", `/projects/${project}/deployments/${dep.id}/runs?limit=100`)).json.items as { requestId: string; flowId: string | null; status: number; caller: { keyId: string | null } }[];
        return items.find((x) => x.requestId === requestId) ?? null;
      }, { timeoutMs: 15_000, intervalMs: 200, message: "the fast-path run in the run history" });
      assert.deepEqual([recorded.flowId, recorded.status, recorded.caller.keyId !== null], [flows[0]!.id, 200, true]);
      const none = await served(null);
      assert.deepEqual([none.status, none.fast], [401, false], "no key: the workers' 401");
      assert.equal((await fetch(`${gw.url}/api/v1/me`, { headers: { "x-access-key": admin } })).status, 404, "the gateway process serves no API");
    });

    it(`refuses a key revoked through the other process within the key entry's bound (4 s), though ${front.name} served it a moment before`, async () => {
      const u = (await api("POST", "/users", { name: "caller", kind: "machine" })).json;
      assert.equal((await api("PUT", `/projects/${project}/members/${u.id}`, { role: "viewer" })).status, 200);
      const key = (await api("POST", `/users/${u.id}/access-keys`, { expiresInDays: 1 })).json.key as string;
      await onFastPath(key);
      const keys = (await api("GET", `/users/${u.id}/access-keys`)).json;
      const keyId = (Array.isArray(keys) ? keys : keys.items)[0].id as string;
      assert.equal((await api("DELETE", `/access-keys/${keyId}`)).status, 200);
      const t0 = Date.now();
      await waitFor(async () => (await served(key)).status === 401, { timeoutMs: 8_000, intervalMs: 100, message: "the revoked key is refused by the gateway process" });
      // The entry lives KEY_ENTRY_MS (4 s) from the read that admitted it; the second allows for a slow machine's read.
      assert.ok(Date.now() - t0 < 5_500, `refused after ${Date.now() - t0} ms`);
      for (let i = 0; i < 5; i++) assert.equal((await served(key)).status, 401, "and stays refused");
    });

    it("takes a disabled deployment off the fast path (503 from the workers) and puts it back once enabled", async () => {
      await onFastPath(admin);
      const path = (a: string) => `/projects/${project}/deployments/${dep.id}/${a}`;
      assert.equal((await api("POST", path("disable"), {})).status, 200);
      await waitFor(async () => (await served(admin)).status === 503, { timeoutMs: 10_000, intervalMs: 100, message: "the kill switch's 503 through the gateway process" });
      const off = await served(admin);
      assert.deepEqual([off.status, off.fast], [503, false]);
      assert.equal((await api("POST", path("enable"))).status, 200);
      await onFastPath(admin);
    });

    it("keeps serving on the fast path while the API process is SIGKILLed", async () => {
      await onFastPath(admin);
      const ports = { port: cp.port, privatePort: cp.privatePort };
      await cp.kill();
      try {
        let fast = 0;
        for (let i = 0; i < 50; i++) {
          const x = await served(admin);
          assert.equal(x.status, 200, x.body);
          if (x.fast) fast++;
        }
        assert.equal(fast, 50, `every call served by ${front.name} with the API process gone`);
      } finally {
        cp = await startServer(cpDir, { ...common(), FLOWPLANE_ROLES: "api,reconciler" }, ports);
      }
    });
  });
}
