import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import type { Deployment, RuntimeDriver, RuntimeSpec } from "@flowplane/core";
import { LocalDriver } from "@flowplane/driver-local";
import { memoryLogger } from "@flowplane/logging";
import { loadFixture, repoRoot } from "@flowplane/testkit";
import { createGateway, serveGatewayPaths, type Gateway } from "./gateway/index.js";
import { storeRouteResolver } from "./gateway-routes.js";
import { createMetrics } from "./metrics.js";
import { Reconciler } from "./reconciler/reconciler.js";
import { startTestControlPlane, type TestControlPlane } from "./test-harness.js";

/**
 * One deployment's bad values never take the control plane down. Values the API will refuse
 * (a NUL byte, 200 KiB) are written to the store directly, as an older record or another
 * writer could have left them; a driver that throws, quoting a value, is contained to its
 * deployment. Real replicas (the runtime binary under the local driver), a real gateway.
 */
describe("containment: a deployment's bad values fail that deployment, nothing else", () => {
  let t: TestControlPlane;
  let driver: LocalDriver;
  let reconciler: Reconciler;
  let gateway: FastifyInstance;
  let pipeline: Gateway;
  let gatewayUrl: string;
  let root: string;
  let base: string;
  // One logger for the driver and the reconciler, as in the server: real pino lines, kept in memory.
  const logs = memoryLogger();
  const log = logs.log;
  const NUL_VALUE = "nul-credential-\0-tail";
  const BIG_VALUE = `big-credential-marker-${"b".repeat(200 * 1024)}`;
  const THROWN_VALUE = "thrown-credential-value";
  let throwFor = "";

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "flowplane-contain-"));
    t = await startTestControlPlane({ notify: (id) => reconciler?.enqueue(id) });
    const url = await t.cp.app.listen({ host: "127.0.0.1", port: 0 });
    driver = await LocalDriver.create({ root, command: [process.execPath, join(repoRoot, "apps/runtime/dist/main.js")], baseEnv: { PATH: process.env.PATH ?? "" },
      probeIntervalMs: 100, backoff: { baseMs: 200, maxMs: 1000 }, shutdownGraceMs: 3000, log });
    // A driver whose apply throws for one deployment, quoting its credential (as a client library might).
    const throwing: RuntimeDriver = Object.assign(Object.create(driver) as RuntimeDriver, {
      apply: (spec: RuntimeSpec) => (spec.resourceName === throwFor ? Promise.reject(new Error(`cannot apply: value ${spec.env.API_TOKEN} refused`)) : driver.apply(spec)),
    });
    reconciler = new Reconciler({
      store: t.store, driver: throwing, credentials: t.credentials, tokens: t.cp.tokens, gatewaySecret: t.cp.gatewaySecrets, holder: "test", resyncMs: 1000, busyRequeueMs: 100, errorRequeueMs: 300,
      bundleUrl: (id) => `${url}/internal/v1/deployments/${id}/bundle`,
      log,
    });
    gateway = Fastify();
    pipeline = createGateway({
      log: log, listener: "private", resolveRoute: storeRouteResolver(t.store), authenticate: (key) => t.cp.identity.authenticate(key).catch(() => null),
      endpoints: (name) => driver.endpoints(name), gatewaySecret: t.cp.gatewaySecrets, bodyLimit: 1 << 20, metrics: createMetrics({ defaultMetrics: false }),
    });
    await gateway.ready();
    serveGatewayPaths(gateway.server, pipeline);
    gatewayUrl = await gateway.listen({ host: "127.0.0.1", port: 0 });
    reconciler.start();
    const project = await t.project("contain");
    base = `/api/v1/projects/${project}/deployments`;
    const r = await t.call("POST", "/api/v1/bundles", { body: { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] } });
    assert.equal(r.status, 201, r.text);
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

  const waitFor = async (id: string, cond: (d: Deployment) => boolean, ms = 60_000): Promise<Deployment> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const d = await t.store.getDeployment(id);
      if (d && cond(d)) return d;
      if (Date.now() > deadline) assert.fail(`timed out; last: ${JSON.stringify(d?.status)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const deploy = async (name: string) => {
    const r = await t.call("POST", base, { body: { displayName: name, bundle: { name: "echo", version: "1" }, networkAccess: "private", resources: { replicas: 1 } } });
    assert.equal(r.status, 201, r.text);
    return r.json as { id: string; resourceName: string; endpoints: { http: string } };
  };
  /** Stores `value` as the deployment's credential under a new generation, past the API's checks. */
  const storeCredential = (id: string, value: string) => t.store.updateDeployment(id, (cur) => ({
    // A change of what runs moves the generation and the revision together (core/src/deployment.ts).
    deployment: { ...cur, generation: cur.generation + 1, revision: cur.revision + 1 },
    sealedCredentials: t.credentials.seal(id, { API_TOKEN: value }),
    revision: { createdBy: "org-owner", cause: "edit", rolledBackTo: null, changes: ["credentials"] },
  }));
  const callThroughGateway = async (d: { endpoints: { http: string } }) => {
    const path = new URL(d.endpoints.http).pathname;
    return fetch(`${gatewayUrl}${path}/flows`, { headers: { "x-access-key": t.ownerKey } });
  };

  it("a NUL byte and a 200 KiB value: both deployments go Failed with a reason, the others keep serving, no value is logged", async () => {
    const good = await deploy("good");
    await waitFor(good.id, (d) => d.status.phase === "Ready");
    assert.equal((await callThroughGateway(good)).status, 200);

    const nul = await deploy("nul");
    const big = await deploy("big");
    await storeCredential(nul.id, NUL_VALUE);
    await storeCredential(big.id, BIG_VALUE);
    for (const d of [nul, big]) reconciler.enqueue(d.id);
    for (const d of [nul, big]) {
      const failed = await waitFor(d.id, (x) => x.status.phase === "Failed" && x.status.observedGeneration === 2);
      const available = failed.status.conditions.find((c) => c.type === "RuntimeAvailable")!;
      assert.equal(available.reason, "InvalidConfiguration");
      assert.match(available.message, /API_TOKEN/, "names the variable");
    }
    // The good deployment kept serving through the gateway, and still does.
    assert.equal((await callThroughGateway(good)).status, 200);
    const events = JSON.stringify([...(await t.store.listEvents(nul.id, { limit: 100 })).items, ...(await t.store.listEvents(big.id, { limit: 100 })).items]);
    assert.match(events, /InvalidConfiguration/);
    await assertNoValue([NUL_VALUE.slice(0, 12), "big-credential-marker"], events);
  });

  it("a driver call that throws fails only its deployment's pass; the value it quoted is logged nowhere", async () => {
    const victim = await deploy("thrown");
    throwFor = victim.resourceName;
    await storeCredential(victim.id, THROWN_VALUE);
    reconciler.enqueue(victim.id);
    const deadline = Date.now() + 20_000;
    while (!logs.lines.some((l) => l.msg === "reconcile failed" && l.deploymentId === victim.id)) {
      if (Date.now() > deadline) assert.fail(`no failed pass logged: ${logs.text().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const other = await deploy("after-throw");
    await waitFor(other.id, (d) => d.status.phase === "Ready");
    assert.equal((await callThroughGateway(other)).status, 200);
    assert.ok(logs.text().includes("cannot apply: value *** refused"), "the error is logged, redacted");
    await assertNoValue([THROWN_VALUE], "");
    throwFor = "";
  });

  /** None of `needles` in the driver's or reconciler's log, any replica's log, or `extra`. */
  async function assertNoValue(needles: string[], extra: string): Promise<void> {
    const texts = [logs.text(), extra];
    // A file may go between the listing and the read: state.json's temporary file is renamed over it.
    const gone = (e: NodeJS.ErrnoException) => { if (e.code === "ENOENT") return ""; throw e; };
    for (const dir of await readdir(root)) for (const f of await readdir(join(root, dir)).catch(() => [])) texts.push(await readFile(join(root, dir, f), "utf8").catch(gone));
    const all = texts.join("\n");
    for (const n of needles) assert.ok(!all.includes(n), `"${n}" appears in a log`);
  }
});
