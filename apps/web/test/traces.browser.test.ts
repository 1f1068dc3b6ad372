import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { chromiumMissing } from "./browser.js";
import { signIn, startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";
import { until } from "./until.js";

/**
 * A run's trace on the deployment page (issue #19 items 2 and 5), against the real server, a
 * real replica and the fake OpenAI: a call whose model fails (the fake answers 500 to
 * "[[fail]]") shows, under Runs > Trace, the failed component in the waterfall with its error,
 * and on the flow's graph that component red, those before it with their times, and the Chat
 * Output after it as not run. A successful run's trace shows every component ok. Screenshotted
 * (test-results/screenshots/run-trace-*.png) and checked with axe-core.
 */
describe("web UI: a run's trace, as a waterfall and on the flow graph (browser)", { skip: chromiumMissing(), timeout: 300_000 }, () => {
  let h: Harness;
  let projectId: string;
  let dep: { id: string; endpoints: { http: string } };
  let flowId: string;
  const page = () => h.page;
  /** A call's label (its x-request-id: only a correlation attribute) to the gateway's own id of it, which names its run. */
  const idOf = new Map<string, string>();
  const call = async (input: string, label: string) => {
    const res = await fetch(`${dep.endpoints.http}/api/v1/run/${flowId}`, {
      method: "POST", headers: { "x-access-key": h.server.adminKey, "content-type": "application/json", "x-request-id": label },
      body: JSON.stringify({ input_value: input, session_id: label }),
    });
    idOf.set(label, res.headers.get("x-request-id") ?? "");
    return res;
  };

  before(async () => {
    h = await startHarness("web-traces");
    projectId = (await api(h.server, "POST", "/projects", { name: "Traced" })).json.id;
    assert.equal((await api(h.server, "POST", "/bundles", { name: "chatbot", versionTag: "v1", accessLevel: "global", flows: [loadFixture("memory-chatbot")] })).status, 201);
    const r = await api(h.server, "POST", `/projects/${projectId}/deployments`, {
      displayName: "Chatbot", bundle: { name: "chatbot", version: "v1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-trace" },
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    dep = r.json;
    await until(async () => (await api(h.server, "GET", `/projects/${projectId}/deployments/${dep.id}`)).json.status.phase === "Ready", "Ready", 120_000);
    flowId = ((await (await fetch(`${dep.endpoints.http}/flows`, { headers: { "x-access-key": h.server.adminKey } })).json()) as { id: string }[])[0]!.id;
  });
  after(async () => {
    await h?.close();
  });

  it("a run that failed in the model: that component in the waterfall with its error, red on the graph, what came after it not run", async () => {
    assert.equal((await call("hello there", "web-trace-ok")).status, 200);
    assert.equal((await call("now [[fail]]", "web-trace-fail")).status, 500);
    await signIn(h);
    await page().goto(`/estate/flows/${dep.id}?project=${projectId}`);
    const runs = page().getByRole("region", { name: "Runs" });
    const failedRow = runs.locator(`tr[title='request id ${idOf.get("web-trace-fail")}']`);
    await failedRow.waitFor({ timeout: 20_000 });
    await failedRow.getByRole("button", { name: /Trace of the run/ }).click();

    const trace = runs.locator(".trace");
    await trace.locator(".waterfall").waitFor({ timeout: 20_000 });
    await trace.getByRole("alert").getByText(/Failed in Language Model \(LanguageModelComponent\): .*fake failure/).waitFor();
    const bad = trace.locator(".waterfall-row[data-status='error']");
    assert.equal(await bad.count(), 1);
    assert.equal(await bad.getAttribute("data-component"), "LanguageModelComponent-n8KRg");
    assert.equal(await trace.locator(".waterfall-row[data-status='ok']").count(), 3, "Chat Input, Memory and Prompt ran before it");

    // The graph with the run overlaid: the model red, those before it with a time, Chat Output not run.
    const graph = trace.locator(".graph");
    await graph.locator(".graph-node").first().waitFor({ timeout: 20_000 });
    const node = (type: string) => graph.locator(`.graph-node[data-component-type='${type}']`);
    assert.equal(await node("LanguageModelComponent").getAttribute("data-run-status"), "error");
    await node("LanguageModelComponent").getByText(/failed · [\d.]+ m?s/).waitFor();
    const red = await node("LanguageModelComponent").evaluate((e) => getComputedStyle(e).borderTopColor);
    assert.equal(red, "rgb(180, 35, 24)", "the failed node is drawn in red (--bad)");
    for (const type of ["ChatInput", "Memory", "Prompt"]) assert.equal(await node(type).getAttribute("data-run-status"), "ok", type);
    assert.equal(await node("ChatOutput").getAttribute("data-run-status"), "skipped");
    await node("ChatOutput").getByText("did not run").waitFor();
    await trace.scrollIntoViewIfNeeded();
    await h.check("run-trace-failed");
  });

  it("a deployment that keeps inputs and outputs: the run's and each component's shown, the credential redacted", async () => {
    const r = await api(h.server, "POST", `/projects/${projectId}/deployments`, {
      displayName: "Chatbot IO", bundle: { name: "chatbot", version: "v1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-trace-io-secret" },
      runtime: { engine: "native", io: { record: true } },
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const io = r.json as { id: string; endpoints: { http: string } };
    await until(async () => (await api(h.server, "GET", `/projects/${projectId}/deployments/${io.id}`)).json.status.phase === "Ready", "Ready", 120_000);
    const ioFlow = ((await (await fetch(`${io.endpoints.http}/flows`, { headers: { "x-access-key": h.server.adminKey } })).json()) as { id: string }[])[0]!.id;
    const res = await fetch(`${io.endpoints.http}/api/v1/run/${ioFlow}`, {
      method: "POST", headers: { "x-access-key": h.server.adminKey, "content-type": "application/json", "x-request-id": "web-trace-io" },
      body: JSON.stringify({ input_value: "my key is sk-trace-io-secret", session_id: "web-trace-io" }),
    });
    assert.equal(res.status, 200);
    await page().goto(`/estate/flows/${io.id}?project=${projectId}`);
    const runs = page().getByRole("region", { name: "Runs" });
    const row = runs.locator(`tr[title='request id ${res.headers.get("x-request-id")}']`);
    await row.waitFor({ timeout: 20_000 });
    await row.getByRole("button", { name: /Trace of the run/ }).click();
    const section = runs.getByRole("region", { name: "Inputs and outputs of this run" });
    await section.waitFor({ timeout: 20_000 });
    await section.getByText("my key is [redacted]", { exact: true }).first().waitFor();
    await section.getByText("Echo: my key is [redacted]", { exact: true }).first().waitFor();
    const model = section.locator("details[data-component='LanguageModelComponent-n8KRg']");
    await model.locator("summary").click();
    await model.getByText("in · api_key").waitFor();
    assert.equal(await page().getByText("sk-trace-io-secret").count(), 0, "the credential is nowhere on the page");
    await section.scrollIntoViewIfNeeded();
    await h.check("run-trace-io");

    // The edit path: the details page's own section turns it off, as a new revision.
    const ioCard = page().getByRole("region", { name: "Inputs and outputs", exact: true });
    const box = ioCard.getByRole("checkbox", { name: "Keep inputs and outputs with each run's trace" });
    assert.equal(await box.isChecked(), true);
    await box.uncheck();
    await ioCard.getByRole("button", { name: "Save and roll out" }).click();
    await until(async () => (await api(h.server, "GET", `/projects/${projectId}/deployments/${io.id}`)).json.runtime.io.record === false, "io off", 20_000);
    const after = (await api(h.server, "GET", `/projects/${projectId}/deployments/${io.id}`)).json;
    assert.equal(after.revision, 2);
    assert.deepEqual((await api(h.server, "GET", `/projects/${projectId}/deployments/${io.id}/revisions/2`)).json.changes, ["runtime.io.record"]);
    // The tweaks policy is edited the same way, in its own section: a new revision of that one field.
    const tweaksCard = page().getByRole("region", { name: "Tweaks", exact: true });
    const policy = tweaksCard.getByLabel("Tweaks", { exact: true });
    assert.equal(await policy.inputValue(), "permissive");
    await policy.selectOption("declared");
    await tweaksCard.getByText("Only the fields the flow's author marked editable via API in Langflow; a flow with none marked stays permissive.").waitFor();
    await tweaksCard.getByRole("button", { name: "Save and roll out" }).click();
    await until(async () => (await api(h.server, "GET", `/projects/${projectId}/deployments/${io.id}`)).json.runtime.tweaksPolicy === "declared", "tweaks declared", 20_000);
    assert.deepEqual((await api(h.server, "GET", `/projects/${projectId}/deployments/${io.id}/revisions/3`)).json.changes, ["runtime.tweaksPolicy"]);
    await page().goto(`/estate/flows/${dep.id}?project=${projectId}`);
  });

  it("a successful run: every component ok, the model's tokens shown", async () => {
    const runs = page().getByRole("region", { name: "Runs" });
    await runs.locator(`tr[title='request id ${idOf.get("web-trace-ok")}']`).getByRole("button", { name: /Trace of the run/ }).click();
    const trace = runs.locator(".trace");
    await until(async () => (await trace.locator(".waterfall-row[data-status='ok']").count()) === 5, "five components ok", 20_000);
    assert.equal(await trace.locator(".waterfall-row[data-status='error']").count(), 0);
    await trace.getByText(/tokens 1 in \/ 1 out/).first().waitFor();
    const graph = trace.locator(".graph");
    await until(async () => (await graph.locator(".graph-node[data-run-status='ok']").count()) === 5, "five ok nodes on the graph", 20_000);
    await trace.scrollIntoViewIfNeeded();
    await h.check("run-trace-ok");
  });
});
