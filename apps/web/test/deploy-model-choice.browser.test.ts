import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Locator } from "playwright-core";
import { loadStarters, startersSkipReason } from "@flowplane/testkit";
import { chromiumMissing } from "./browser.js";
import { signIn, startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";
import { until } from "./until.js";

/**
 * A Langflow 1.13 export with no model selected (the "Basic Prompting" starter, unchanged) deployed
 * through the Deploy dialog: the dialog asks for the model choice `MODEL_<node>` and then for the
 * chosen provider's key as a credential (a password field, masked in Review, never echoed), both
 * checked by the server's dry run; the deployment then calls the model with that key.
 */
describe("web UI: deploying a flow exported without a model (browser)", { skip: chromiumMissing() || startersSkipReason(), timeout: 240_000 }, () => {
  const KEY = "sk-browser-chosen-key";
  const BUNDLE = "basic-prompting";
  let h: Harness;
  let projectId: string;
  let flowId: string;
  let choice: string;
  let dialog: Locator;
  let next: Locator;
  const page = () => h.page;

  before(async () => {
    h = await startHarness("web-model");
    projectId = (await api(h.server, "POST", "/projects", { name: "Models" })).json.id;
    const starter = loadStarters().find((s) => s.name === "Basic Prompting");
    assert.ok(starter);
    flowId = String(starter.raw.id);
    const r = await api(h.server, "POST", "/bundles", { name: BUNDLE, versionTag: "v1", accessLevel: "global", flows: [starter.raw] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const model = (r.json.parameters as { name: string; kind: string }[]).filter((p) => p.kind === "model");
    assert.equal(model.length, 1, "one deploy-time model choice");
    choice = model[0]!.name;
    assert.match(choice, /^MODEL_LANGUAGEMODELCOMPONENT_/);
    assert.equal((r.json.parameters as { kind: string }[]).filter((p) => p.kind === "credential").length, 0, "no credential until a provider is chosen");
    await signIn(h);
  });
  after(async () => {
    await h?.close();
  });

  it("step 1: + Add Flow in Estate > Flows opens the dialog for the starter", async () => {
    await page().getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Flows", exact: true }).click();
    await page().getByRole("button", { name: "Add Flow" }).click();
    const pick = page().getByRole("dialog", { name: "Add Flow" });
    await pick.getByRole("button", { name: new RegExp(BUNDLE) }).click();
    dialog = page().getByRole("dialog", { name: `Deploy ${BUNDLE}` });
    next = dialog.getByRole("button", { name: "Next" });
    await dialog.getByLabel("Display Name").fill("Prompting");
    await until(() => next.isEnabled(), "Next enabled");
    await next.click();
    await dialog.getByRole("heading", { name: "Step 2 of 4: Credentials" }).waitFor();
  });

  it("step 2: the model choice is required and checked by the server; no key is asked before a provider is chosen", async () => {
    const model = dialog.getByLabel(choice);
    assert.equal(await model.inputValue(), "");
    assert.equal(await dialog.getByRole("group", { name: /Credentials/ }).count(), 0, "no credential field yet");
    assert.equal(await next.isDisabled(), true);
    await model.fill("Nope/x");
    await dialog.getByText('"Nope" is not a Langflow model provider').waitFor();
    assert.equal(await model.getAttribute("aria-invalid"), "true");
    await model.fill("gpt-4o-mini");
    await dialog.getByText('"gpt-4o-mini" is not a model choice: write <provider>/<model>').waitFor();
    await h.check("40-model-choice-invalid");
  });

  it("step 2: choosing a provider asks for that provider's key, a password field the server requires", async () => {
    const model = dialog.getByLabel(choice);
    await model.fill("Anthropic/claude-3-5-haiku");
    await dialog.getByLabel("ANTHROPIC_API_KEY").waitFor();
    await model.fill("OpenAI/gpt-4o-mini");
    const key = dialog.getByLabel("OPENAI_API_KEY");
    await key.waitFor();
    await until(async () => (await dialog.getByLabel("ANTHROPIC_API_KEY").count()) === 0, "the Anthropic key field goes with the Anthropic choice");
    assert.equal(await key.getAttribute("type"), "password");
    assert.match((await dialog.getByText(/The OpenAI key, for the model chosen in/).textContent()) ?? "", new RegExp(choice));
    await until(() => next.isDisabled(), "Next disabled without the key");
    await key.fill("x");
    await key.fill("");
    await dialog.getByText("a value for credential OPENAI_API_KEY is required").waitFor();
    assert.equal(await key.getAttribute("aria-invalid"), "true", "the server's message is beside the key field");
    await h.check("41-model-choice-key-missing");
    await key.fill(KEY);
    await until(() => next.isEnabled(), "Next enabled with a model and its key");
    await h.check("42-model-choice-key");
    await next.click();
    await dialog.getByRole("heading", { name: "Step 3 of 4: Task Configuration" }).waitFor();
    await dialog.getByRole("textbox", { name: "Replicas" }).fill("1");
    await until(() => next.isEnabled(), "Next enabled");
    await next.click();
  });

  it("step 4: Review shows the choice and the key masked; the key is nowhere on the page", async () => {
    await dialog.getByRole("heading", { name: "Step 4 of 4: Review" }).waitFor();
    const deploy = dialog.getByRole("button", { name: "Deploy" });
    await until(() => deploy.isEnabled(), "Deploy enabled (the review dry run passes)");
    const text = (await dialog.textContent()) ?? "";
    for (const shown of [choice, "OpenAI/gpt-4o-mini", "OPENAI_API_KEY", "••••••••"]) assert.ok(text.includes(shown), `Review shows ${shown}`);
    assert.ok(!(await page().content()).includes(KEY), "the key is not in the page");
    await h.check("43-model-choice-review");
    // Back to step 2 and clear the key: Review flags it missing and Deploy is disabled.
    await dialog.getByRole("button", { name: "Edit Credentials" }).click();
    await dialog.getByLabel("OPENAI_API_KEY").fill("");
    await dialog.getByRole("navigation", { name: "Deploy steps" }).getByRole("button", { name: "Review" }).click();
    await dialog.getByText("Missing: a value is required").waitFor();
    await until(() => deploy.isDisabled(), "Deploy disabled without the key");
    await dialog.getByRole("button", { name: "Edit Credentials" }).click();
    await dialog.getByLabel("OPENAI_API_KEY").fill(KEY);
    await dialog.getByRole("navigation", { name: "Deploy steps" }).getByRole("button", { name: "Review" }).click();
    await until(() => deploy.isEnabled(), "Deploy enabled again");
    await deploy.click();
    await page().waitForURL(/\/estate\/flows\/[0-9a-f-]+\?project=/);
  });

  it("the deployment holds the key as a credential and the model is called with it", async () => {
    const id = new URL(page().url()).pathname.split("/").pop()!;
    const d = await until(async () => {
      const r = (await api(h.server, "GET", `/projects/${projectId}/deployments/${id}`)).json;
      return r.status.phase === "Ready" ? r : r.status.phase === "Failed" ? assert.fail(JSON.stringify(r.status)) : null;
    }, "the deployment Ready", 120_000);
    assert.deepEqual(d.credentials, { OPENAI_API_KEY: "********" }, "the API shows the credential by name, masked");
    assert.equal(d.parameters[choice], "OpenAI/gpt-4o-mini");
    assert.ok(!JSON.stringify(d).includes(KEY), "the API never answers the key");
    const before = h.llm.requests.length;
    const res = await fetch(`${d.endpoints.http}/api/v1/run/${flowId}`, {
      method: "POST",
      headers: { "x-access-key": h.server.adminKey, "content-type": "application/json" },
      body: JSON.stringify({ input_value: "Hello from the dialog", input_type: "chat", output_type: "chat" }),
    });
    const body = await res.text();
    assert.equal(res.status, 200, body);
    const calls = h.llm.requests.slice(before).filter((q) => q.path.endsWith("/chat/completions"));
    assert.ok(calls.length > 0, "the model was called");
    for (const q of calls) {
      assert.equal(q.headers.authorization, `Bearer ${KEY}`, "the key given in the dialog reached the model");
      assert.equal(q.body.model, "gpt-4o-mini", "the model chosen in the dialog");
    }
    // The details page shows the choice beside the stored key (never its value).
    await page().getByRole("heading", { name: "Prompting" }).waitFor();
    await until(async () => (await page().getByLabel(choice).inputValue()) === "OpenAI/gpt-4o-mini", "the model choice on the details page");
    await page().getByText("Ready", { exact: true }).first().waitFor();
    assert.ok(!(await page().content()).includes(KEY), "the key is not on the details page");
    await h.check("44-model-choice-deployed");
  });
});
