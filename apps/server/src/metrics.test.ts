import assert from "node:assert/strict";
import { test } from "node:test";
import Fastify from "fastify";
import { createMetrics, registerMetricsRoute, statusClass } from "./metrics.js";

test("GET /metrics serves the registry in Prometheus text format, with what was observed", async () => {
  const metrics = createMetrics();
  metrics.gatewayRequestDuration.observe({ route_id: "r1", kind: "mcp", status_class: statusClass(201) }, 0.003);
  metrics.reconcileDuration.observe({ result: "ok" }, 0.2);
  metrics.deploymentsByPhase.set({ phase: "Ready" }, 3);
  const app = Fastify();
  registerMetricsRoute(app, metrics);
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

test("each createMetrics has its own registry (no global state between control planes)", async () => {
  const one = createMetrics({ defaultMetrics: false });
  const two = createMetrics({ defaultMetrics: false });
  one.deploymentsByPhase.set({ phase: "Failed" }, 1);
  assert.match(await one.registry.metrics(), /phase="Failed"\} 1/);
  assert.doesNotMatch(await two.registry.metrics(), /phase="Failed"/);
});

test("status classes are the hundreds", () => {
  assert.deepEqual([200, 204, 301, 404, 499, 503].map(statusClass), ["2xx", "2xx", "3xx", "4xx", "4xx", "5xx"]);
});
