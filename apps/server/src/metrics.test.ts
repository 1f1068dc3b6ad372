import assert from "node:assert/strict";
import { test } from "node:test";
import Fastify from "fastify";
import { UnauthenticatedError } from "@flowplane/core";
import { createMetrics, deploymentLabels, registerMetricsRoute, statusClass } from "./metrics.js";

test("GET /metrics serves the registry in Prometheus text format, with what was observed", async () => {
  const metrics = createMetrics();
  metrics.gatewayRequestDuration.observe({ route_id: "r1", kind: "mcp", status_class: statusClass(201) }, 0.003);
  metrics.reconcileDuration.observe({ result: "ok" }, 0.2);
  metrics.deploymentsByPhase.set({ phase: "Ready" }, 3);
  const app = Fastify();
  registerMetricsRoute(app, metrics, { access: async () => undefined });
  try {
    const res = await app.inject("/metrics");
    assert.equal(res.statusCode, 200);
    assert.match(res.headers["content-type"] as string, /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, /flowplane_gateway_request_duration_seconds_bucket\{le="0\.005",route_id="r1",kind="mcp",status_class="2xx"\} 1/);
    assert.match(res.body, /flowplane_gateway_request_duration_seconds_bucket\{le="0\.001",route_id="r1",kind="mcp",status_class="2xx"\} 0/);
    assert.match(res.body, /flowplane_reconcile_duration_seconds_count\{result="ok"\} 1/);
    assert.match(res.body, /flowplane_deployments\{phase="Ready"\} 3/);
    assert.match(res.body, /flowplane_process_resident_memory_bytes \d+/, "process metrics are on by default");
  } finally {
    await app.close();
  }
});

test("GET /metrics refused by its access check answers the mapped error, and no metric (metrics-access.ts)", async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.deploymentsByPhase.set({ phase: "Ready" }, 1);
  const app = Fastify();
  registerMetricsRoute(app, metrics, { access: async () => { throw new UnauthenticatedError(); } });
  try {
    const res = await app.inject("/metrics");
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, "unauthenticated");
    assert.doesNotMatch(res.body, /flowplane_/);
  } finally {
    await app.close();
  }
});

test("each createMetrics has its own registry (no global state between control planes)", async () => {
  const one = createMetrics({ defaultMetrics: false });
  const two = createMetrics({ defaultMetrics: false });
  one.deploymentsByPhase.set({ phase: "Failed" }, 1);
  assert.match(await one.registry.metrics(), /phase="Failed"\} 1/);
  assert.doesNotMatch(await two.registry.metrics(), /phase="Failed"/);
});

test("deployment and revision labels; a deployment keeps the series of its last 3 revisions only (bounded cardinality)", async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  const route = { resourceName: "support-bot", revision: 4 };
  assert.deepEqual(deploymentLabels(route, "5"), { deployment: "support-bot", revision: "5" }, "the replica's header wins");
  assert.deepEqual(deploymentLabels(route, undefined), { deployment: "support-bot", revision: "4" });
  assert.deepEqual(deploymentLabels({ resourceName: "x" }, undefined), { deployment: "x" });
  assert.deepEqual(deploymentLabels(undefined, "3"), {});
  const observe = (revision: number, status = 200, deployment = "support-bot") =>
    metrics.gatewayRequestDuration.observe({ route_id: "r1", kind: "http", status_class: statusClass(status), ...deploymentLabels({ resourceName: deployment, revision }, undefined) }, 0.01);
  for (const rev of [1, 2, 3]) observe(rev);
  observe(2, 503);
  observe(1, 200, "other");
  const count = async (deployment: string, rev: number) =>
    ((await metrics.registry.getSingleMetricAsString("flowplane_gateway_request_duration_seconds")).match(new RegExp(`_count\\{[^}]*deployment="${deployment}",revision="${rev}"\\}`, "g")) ?? []).length;
  assert.deepEqual([await count("support-bot", 1), await count("support-bot", 2), await count("support-bot", 3)], [1, 2, 1]);
  observe(4);
  assert.deepEqual([await count("support-bot", 1), await count("support-bot", 2), await count("support-bot", 4)], [0, 2, 1], "revision 1's series went when a fourth came");
  observe(5);
  assert.deepEqual([await count("support-bot", 2), await count("support-bot", 3), await count("support-bot", 5)], [0, 1, 1], "both of revision 2's series went");
  assert.equal(await count("other", 1), 1, "another deployment's revisions are its own");
});

test("status classes are the hundreds", () => {
  assert.deepEqual([200, 204, 301, 404, 499, 503].map(statusClass), ["2xx", "2xx", "3xx", "4xx", "4xx", "5xx"]);
});
