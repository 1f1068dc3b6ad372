import assert from "node:assert/strict";
import { test } from "node:test";
import { AggregatorRegistry, Histogram, Registry, type Metric } from "prom-client";
import type { RequestLabels } from "./metrics.js";
import { RequestDurationHistogram } from "./request-durations.js";

const NAME = "t_request_duration_seconds";
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** The same observations in prom-client's own Histogram and in ours, each in a registry of its own. */
function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const h = new Histogram({ name: NAME, help: "h", labelNames: ["route_id", "kind", "status_class", "deployment", "revision"] as const, buckets: BUCKETS, registers: [theirs] });
  const d = new RequestDurationHistogram(NAME, "h", BUCKETS, 1_000);
  ours.registerMetric(d as unknown as Metric);
  return { theirs, ours, observe: (l: RequestLabels, s: number) => { h.observe(l as unknown as Record<string, string>, s); d.observe(l, s); } };
}

test("observed alike, it reads as prom-client's own Histogram: JSON, text exposition, bucket edges", async () => {
  const { theirs, ours, observe } = both();
  const sets: RequestLabels[] = [
    { route_id: "r1", kind: "http", status_class: "2xx", deployment: "d1", revision: "3" },
    { route_id: "r1", kind: "http", status_class: "5xx", deployment: "d1", revision: "3" },
    { route_id: "r2", kind: "mcp", status_class: "2xx", deployment: "d2" },
    { route_id: "r3", kind: "http", status_class: "4xx" },
  ];
  // Values on the bucket bounds themselves (prom-client counts a value in the bucket whose bound it equals), between them and past the last.
  const values = [0, 0.001, 0.0010001, 0.004, 0.005, 0.7, 1, 299, 300, 301, 1e6];
  let n = 0;
  for (const v of values) for (const l of sets) observe(l, v * (1 + (n++ % 3) * 1e-9));
  assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test("merged across processes as prom-client merges its own (a worker's JSON with the control plane's)", async () => {
  const a = both();
  const b = both();
  a.observe({ route_id: "r1", kind: "http", status_class: "2xx", deployment: "d1", revision: "1" }, 0.02);
  b.observe({ route_id: "r1", kind: "http", status_class: "2xx", deployment: "d1", revision: "1" }, 0.2);
  b.observe({ route_id: "r2", kind: "http", status_class: "2xx" }, 3);
  const merged = async (x: Registry, y: Registry) => AggregatorRegistry.aggregate([await x.getMetricsAsJSON(), await y.getMetricsAsJSON()] as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
  assert.equal(await merged(a.ours, b.ours), await merged(a.theirs, b.theirs));
  assert.match(await merged(a.ours, b.ours), new RegExp(`${NAME}_count\\{route_id="r1",kind="http",status_class="2xx",deployment="d1",revision="1"\\} 2`));
});

test("a value that is not a number is not counted, and reset empties it", async () => {
  const d = new RequestDurationHistogram(NAME, "h", BUCKETS, 3);
  const l = { route_id: "r1", kind: "http", status_class: "2xx" };
  d.observe(l, Number.NaN);
  d.observe(l, Number.POSITIVE_INFINITY);
  assert.equal((await d.get()).values.length, 0);
  d.observe(l, 0.5);
  assert.equal((await d.get()).values.find((v) => v.metricName === `${NAME}_count`)?.value, 1);
  d.reset();
  assert.equal((await d.get()).values.length, 0);
});

test("n calls alike observed at once read as the same n observed one by one (a native proxy's counts)", async () => {
  const { theirs, ours } = both();
  const h = (await theirs.getSingleMetric(NAME)) as Histogram;
  const d = (await ours.getSingleMetric(NAME)) as unknown as RequestDurationHistogram;
  const l = { route_id: "r1", kind: "http", status_class: "2xx", deployment: "d1", revision: "3" };
  // Whole milliseconds, as the counts carry them: the sums agree exactly.
  for (const [ms, n] of [[0, 7], [1, 3], [25, 2], [400, 1]] as const) {
    d.observe(l, ms / 1000, n);
    for (let i = 0; i < n; i++) h.observe(l, ms / 1000);
  }
  // Not whole calls: nothing counted, and no series made for a label set seen first here.
  const fresh = { route_id: "r9", kind: "http", status_class: "2xx", deployment: "d9", revision: "1" };
  for (const times of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) { d.observe(l, 0.002, times); d.observe(fresh, 0.002, times); }
  assert.equal(await ours.metrics(), await theirs.metrics(), "no count of 0, NaN or part of a call");
});
