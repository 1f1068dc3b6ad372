import { spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromiumMissing } from "./browser.js";
import { flowFiles } from "./fixtures.js";
import { signIn, startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";
import { until } from "./until.js";

/**
 * The whole story in the browser, against the real server: sign in with the admin key, create
 * a project, publish through the upload form, deploy through the dialog, watch it become Ready
 * in Estate > Flows without a reload, call its endpoint, edit a credential, change the
 * version, undeploy. Every page is screenshotted and checked with axe-core.
 */
describe("web UI: publish, deploy, operate, undeploy (browser)", { skip: chromiumMissing(), timeout: 300_000 }, () => {
  let h: Harness;
  let files: { v1: string; v2: string };
  let projectId: string;
  let deploymentId: string;
  let httpUrl: string;
  let appKey: string;
  const page = () => h.page;
  const deployment = async () => (await api(h.server, "GET", `/projects/${projectId}/deployments/${deploymentId}`)).json;
  const run = () => fetch(`${httpUrl}/flows`, { headers: { "x-access-key": appKey } })
    .then((r) => r.json() as Promise<{ id: string }[]>)
    .then((flows) => fetch(`${httpUrl}/flows/${flows[0]!.id}/run`, {
      method: "POST", headers: { "x-access-key": appKey, "content-type": "application/json" }, body: JSON.stringify({ input_value: "hello from the test" }),
    }))
    .then((r) => r.json() as Promise<{ success: boolean; result: string }>);
  /** The rollout of the current generation is done and Ready, as the details page shows it. */
  const rolledOut = async (generation: number) => {
    await until(async () => {
      const d = await deployment();
      return d.generation === generation && d.status.observedGeneration === generation && d.status.phase === "Ready";
    }, `generation ${generation} Ready`, 90_000);
    await page().locator(".details-title [data-phase='Ready']").waitFor({ timeout: 10_000 });
  };

  before(async () => {
    h = await startHarness("web-lifecycle");
    files = await flowFiles(h.dir);
  });
  after(async () => {
    await h?.close();
  });

  it("signs in with the admin key (a wrong key is refused) and creates the first project", async () => {
    await page().goto("/");
    await page().getByRole("heading", { name: "Sign in to flowplane" }).waitFor();
    assert.match(page().url(), /\/asset-library\/published-flows$/, "/ redirects to Published Flows");
    await h.check("01-sign-in");
    await h.checkNarrow("01-sign-in");
    await page().getByLabel("Access key").fill("fp_not-a-key");
    await page().getByRole("button", { name: "Sign in" }).click();
    await page().getByText("This access key is not valid").waitFor();

    await signIn(h);
    await page().getByText("No published flows yet").waitFor();
    await page().getByLabel("Project").selectOption({ label: "+ New project…" });
    await page().getByRole("dialog", { name: "New project" }).waitFor();
    await h.check("02-new-project");
    await page().getByLabel("Project name").fill("Support");
    await page().getByRole("button", { name: "Create project" }).click();
    await page().getByRole("dialog").waitFor({ state: "detached" });
    const projects = (await api(h.server, "GET", "/projects")).json.items as { id: string; name: string }[];
    projectId = projects.find((p) => p.name === "Support")!.id;
    assert.equal(await page().getByLabel("Project").inputValue(), projectId, "the new project is selected");
    await h.check("03-published-flows-empty");
  });

  it("publishes two versions through the upload form; the server's rules show beside the fields", async () => {
    await page().getByRole("button", { name: "Add New Flow" }).click();
    const dialog = page().getByRole("dialog", { name: "Add New Flow" });
    await dialog.getByLabel("Langflow flow files").setInputFiles(files.v1);
    await until(async () => (await dialog.getByLabel("Name").inputValue()) === "memory-chatbot", "the name suggested from the flow");
    await dialog.getByText("Credential: no default, a value is given at deploy time.").waitFor();
    await dialog.getByLabel("Version tag").fill("latest");
    await dialog.getByRole("button", { name: "Publish" }).click();
    await dialog.getByText('"latest" is reserved').waitFor();
    assert.equal(await dialog.getByLabel("Version tag").getAttribute("aria-invalid"), "true", "the message is tied to the field");
    await h.check("04-add-new-flow-invalid");
    await dialog.getByLabel("Version tag").fill("v1");
    await dialog.getByRole("button", { name: "Publish" }).click();
    await dialog.waitFor({ state: "detached" });
    const row = page().locator("tr[data-bundle='memory-chatbot']");
    await row.getByText("v1", { exact: true }).waitFor();
    await row.getByText("OPENAI_API_KEY").waitFor();

    await page().getByRole("button", { name: "Add New Flow" }).click();
    await dialog.getByLabel("Langflow flow files").setInputFiles(files.v2);
    await dialog.getByLabel("Version tag").fill("v2");
    await dialog.getByLabel("Default for BOT_NAME").fill("Flowbot");
    await h.check("05-add-new-flow");
    await dialog.getByRole("button", { name: "Publish" }).click();
    await dialog.waitFor({ state: "detached" });
    await row.getByText("2 versions").waitFor();
    const v2 = (await api(h.server, "GET", "/bundles/memory-chatbot/versions/v2")).json;
    const params = v2.parameters.map((p: { name: string; kind: string; default?: string }) => [p.name, p.kind, p.default]).sort();
    assert.deepEqual(params, [["BOT_NAME", "plain", "Flowbot"], ["OPENAI_API_KEY", "credential", undefined]], "the default typed in the form was published");
    await page().getByRole("button", { name: "Versions of memory-chatbot" }).click();
    await page().getByRole("list", { name: "Versions of memory-chatbot" }).getByText("v1", { exact: true }).waitFor();
    await h.check("06-published-flows");
    await h.checkNarrow("06-published-flows");
  });

  it("deploys v1 through the four-step dialog and opens its details", async () => {
    await page().getByRole("button", { name: "Deploy memory-chatbot v1" }).click();
    const dialog = page().getByRole("dialog");
    const next = dialog.getByRole("button", { name: "Next" });
    await dialog.getByText("Fill in the required fields (*)").waitFor();
    assert.equal(await next.isDisabled(), true);
    await dialog.getByLabel("Display Name").fill("Support Bot");
    await until(() => next.isEnabled(), "Next enabled");
    await h.check("07-deploy-1-configure");
    await next.click();
    await dialog.getByLabel("OPENAI_API_KEY").fill("sk-one");
    await until(() => next.isEnabled(), "Next enabled");
    await next.click();
    await dialog.getByRole("textbox", { name: "Replicas" }).fill("1");
    await until(() => next.isEnabled(), "Next enabled");
    await next.click();
    await dialog.getByRole("heading", { name: "Step 4 of 4: Review" }).waitFor();
    const deploy = dialog.getByRole("button", { name: "Deploy" });
    await until(() => deploy.isEnabled(), "Deploy enabled");
    await deploy.click();
    await page().waitForURL(/\/estate\/flows\/[0-9a-f-]+\?project=/);
    deploymentId = new URL(page().url()).pathname.split("/").pop()!;
    await page().getByRole("heading", { name: "Support Bot" }).waitFor();
    await h.check("08-details-provisioning");
  });

  it("shows it in Estate > Flows, live, until Ready with 1/1 replicas, without a reload", async () => {
    await page().evaluate(() => ((window as unknown as { noReload: boolean }).noReload = true));
    await page().getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Flows", exact: true }).click();
    const row = page().locator("tr[data-deployment='Support Bot']");
    await row.waitFor();
    await row.locator("[data-phase='Ready']").waitFor({ timeout: 90_000 });
    assert.equal((await row.getByLabel("1 of 1 replicas ready").textContent())?.trim(), "1/1");
    assert.equal(await page().evaluate(() => (window as unknown as { noReload?: boolean }).noReload), true, "the page was never reloaded");
    await h.check("09-estate-flows");
    await h.checkNarrow("09-estate-flows");
  });

  it("details: endpoints with copy buttons and snippets; the endpoint answers a machine user's key", async () => {
    await page().getByRole("link", { name: "Support Bot" }).click();
    await page().getByRole("heading", { name: "Endpoints" }).waitFor();
    httpUrl = (await page().locator("[data-endpoint='http']").textContent())!.trim();
    const mcpUrl = (await page().locator("[data-endpoint='mcp']").textContent())!.trim();
    const d = await deployment();
    assert.equal(httpUrl, d.endpoints.http);
    assert.equal(mcpUrl, d.endpoints.mcp);
    await page().getByRole("button", { name: "Copy the HTTP endpoint URL" }).click();
    assert.equal(await page().evaluate(() => navigator.clipboard.readText()), httpUrl);
    const curl = await page().getByLabel("curl command", { exact: true }).textContent();
    assert.ok(curl?.includes(`'${httpUrl}/flows/`) && curl.includes("x-access-key: $FLOWPLANE_ACCESS_KEY"), curl ?? "");
    const mcp = JSON.parse((await page().getByLabel("MCP client configuration", { exact: true }).textContent())!);
    assert.equal(mcp.mcpServers[d.resourceName].url, mcpUrl);
    assert.ok(mcpUrl.endsWith("/mcp"), "the /mcp form of the MCP endpoint is the one shown");
    // Each client's snippet parses as what that client reads and points at the endpoint.
    const snippet = async (client: string) => {
      await page().getByLabel("Client", { exact: true }).selectOption(client);
      return (await page().getByLabel("MCP client configuration", { exact: true }).textContent())!;
    };
    const claude = JSON.parse(await snippet("claude-desktop")).mcpServers[d.resourceName];
    assert.ok(claude.args.includes(mcpUrl) && claude.env.FLOWPLANE_ACCESS_KEY, JSON.stringify(claude));
    const vscode = JSON.parse(await snippet("vscode")).servers[d.resourceName];
    assert.deepEqual([vscode.type, vscode.url], ["http", mcpUrl]);
    const python = await snippet("python");
    const parsed = spawnSync("python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read()); print('ok')"], { input: python, encoding: "utf8" });
    assert.equal(parsed.stdout.trim(), "ok", `${python}\n${parsed.stderr}`);
    assert.ok(python.includes(`URL = ${JSON.stringify(mcpUrl)}`), python);
    assert.equal(JSON.parse(await snippet("cursor")).mcpServers[d.resourceName].url, mcpUrl);
    const bot = (await api(h.server, "POST", "/users", { name: "support-app", kind: "machine" })).json.id;
    assert.equal((await api(h.server, "PUT", `/projects/${projectId}/members/${bot}`, { role: "viewer" })).status, 200);
    appKey = (await api(h.server, "POST", `/users/${bot}/access-keys`, { expiresInDays: 1 })).json.key;
    const out = await run();
    assert.equal(out.success, true);
    assert.match(out.result, /^Echo: /);
    assert.equal(h.llm.requests.at(-1)?.headers.authorization, "Bearer sk-one", "the credential given in the dialog reaches the flow");
    await h.check("10-details");
    await h.checkNarrow("10-details");
  });

  it("edits the credential (write-only): a new generation rolls out and the new key is used", async () => {
    const field = page().getByLabel("OPENAI_API_KEY");
    assert.equal(await field.getAttribute("type"), "password");
    assert.equal(await field.inputValue(), "", "the stored value is never shown");
    await field.fill("sk-two");
    await page().getByRole("button", { name: "Save and roll out" }).first().click();
    await page().getByText("generation 2 is rolling out").waitFor();
    await rolledOut(2);
    assert.equal(await field.inputValue(), "", "the field is emptied after saving");
    assert.ok(!(await page().content()).includes("sk-two"), "the credential is nowhere in the page");
    assert.equal((await run()).success, true);
    assert.equal(h.llm.requests.at(-1)?.headers.authorization, "Bearer sk-two");
    await page().getByText("credentials changed: OPENAI_API_KEY").waitFor();
  });

  it("changes the version after showing which parameters differ", async () => {
    await page().getByLabel("Change to").selectOption("v2");
    const diff = page().locator("tr[data-diff='BOT_NAME']");
    await diff.getByText("added").waitFor();
    await diff.getByText('default "Flowbot"').waitFor();
    await h.check("11-details-version-change");
    await page().getByRole("button", { name: "Change to v2" }).click();
    await rolledOut(3);
    await page().locator(".details-meta").getByText("v2", { exact: true }).waitFor();
    assert.equal((await deployment()).parameters.BOT_NAME, "Flowbot");
    assert.equal((await run()).success, true);
  });

  it("shows the server's message for a bad scale, beside the field", async () => {
    // Scoped to the Resources card: the page has several forms with Save and Discard buttons.
    const resources = page().getByRole("region", { name: "Resources" });
    await resources.getByRole("textbox", { name: "Replicas" }).fill("9");
    await resources.getByRole("button", { name: "Save and roll out" }).click();
    await resources.getByText("replicas must be at most 5").waitFor();
    assert.equal(await resources.getByRole("textbox", { name: "Replicas" }).getAttribute("aria-invalid"), "true");
    assert.equal((await deployment()).generation, 3, "nothing was changed");
    await resources.getByRole("button", { name: "Discard" }).click();
    assert.equal(await resources.getByRole("textbox", { name: "Replicas" }).inputValue(), "1", "Discard restores the deployed value");
  });

  it("disables it (kill switch): its endpoint answers 503 with Retry-After; Enable serves it again", async () => {
    await page().getByRole("button", { name: "Disable", exact: true }).click();
    const dialog = page().getByRole("dialog", { name: "Disable Support Bot?" });
    await dialog.waitFor();
    await h.check("12-disable-confirm");
    await dialog.getByRole("button", { name: "Disable", exact: true }).click();
    await page().getByText(/Disabled by admin .*calls through the gateway get 503/).waitFor();
    await page().locator(".details-title [data-phase='Disabled']").waitFor();
    await until(async () => (await fetch(`${httpUrl}/flows`, { headers: { "x-access-key": appKey } })).status === 503, "the endpoint answers 503", 10_000);
    const refused = await fetch(`${httpUrl}/flows`, { headers: { "x-access-key": appKey } });
    assert.equal(refused.headers.get("retry-after"), "300");
    await h.check("13-details-disabled");
    await page().getByRole("button", { name: "Enable", exact: true }).click();
    await page().locator(".details-title [data-phase='Ready']").waitFor({ timeout: 30_000 });
    assert.equal((await deployment()).disabled, null);
    await until(async () => (await fetch(`${httpUrl}/flows`, { headers: { "x-access-key": appKey } })).status === 200, "served again", 10_000);
    assert.equal((await run()).success, true);
  });

  it("undeploys after a confirmation; its routes answer 404 and it leaves the list", async () => {
    await page().getByRole("button", { name: "Undeploy" }).click();
    const confirm = page().getByRole("dialog", { name: "Undeploy Support Bot?" });
    await confirm.waitFor();
    await h.check("14-undeploy-confirm");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    assert.equal((await deployment()).deletionRequestedAt, null, "Cancel changes nothing");
    await page().getByRole("button", { name: "Undeploy" }).click();
    await confirm.getByRole("button", { name: "Undeploy" }).click();
    await page().getByText(/Undeploying|Undeployed/).first().waitFor();
    await until(async () => (await fetch(`${httpUrl}/flows`, { headers: { "x-access-key": appKey } })).status === 404, "the route answers 404", 60_000);
    await until(async () => (await deployment()).deletedAt !== null, "undeployed", 60_000);
    await page().getByText("Its record and events are kept for audit").waitFor({ timeout: 10_000 });
    await h.check("15-details-undeployed");
    await page().getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Flows", exact: true }).click();
    await page().getByText("No flows deployed in this project").waitFor();
    await h.check("16-estate-flows-empty");
  });
});
