import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { chromiumMissing } from "./browser.js";
import { signIn, startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";
import { until } from "./until.js";

/**
 * From the UI alone to an application calling a deployment: a machine user added under People,
 * given the viewer role under Members, a key created (shown once, with its warning), a call
 * through the gateway with that key, the key revoked and the call refused within the
 * documented 5 seconds; then the one-step "create a key to call this deployment" from the
 * deployment page, whose snippets carry the key. Role rules show as disabled controls with
 * their reason for a viewer. Every page is screenshotted and checked with axe-core.
 */
describe("web UI: people, members and keys (browser)", { skip: chromiumMissing(), timeout: 300_000 }, () => {
  let h: Harness;
  let projectId: string;
  let deploymentId: string;
  let httpUrl: string;
  let flowId: string;
  const page = () => h.page;
  const call = (key: string) => fetch(`${httpUrl}/flows/${flowId}/run`, {
    method: "POST", headers: { "x-access-key": key, "content-type": "application/json" }, body: JSON.stringify({ input_value: "hello from the app" }),
  });

  before(async () => {
    h = await startHarness("web-people");
    projectId = (await api(h.server, "POST", "/projects", { name: "Apps" })).json.id;
    const published = await api(h.server, "POST", "/bundles", { name: "echo", versionTag: "v1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] });
    assert.equal(published.status, 201, JSON.stringify(published.json));
    flowId = published.json.flows[0].id;
    const d = await api(h.server, "POST", `/projects/${projectId}/deployments`, { displayName: "Echo", bundle: { name: "echo", version: "v1" }, networkAccess: "public", runtime: { engine: "native" }, credentials: {} });
    assert.equal(d.status, 201, JSON.stringify(d.json));
    deploymentId = d.json.id;
    httpUrl = d.json.endpoints.http;
    await until(async () => (await api(h.server, "GET", `/projects/${projectId}/deployments/${deploymentId}`)).json.status.phase === "Ready", "Echo Ready", 90_000);
  });
  after(async () => {
    await h?.close();
  });

  let botKey = "";
  it("adds a machine user, gives it the viewer role and creates its key, shown once", async () => {
    await signIn(h);
    await page().getByRole("link", { name: "People and keys" }).click();
    await page().getByRole("heading", { name: "People and keys" }).waitFor();
    await page().getByLabel("Name").fill("support-app");
    await page().getByLabel(/Machine user/).check();
    await page().getByRole("button", { name: "Add user" }).click();
    await page().locator("[data-user='support-app']").waitFor();
    await page().getByRole("heading", { name: "Access keys of support-app" }).waitFor();
    await page().getByText("0 of 2 live keys").waitFor();
    await h.check("people-01-users");
    await h.checkNarrow("people-01-users");

    await page().getByRole("link", { name: "Members" }).click();
    await page().getByRole("heading", { name: "Members of Apps" }).waitFor();
    const bot = (await api(h.server, "GET", "/users")).json.items.find((u: { name: string }) => u.name === "support-app");
    await page().getByLabel("User", { exact: true }).selectOption(bot.id);
    await page().getByLabel("Role", { exact: true }).selectOption("editor");
    await page().getByRole("button", { name: "Add member" }).click();
    await page().locator("[data-member='support-app']").waitFor();
    await page().getByLabel("Role of support-app").selectOption("viewer");
    await until(async () => (await api(h.server, "GET", `/projects/${projectId}/members`)).json.items[0]?.role === "viewer", "the role changed to viewer");
    await h.check("people-02-members");

    await page().getByRole("link", { name: "People and keys" }).click();
    await page().locator("[data-user='support-app']").getByRole("button", { name: /Keys/ }).click();
    await page().getByLabel("Expires in (days)").fill("30");
    await page().getByRole("button", { name: "Create key" }).click();
    await page().getByText("It will not be shown again").waitFor();
    botKey = (await page().locator("[data-key-value]").textContent()) ?? "";
    assert.match(botKey, /^fp_[A-Za-z0-9_-]{43}$/);
    await page().getByText("1 of 2 live keys").waitFor();
    await h.check("people-03-key-created");
  });

  it("calls the deployment through the gateway with that key; revoked, it is refused within 5 s", async () => {
    const r = await call(botKey);
    const text = await r.text();
    assert.equal(r.status, 200, text);
    assert.equal((JSON.parse(text) as { success: boolean }).success, true);
    // Last use shows when the panel is opened again (recorded to the minute).
    await page().getByRole("link", { name: "Members" }).click();
    await page().getByRole("heading", { name: "Members of Apps" }).waitFor();
    await page().getByRole("link", { name: "People and keys" }).click();
    await page().locator("[data-user='support-app']").getByRole("button", { name: /Keys/ }).click();
    await until(async () => !(await page().locator("[data-last-used]").first().textContent())?.includes("never"), "the last use shown");
    assert.equal(await page().locator("[data-key-value]").count(), 0, "the key is not shown again");
    await page().getByRole("button", { name: /Revoke/ }).click();
    await page().getByText("revoked", { exact: true }).waitFor();
    await h.check("people-04-key-revoked");
    const deadline = Date.now() + 5_000;
    let status = 200;
    while (Date.now() < deadline && (status = (await call(botKey)).status) === 200) await new Promise((res) => setTimeout(res, 100));
    assert.equal(status, 401, "the revoked key is refused within 5 s");
  });

  it("creates a key to call the deployment in one step, with the snippets filled in", async () => {
    await page().goto(`/estate/flows/${deploymentId}?project=${projectId}`);
    await page().getByRole("button", { name: "Create a key to call this deployment" }).click();
    const dialog = page().getByRole("dialog", { name: "Create a key to call this deployment" });
    await h.check("people-05-call-key-form");
    await dialog.getByRole("button", { name: "Create key" }).click();
    await dialog.getByText("It will not be shown again").waitFor();
    const key = (await dialog.locator("[data-key-value]").textContent()) ?? "";
    const curl = (await dialog.getByLabel("curl command with the key").textContent()) ?? "";
    assert.ok(curl.includes(key) && curl.includes(`${httpUrl}/flows/${flowId}/run`), curl);
    assert.ok(((await dialog.getByLabel("MCP client configuration with the key").textContent()) ?? "").includes(key));
    await h.check("people-06-call-key-created");
    assert.equal((await call(key)).status, 200, "the new machine user (viewer) may call it");
    const members = (await api(h.server, "GET", `/projects/${projectId}/members`)).json.items as { userName: string; role: string }[];
    assert.deepEqual(members.find((m) => m.userName.endsWith("-caller"))?.role, "viewer");
    await dialog.getByRole("button", { name: "I have stored the key" }).click();
    await dialog.waitFor({ state: "detached" });
  });

  it("shows a viewer the actions it may not take as disabled, with the reason", async () => {
    const viewer = (await api(h.server, "POST", "/users", { name: "viewer-person", kind: "human" })).json;
    await api(h.server, "PUT", `/projects/${projectId}/members/${viewer.id}`, { role: "viewer" });
    const key = (await api(h.server, "POST", `/users/${viewer.id}/access-keys`, { expiresInDays: 1 })).json.key as string;
    await page().getByRole("button", { name: "Sign out" }).click();
    await page().getByLabel("Access key").fill(key);
    await page().getByRole("button", { name: "Sign in" }).click();
    await page().getByRole("button", { name: "Sign out" }).waitFor();
    await page().getByRole("link", { name: "Members" }).click();
    await page().getByText("Only owners of Apps and organisation owners change members").waitFor();
    assert.ok(await page().getByLabel("Role of support-app").isDisabled());
    assert.equal(await page().getByRole("button", { name: "Add member" }).count(), 0);
    await h.check("people-07-members-viewer");
    await page().getByRole("link", { name: "People and keys" }).click();
    await page().getByText("Only organisation owners list, add and deactivate users").waitFor();
    // A person holds one live key, and this one is it: Create is disabled with the reason.
    await page().getByText("the most a human user may hold").waitFor();
    assert.ok(await page().getByRole("button", { name: "Create key" }).isDisabled());
    await h.check("people-08-own-keys-viewer");
    await page().goto(`/estate/flows/${deploymentId}?project=${projectId}`);
    assert.ok(await page().getByRole("button", { name: "Create a key to call this deployment" }).isDisabled());
    await page().getByText("Only organisation owners create machine users").waitFor();
  });
});
