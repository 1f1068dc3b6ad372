import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { chromiumMissing } from "./browser.js";
import { signIn, startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";
import { until } from "./until.js";

/**
 * The Revisions section of the deployment details page, against the real server and real
 * replicas: the list with who changed what, the difference of two (credential names, never
 * values), and Rollback through its confirmation dialog, after which the flow uses the
 * restored credential.
 */
describe("web UI: revisions and rollback (browser)", { skip: chromiumMissing(), timeout: 300_000 }, () => {
  let h: Harness;
  let projectId: string;
  let id: string;
  let httpUrl: string;
  const page = () => h.page;
  const deployment = async () => (await api(h.server, "GET", `/projects/${projectId}/deployments/${id}`)).json;
  const settled = (generation: number) => until(async () => {
    const d = await deployment();
    return d.generation === generation && d.status.observedGeneration === generation && d.status.phase === "Ready";
  }, `generation ${generation} Ready`, 90_000);
  const run = async () => {
    const flows = (await (await fetch(`${httpUrl}/flows`, { headers: { "x-access-key": h.server.adminKey } })).json()) as { id: string }[];
    const r = await fetch(`${httpUrl}/flows/${flows[0]!.id}/run`, { method: "POST", headers: { "x-access-key": h.server.adminKey, "content-type": "application/json" }, body: JSON.stringify({ input_value: "hi" }) });
    return (await r.json()) as { success: boolean };
  };

  before(async () => {
    h = await startHarness("web-revisions");
    projectId = (await api(h.server, "POST", "/projects", { name: "Revisions" })).json.id;
    assert.equal((await api(h.server, "POST", "/bundles", { name: "chat", versionTag: "v1", accessLevel: "global", flows: [loadFixture("memory-chatbot")] })).status, 201);
    const d = await api(h.server, "POST", `/projects/${projectId}/deployments`, { displayName: "Rev Bot", bundle: { name: "chat", version: "v1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-web-one" } });
    assert.equal(d.status, 201);
    id = d.json.id;
    httpUrl = d.json.endpoints.http;
    await settled(1);
    const edit = await api(h.server, "PATCH", `/projects/${projectId}/deployments/${id}`, { credentials: { OPENAI_API_KEY: "sk-web-two" }, runtime: { logLevel: "debug" } });
    assert.equal(edit.json.revision, 2);
    await settled(2);
  });
  after(async () => {
    await h?.close();
  });

  it("lists the revisions and shows the difference of two, credential names only", async () => {
    await signIn(h);
    await page().goto(`/estate/flows/${id}?project=${projectId}`);
    const section = page().locator("section.revisions");
    await section.locator("tr[data-revision='2']").getByText("credentials.OPENAI_API_KEY, runtime.logLevel").waitFor();
    await section.locator("tr[data-revision='2']").getByText("current").waitFor();
    await section.locator("tr[data-revision='1']").getByText("deployed").waitFor();
    assert.equal(await section.getByLabel("Compare revision").inputValue(), "1");
    assert.equal(await section.getByLabel("with revision").inputValue(), "2");
    await section.locator("tr[data-revision-diff='credential OPENAI_API_KEY']").getByText("another value").waitFor();
    await section.locator("tr[data-revision-diff='runtime logLevel']").getByText("debug").waitFor();
    assert.ok(!(await page().content()).includes("sk-web-"), "no credential value in the page");
    await section.scrollIntoViewIfNeeded();
    await h.check("20-revisions");
    await h.checkNarrow("20-revisions");
  });

  it("rolls back through the confirmation dialog: revision 3 restores revision 1's credential", async () => {
    await page().getByRole("button", { name: "Roll back to revision 1" }).click();
    const dialog = page().getByRole("dialog", { name: "Roll back to revision 1?" });
    await dialog.waitFor();
    await dialog.locator("tr[data-revision-diff='runtime logLevel']").getByText("info").waitFor();
    await h.check("21-rollback-confirm");
    await dialog.getByRole("button", { name: "Roll back", exact: true }).click();
    await dialog.waitFor({ state: "detached" });
    const section = page().locator("section.revisions");
    await section.locator("tr[data-revision='3']").getByText(/rolled back to 1/).waitFor();
    await page().getByText("revision 3 · generation 3").waitFor();
    await settled(3);
    await page().locator(".details-title [data-phase='Ready']").waitFor({ timeout: 10_000 });
    assert.equal((await run()).success, true);
    assert.equal(h.llm.requests.at(-1)?.headers.authorization, "Bearer sk-web-one");
    assert.equal((await deployment()).runtime.logLevel, "info");
    await h.check("22-revisions-after-rollback");
  });

  it("shows the live revisions; a canary's share, Promote, and Abort through its dialog", async () => {
    const section = page().locator("section.revisions");
    await section.locator("[data-live-revision='3']").getByText("current").waitFor();
    await section.locator("[data-live-revision='2']").getByText(/one replica kept until/).waitFor();
    const canary = await api(h.server, "PATCH", `/projects/${projectId}/deployments/${id}`, { runtime: { logLevel: "warn" }, canary: { percent: 10 } });
    assert.equal(canary.status, 200, JSON.stringify(canary.json));
    await page().reload();
    await section.locator("[data-live-revision='3']").getByText("stable").waitFor();
    await section.getByLabel("Canary share (%)").fill("25");
    await section.getByRole("button", { name: "Set share" }).click();
    await section.locator("[data-live-revision='4']").getByText("25% of the calls").waitFor();
    await h.check("23-canary");
    await section.getByRole("button", { name: "Promote" }).click();
    await section.locator("[data-live-revision='4']").getByText("100% of the calls").waitFor();
    await section.locator("[data-live-revision='3']").getByText("warm").waitFor();
    assert.equal((await deployment()).liveRevisions.find((l: { role: string }) => l.role === "stable"), undefined);
    await settled(4);
    const again = await api(h.server, "PATCH", `/projects/${projectId}/deployments/${id}`, { runtime: { logLevel: "error" }, canary: { percent: 50 } });
    assert.equal(again.status, 200);
    await page().reload();
    // The page has the new canary before its button is used (a click on the first render, replaced
    // by the next, opened no dialog: a CI run timed out on it).
    await section.locator("[data-live-revision='5']").getByText("50% of the calls").waitFor();
    await section.getByRole("button", { name: "Abort" }).click();
    const dialog = page().getByRole("dialog", { name: "Abort the canary of revision 5?" });
    await dialog.getByRole("button", { name: "Abort", exact: true }).click();
    await dialog.waitFor({ state: "detached" });
    await section.locator("[data-live-revision='6']").getByText(/served by revision 4's replicas/).waitFor();
    assert.equal((await deployment()).runtime.logLevel, "warn");
  });
});
