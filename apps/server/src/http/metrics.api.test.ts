import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NewRun, RuntimeSpec } from "@flowplane/core";
import { FakeDriver } from "@flowplane/driver-suite";
import { DeploymentSampler } from "../deployment-metrics/sampler.js";
import { personaChatbot } from "../persona-flow.js";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

const silent = { info() {}, warn() {}, error() {}, debug() {}, child() { return silent; } } as never;

describe("metrics API", () => {
  let t: TestControlPlane;
  let p: string;
  let url: string;
  let deploymentId: string;
  let resourceName: string;
  const driver = new FakeDriver();
  let clock = Date.parse("2026-06-03T10:00:05Z");
  let inFlight = 0;
  const sampler = new DeploymentSampler({
    targets: async () => [{ id: deploymentId, resourceName }], driver, log: silent, inFlight: () => inFlight, now: () => clock,
  });

  before(async () => {
    t = await startTestControlPlane({ sampler });
    t.clock.now = new Date(clock);
    p = await t.project("metrics");
    const b = await t.call("POST", "/api/v1/bundles", { body: { name: "persona", versionTag: "v1", accessLevel: "project", allowedProjects: [p], flows: [personaChatbot()], defaults: {} } });
    assert.equal(b.status, 201, b.text);
    const d = await t.call("POST", `/api/v1/projects/${p}/deployments`, { body: { displayName: "Metered", bundle: { name: "persona", version: "v1" }, networkAccess: "public",
      credentials: { OPENAI_API_KEY: "sk-x" }, parameters: { PERSONA: "pirate" }, resources: { replicas: 2 } } });
    assert.equal(d.status, 201, d.text);
    deploymentId = d.json.id;
    resourceName = (await t.store.getDeployment(deploymentId))!.resourceName;
    url = `/api/v1/projects/${p}/deployments/${deploymentId}/metrics`;
  });
  after(() => t.close());

  const run = (msAgo: number, o: Partial<NewRun>): NewRun => ({
    time: new Date(clock - msAgo).toISOString(), deploymentId, projectId: p, revision: 1, flowId: null, route: "http", tool: null,
    caller: { userId: null, keyId: null }, sessionId: null, requestId: `r-${msAgo}-${Math.random()}`, method: "POST", status: 200, latencyMs: 10, tokens: null, errorCode: null, ...o,
  });

  it("requests, errors and percentiles per 30 s bucket of the last hour, per revision and over all; the whole window's summary", async () => {
    // The current bucket (10:00:00-10:00:30): revision 1 twice (10, 30 ms), revision 2 once, failing (500, 50 ms).
    // Ten minutes back: revision 1, a 404. Two hours back: outside the window.
    await t.store.insertRuns([run(1_000, { latencyMs: 10 }), run(2_000, { latencyMs: 30 }), run(3_000, { revision: 2, status: 500, latencyMs: 50 }),
      run(600_000, { status: 404, latencyMs: 5 }), run(7_200_000, { latencyMs: 999 }), run(1_000, { deploymentId: "someone-else" })]);
    const r = await t.call("GET", url);
    assert.equal(r.status, 200, r.text);
    const m = r.json;
    assert.equal(m.window, "1h");
    assert.equal(m.stepSeconds, 30);
    assert.equal(m.times.length, 120);
    assert.equal(m.times[119], Date.parse("2026-06-03T10:00:00Z") / 1000, "the last bucket is the current one, aligned on the step");
    assert.equal(m.to, "2026-06-03T10:00:30.000Z");
    assert.deepEqual([m.requests.requests[119], m.requests.errors[119], m.requests.serverErrors[119], m.requests.p50[119]], [3, 1, 1, 30]);
    assert.deepEqual([m.requests.requests[99], m.requests.errors[99], m.requests.serverErrors[99]], [1, 1, 0], "ten minutes back: 20 buckets before");
    assert.equal(m.requests.p50[50], null, "no request: no percentile");
    assert.equal(m.requests.requests.reduce((a: number, b: number) => a + b, 0), 4);
    assert.deepEqual(m.requests.revisions.map((x: { revision: number; requests: number[] }) => [x.revision, x.requests[119]]), [[1, 2], [2, 1]]);
    assert.equal(m.requests.revisions[0].p50[119], 20);
    assert.deepEqual({ ...m.summary, requestsPerSecond: Math.round(m.summary.requestsPerSecond * 3600) },
      { requests: 4, requestsPerSecond: 4, errors: 2, serverErrors: 1, p50: 20, p95: m.summary.p95, p99: m.summary.p99, inFlight: null, replicasReady: null, replicasDesired: 2, cpuCores: null, memoryBytes: null });
    assert.ok(m.summary.p99 > 45 && m.summary.p99 < 50, `p99 ${m.summary.p99}`);
    assert.deepEqual(m.replicas, { available: false, reason: m.replicas.reason });
    assert.match(m.replicas.reason, /no sample yet/);
  });

  it("the sampler's series: ready replicas, in-flight, CPU as a rate between two readings, memory per replica", async () => {
    await driver.apply({ deploymentId, resourceName, generation: 1, resources: { replicas: 2 } } as RuntimeSpec);
    await driver.observe(resourceName); // the fake's replicas become ready on the next call
    const [a, b] = (await driver.observe(resourceName)).replicas.map((x) => x.id);
    driver.setUsage(resourceName, [{ replica: a!, cpuSecondsTotal: 100, memoryBytes: 100e6 }, { replica: b!, cpuSecondsTotal: 7, memoryBytes: 50e6 }]);
    inFlight = 3;
    await sampler.sample();
    clock += 10_000;
    t.clock.now = new Date(clock);
    driver.setUsage(resourceName, [{ replica: a!, cpuSecondsTotal: 105, memoryBytes: 120e6 }, { replica: b!, cpuSecondsTotal: 8, memoryBytes: 50e6 }]);
    inFlight = 1;
    await sampler.sample();
    const m = (await t.call("GET", `${url}?window=5m`)).json;
    assert.equal(m.stepSeconds, 10);
    assert.equal(m.times.length, 30);
    assert.deepEqual(m.replicasReady.values.slice(-2), [2, 2]);
    assert.deepEqual(m.inFlight.values.slice(-2), [3, 1]);
    const byReplica = new Map(m.replicas.items.map((x: { replica: string }) => [x.replica, x]));
    const ra = byReplica.get(a!) as { cpuCores: (number | null)[]; memoryBytes: (number | null)[] };
    assert.deepEqual(ra.cpuCores.slice(-2), [null, 0.5], "5 CPU seconds over 10 s: half a core; none from the first reading");
    assert.deepEqual(ra.memoryBytes.slice(-2), [100e6, 120e6]);
    assert.deepEqual([m.summary.inFlight, m.summary.replicasReady, m.summary.cpuCores, m.summary.memoryBytes], [1, 2, 0.6, 170e6]);

    // A driver that cannot measure says why, and the answer passes it on.
    driver.setUsage(resourceName, undefined as never);
    await sampler.sample();
    const n = (await t.call("GET", url)).json;
    assert.equal(n.replicas.available, false);
    assert.match(n.replicas.reason, /measures nothing/);
    assert.equal(n.summary.cpuCores, null);
  });

  it("bad window or step: 400 naming the field; another project's viewer: 404", async () => {
    for (const [q, field] of [["window=2h", "window"], ["step=5s", "step"], ["step=banana", "step"], ["window=5m&step=1h", "step"], ["window=24h&step=30s", "step"],
      // Steps off the list: each was an aggregate of its own, never reused (core api/metrics.ts METRICS_STEPS_SECONDS).
      ["window=24h&step=61s", "step"], ["window=24h&step=7m", "step"], ["step=31s", "step"]] as const) {
      const r = await t.call("GET", `${url}?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.json.error.details[0].field, field, `${q}: ${r.text}`);
    }
    assert.equal((await t.call("GET", `${url}?window=24h&step=1h`)).json.times.length, 24);
    assert.equal((await t.call("GET", `${url}?window=24h&step=60m`)).json.times.length, 24);
    assert.equal((await t.call("GET", `${url}?window=5m&step=15s`)).json.times.length, 20);
    const other = await t.project("other-metrics");
    const stranger = await t.user("stranger", { [other]: "viewer" });
    assert.equal((await t.call("GET", url, { key: stranger.key })).status, 404);
    const viewer = await t.user("viewer", { [p]: "viewer" });
    assert.equal((await t.call("GET", url, { key: viewer.key })).status, 200);
  });
});
