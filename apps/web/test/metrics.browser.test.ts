import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { chromiumMissing, SCREENSHOTS } from "./browser.js";
import { signIn, startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";
import { until } from "./until.js";

/**
 * The Metrics section of the deployment details page (issue #19 item 4), against the real server
 * and a real replica: calls through the gateway show up in the request and latency charts'
 * figures without a reload, the replica's CPU and memory are drawn (the local driver reads
 * /proc), the window switches to the last day. Screenshotted and checked with axe-core, wide and narrow.
 */
describe("web UI: metrics of a deployment (browser)", { skip: chromiumMissing(), timeout: 300_000 }, () => {
  let h: Harness;
  let projectId: string;
  let dep: { id: string; endpoints: { http: string } };
  const page = () => h.page;

  before(async () => {
    h = await startHarness("web-metrics", { FLOWPLANE_METRICS_SAMPLE_SECONDS: "1" });
    projectId = (await api(h.server, "POST", "/projects", { name: "Measure" })).json.id;
    assert.equal((await api(h.server, "POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    const r = await api(h.server, "POST", `/projects/${projectId}/deployments`, { displayName: "Echo", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
    assert.equal(r.status, 201);
    dep = r.json;
    await until(async () => (await api(h.server, "GET", `/projects/${projectId}/deployments/${dep.id}`)).json.status.phase === "Ready", "Ready", 120_000);
  });
  after(async () => {
    await h?.close();
  });

  it("charts requests, errors, latency, replicas, CPU and memory; switches to the last day", async () => {
    const headers = { "x-access-key": h.server.adminKey, "content-type": "application/json" };
    const flows = (await (await fetch(`${dep.endpoints.http}/flows`, { headers })).json()) as { id: string }[];
    for (let i = 0; i < 4; i++) assert.equal((await fetch(`${dep.endpoints.http}/api/v1/run/${flows[0]!.id}`, { method: "POST", headers, body: JSON.stringify({ input_value: `hi ${i}` }) })).status, 200);
    assert.equal((await fetch(`${dep.endpoints.http}/api/v1/run/missing-flow`, { method: "POST", headers, body: "{}" })).status, 404);

    await signIn(h);
    await page().goto(`/estate/flows/${dep.id}?project=${projectId}`);
    const metrics = page().getByRole("region", { name: "Metrics" });
    // 5 runs: the 4 flow runs and the run of a missing flow (404); listing the flows is a call, not a run. The section polls: no reload.
    const requests = metrics.getByRole("figure", { name: /^Requests: 5 requests .*, 1 errors/ });
    await requests.waitFor({ timeout: 40_000 });
    await requests.locator("canvas").waitFor(); // drawn, once uPlot has loaded
    await metrics.getByRole("figure", { name: /^Latency: p50 \d+ ms, p95 \d+ ms, p99 \d+ ms/ }).waitFor();
    await metrics.getByRole("figure", { name: /^In flight and replicas: 0 in flight, 1 of 1 replicas ready/ }).waitFor({ timeout: 40_000 });
    await metrics.getByRole("figure", { name: /^CPU per replica: \d+m of a core in all, now/ }).waitFor({ timeout: 40_000 });
    await metrics.getByRole("figure", { name: /^Memory per replica: \d+ MiB in all, now/ }).waitFor();
    await metrics.getByRole("row", { name: /^1 5 1 0 \d+ ms$/ }).waitFor();

    await metrics.scrollIntoViewIfNeeded();
    await h.check("metrics");
    await metrics.screenshot({ path: join(SCREENSHOTS, "metrics-section.png") });
    await h.checkNarrow("metrics");

    await metrics.getByRole("button", { name: "Last day" }).click();
    assert.equal(await metrics.getByRole("button", { name: "Last day" }).getAttribute("aria-pressed"), "true");
    await metrics.getByRole("table", { name: "Requests per revision, last day" }).waitFor();
    await requests.waitFor(); // the same 5 runs over the day
  });
});
