import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { chromiumMissing } from "./browser.js";
import { signIn, startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";
import { until } from "./until.js";

/**
 * The Runs and Logs sections of the deployment details page (issue #19), against the real
 * server and a real replica: calls made through the gateway appear in the runs table with their
 * status colored and the failed one's error code, without a reload; the live tail shows the
 * replica's lines and no probe line; a request id narrows it. Screenshotted and checked with axe-core.
 */
describe("web UI: runs and logs of a deployment (browser)", { skip: chromiumMissing(), timeout: 300_000 }, () => {
  let h: Harness;
  let projectId: string;
  let dep: { id: string; endpoints: { http: string } };
  const page = () => h.page;
  /** A call's label (its x-request-id: only a correlation attribute) to the gateway's own id of it, which names its run. */
  const idOf = new Map<string, string>();
  const call = async (path: string, body: unknown, label: string) => {
    const res = await fetch(`${dep.endpoints.http}${path}`, {
      method: "POST", headers: { "x-access-key": h.server.adminKey, "content-type": "application/json", "x-request-id": label }, body: JSON.stringify(body),
    });
    idOf.set(label, res.headers.get("x-request-id") ?? "");
    return res;
  };

  before(async () => {
    h = await startHarness("web-runs");
    projectId = (await api(h.server, "POST", "/projects", { name: "Observe" })).json.id;
    assert.equal((await api(h.server, "POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    const r = await api(h.server, "POST", `/projects/${projectId}/deployments`, { displayName: "Echo", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
    assert.equal(r.status, 201);
    dep = r.json;
    await until(async () => (await api(h.server, "GET", `/projects/${projectId}/deployments/${dep.id}`)).json.status.phase === "Ready", "Ready", 120_000);
  });
  after(async () => {
    await h?.close();
  });

  it("shows the runs, newest first, a failure in red with its error code, as they happen", async () => {
    await signIn(h);
    await page().goto(`/estate/flows/${dep.id}?project=${projectId}`);
    const runs = page().getByRole("region", { name: "Runs" });
    await runs.getByText("No runs yet").waitFor();
    const flows = (await (await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": h.server.adminKey } })).json()) as { id: string }[];
    assert.equal((await call(`/api/v1/run/${flows[0]!.id}`, { input_value: "hi", session_id: "chat-7" }, "web-ok-1")).status, 200);
    assert.equal((await call("/api/v1/run/missing-flow", { input_value: "hi" }, "web-bad-1")).status, 404);
    // No reload: the section refreshes itself.
    const failed = runs.locator(`tr[title='request id ${idOf.get("web-bad-1")}']`);
    await failed.waitFor({ timeout: 20_000 });
    assert.equal(await failed.locator(".badge-warn[data-status='404']").count(), 1, "a 4xx is amber");
    await failed.getByText("not_found").waitFor();
    const good = runs.locator(`tr[title='request id ${idOf.get("web-ok-1")}']`);
    assert.equal(await good.locator(".badge-ok[data-status='200']").count(), 1);
    await good.getByText("chat-7").waitFor();
    await good.getByText(/HTTP · /).waitFor();
    await runs.getByLabel("Errors only").check();
    await until(async () => (await good.count()) === 0, "errors only hides the 200");
    assert.equal(await failed.count(), 1);
    await runs.getByLabel("Errors only").uncheck();
    await good.waitFor();
  });

  it("tails the replica's logs without probe lines, and narrows them to one request", async () => {
    const logs = page().getByRole("region", { name: "Logs" });
    const pre = logs.getByLabel("Replica logs, oldest first");
    await until(async () => /"msg":"ready"/.test(await pre.innerText()), "the replica's start in the tail", 20_000);
    assert.doesNotMatch(await pre.innerText(), /\/ready|\/health/);
    await logs.scrollIntoViewIfNeeded();
    await h.check("runs-and-logs");
    await logs.getByLabel("Filter by request id").fill("no-such-request");
    await until(async () => (await pre.innerText()) === "No log lines.", "the filter applies");
  });
});
