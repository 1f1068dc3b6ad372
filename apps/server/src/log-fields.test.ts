import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import type { Deployment } from "@flowplane/core";
import { LocalDriver } from "@flowplane/driver-local";
import { memoryLogger, type LogLine } from "@flowplane/logging";
import { loadFixture, repoRoot } from "@flowplane/testkit";
import { createGateway, serveGatewayPaths, type Gateway } from "./gateway/index.js";
import { storeRouteResolver } from "./gateway-routes.js";
import { fastifyLogging } from "./http/logging.js";
import { createMetrics } from "./metrics.js";
import { Reconciler } from "./reconciler/reconciler.js";
import { startTestControlPlane, type TestControlPlane } from "./test-harness.js";

/**
 * One deployment, one request, four writers: the gateway (the server's Fastify logging), the
 * reconciler, the local driver and the runtime replica it started. Each writes real pino lines
 * (the first three to one in-memory logger, as main.ts wires them; the replica to its log file),
 * and a line about the deployment names it `deploymentId`, a replica `replica`, a request
 * `requestId`, in all four.
 */
describe("log lines: the same field names in the server, the reconciler, a driver and the runtime", () => {
  let t: TestControlPlane;
  let driver: LocalDriver;
  let reconciler: Reconciler;
  let gateway: FastifyInstance;
  let pipeline: Gateway;
  let gatewayUrl: string;
  let root: string;
  const logs = memoryLogger("info");

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "flowplane-logfields-"));
    t = await startTestControlPlane({ notify: (id) => reconciler?.enqueue(id) });
    const url = await t.cp.app.listen({ host: "127.0.0.1", port: 0 });
    driver = await LocalDriver.create({ root, command: [process.execPath, join(repoRoot, "apps/runtime/dist/main.js")], baseEnv: { PATH: process.env.PATH ?? "" },
      probeIntervalMs: 100, backoff: { baseMs: 200, maxMs: 1000 }, shutdownGraceMs: 3000, log: logs.log });
    reconciler = new Reconciler({
      store: t.store, driver, credentials: t.credentials, tokens: t.cp.tokens, gatewaySecret: t.cp.gatewaySecrets, holder: "test", resyncMs: 1000, busyRequeueMs: 100,
      bundleUrl: (id) => `${url}/internal/v1/deployments/${id}/bundle`, log: logs.log,
    });
    gateway = Fastify(fastifyLogging(logs.log));
    pipeline = createGateway({
      log: logs.log, listener: "private", resolveRoute: storeRouteResolver(t.store), authenticate: (key) => t.cp.identity.authenticate(key).catch(() => null),
      endpoints: (name) => driver.endpoints(name), gatewaySecret: t.cp.gatewaySecrets, bodyLimit: 1 << 20, metrics: createMetrics({ defaultMetrics: false }),
    });
    await gateway.ready();
    serveGatewayPaths(gateway.server, pipeline);
    gatewayUrl = await gateway.listen({ host: "127.0.0.1", port: 0 });
    reconciler.start();
  });
  after(async () => {
    await reconciler.stop();
    for (const name of await driver.list()) await driver.delete(name);
    await driver.close();
    await gateway.close();
    await pipeline.close();
    await t.close();
    await rm(root, { recursive: true, force: true });
  });

  /** Every line the deployment's replicas wrote (their stdout goes to a file per replica). */
  const replicaLines = async (): Promise<LogLine[]> => {
    const lines: LogLine[] = [];
    for (const dir of await readdir(root)) {
      for (const f of await readdir(join(root, dir)).catch(() => [])) {
        if (!f.endsWith(".log")) continue;
        for (const l of (await readFile(join(root, dir, f), "utf8")).split("\n")) if (l.startsWith("{")) lines.push(JSON.parse(l) as LogLine);
      }
    }
    return lines;
  };
  const poll = async <T>(what: string, get: () => Promise<T | undefined>, ms = 60_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await get();
      if (v !== undefined) return v;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it("a request's lines, from the gateway to the replica, share its requestId; every line about the deployment names it deploymentId", async () => {
    const project = await t.project("logs");
    const published = await t.call("POST", "/api/v1/bundles", { body: { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] } });
    assert.equal(published.status, 201, published.text);
    const created = await t.call("POST", `/api/v1/projects/${project}/deployments`, {
      body: { displayName: "logs", bundle: { name: "echo", version: "1" }, networkAccess: "private", resources: { replicas: 1 }, runtime: { logLevel: "debug" } },
    });
    assert.equal(created.status, 201, created.text);
    const dep = created.json as { id: string; endpoints: { http: string } };
    await poll("Ready", async () => ((await t.store.getDeployment(dep.id)) as Deployment | null)?.status.phase === "Ready" || undefined);

    const res = await fetch(`${gatewayUrl}${new URL(dep.endpoints.http).pathname}/flows`, { headers: { "x-access-key": t.ownerKey, "x-request-id": "log-fields-request-1" } });
    assert.equal(res.status, 200);
    // The gateway's own id of the call (the caller's is only its correlationId).
    const requestId = res.headers.get("x-request-id");

    const gatewayLine = await poll("the gateway's line", async () => logs.lines.find((l) => l.msg === "gateway request" && l.requestId === requestId));
    assert.equal(gatewayLine.deploymentId, dep.id);
    assert.equal(gatewayLine.correlationId, "log-fields-request-1");
    const reconcilerLine = logs.lines.find((l) => l.msg === "phase changed" && l.to === "Ready");
    assert.equal(reconcilerLine?.deploymentId, dep.id, "the reconciler's line");
    const driverLine = logs.lines.find((l) => l.msg === "replica started");
    assert.equal(driverLine?.deploymentId, dep.id, "the driver's line");
    assert.equal(typeof driverLine.replica, "string");
    const runtimeLine = await poll("the replica's request line", async () => (await replicaLines()).find((l) => l.msg === "request" && l.requestId === requestId));
    assert.equal(runtimeLine.level, "debug", "a replica logs each request at debug only");
    assert.equal(runtimeLine.deploymentId, dep.id, "the runtime's line");
    assert.equal(runtimeLine.replica, driverLine.replica, "the replica the driver named");

    // No writer uses another name for the same thing.
    const all = [...logs.lines, ...(await replicaLines())];
    for (const old of ["deployment", "reqId", "replicaId"]) assert.ok(!all.some((l) => old in l), `no line has a "${old}" field`);
    for (const l of all) assert.equal(typeof l.level, "string", "levels are labels everywhere");
  });
});
