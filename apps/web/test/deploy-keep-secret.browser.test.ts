import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import type { Locator } from "playwright-core";
import { chromiumMissing } from "./browser.js";
import { flowFiles } from "./fixtures.js";
import { signIn, startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";
import { until } from "./until.js";

/**
 * "Keep secret" in the Deploy dialog: a plain parameter (BOT_NAME, a plain text field) whose
 * value the deployer keeps secret is typed into a password field, sent under `credentials`
 * (never `parameters`), masked in Review, and held by the deployment as a credential; its
 * details page shows it kept secret, write-only.
 */
describe("web UI: keeping a plain parameter secret in the Deploy dialog (browser)", { skip: chromiumMissing(), timeout: 180_000 }, () => {
  const KEY = "sk-keep-secret-key-3141";
  const SECRET = "postgresql://app:keep-secret-2718@db/bot";
  const DEFAULT = "published-bot-name";
  let h: Harness;
  let projectId: string;
  let dialog: Locator;
  let next: Locator;
  /** The bodies of the dialog's POSTs to the deployments collection (dry runs and the deploy). */
  const bodies: { dryRun: boolean; body: { credentials?: Record<string, string>; parameters?: Record<string, string> } }[] = [];

  before(async () => {
    h = await startHarness("web-keep-secret");
    projectId = (await api(h.server, "POST", "/projects", { name: "Secrets" })).json.id;
    const { v2 } = await flowFiles(h.dir);
    const r = await api(h.server, "POST", "/bundles", { name: "bot", versionTag: "v1", accessLevel: "global", flows: [JSON.parse(await readFile(v2, "utf8"))], defaults: { BOT_NAME: DEFAULT } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.ok((r.json.parameters as { name: string; kind: string }[]).some((p) => p.name === "BOT_NAME" && p.kind === "plain"));
    h.page.on("request", (req) => {
      if (req.method() === "POST" && /\/deployments(\?|$)/.test(req.url())) bodies.push({ dryRun: req.url().includes("dryRun=true"), body: JSON.parse(req.postData() ?? "{}") });
    });
    await signIn(h);
  });
  after(async () => {
    await h?.close();
  });

  it("step 2: Keep secret turns the parameter into a password field whose value is sent under credentials", async () => {
    await h.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Flows", exact: true }).click();
    await h.page.getByRole("button", { name: "Add Flow" }).click();
    await h.page.getByRole("dialog", { name: "Add Flow" }).getByRole("button", { name: /bot/ }).click();
    dialog = h.page.getByRole("dialog", { name: "Deploy bot" });
    next = dialog.getByRole("button", { name: "Next" });
    await dialog.getByLabel("Display Name").fill("Secret Bot");
    await until(() => next.isEnabled(), "Next enabled");
    await next.click();
    await dialog.getByRole("heading", { name: "Step 2 of 4: Credentials" }).waitFor();
    await dialog.getByLabel("OPENAI_API_KEY").fill(KEY);
    const name = dialog.getByLabel("BOT_NAME", { exact: false });
    assert.equal(await name.inputValue(), DEFAULT, "in the clear, the published default is shown");
    const keep = dialog.getByRole("checkbox", { name: "Keep secret" });
    assert.equal(await keep.isChecked(), false);
    await keep.check();
    assert.equal(await dialog.getByLabel("BOT_NAME", { exact: false }).getAttribute("type"), "password");
    await dialog.getByLabel("BOT_NAME", { exact: false }).fill(SECRET);
    await until(async () => bodies.some((b) => b.dryRun && b.body.credentials?.BOT_NAME === SECRET), "a dry run with BOT_NAME under credentials");
    await until(() => next.isEnabled(), "Next enabled");
    await h.check("50-keep-secret");
    await next.click();
    await dialog.getByRole("heading", { name: "Step 3 of 4: Task Configuration" }).waitFor();
    await until(() => next.isEnabled(), "Next enabled");
    await next.click();
  });

  it("step 4: Review masks it like a credential; Deploy sends it under credentials only, and the deployment holds it as one", async () => {
    await dialog.getByRole("heading", { name: "Step 4 of 4: Review" }).waitFor();
    const deploy = dialog.getByRole("button", { name: "Deploy" });
    await until(() => deploy.isEnabled(), "Deploy enabled");
    assert.equal(await dialog.getByLabel("set, hidden").count(), 2, "OPENAI_API_KEY and BOT_NAME masked");
    assert.ok(((await dialog.textContent()) ?? "").includes("BOT_NAME"));
    assert.ok(!(await h.page.content()).includes(SECRET), "the value is not on the page");
    await deploy.click();
    await h.page.waitForURL(/\/estate\/flows\/[0-9a-f-]+\?project=/);
    const sent = bodies.filter((b) => !b.dryRun).at(-1)!.body;
    assert.equal(sent.credentials?.BOT_NAME, SECRET);
    assert.ok(!("BOT_NAME" in (sent.parameters ?? {})), "not under parameters");
    const id = new URL(h.page.url()).pathname.split("/").pop()!;
    const d = (await api(h.server, "GET", `/projects/${projectId}/deployments/${id}`)).json;
    assert.deepEqual(d.credentials, { OPENAI_API_KEY: "********", BOT_NAME: "********" });
    assert.ok(!("BOT_NAME" in d.parameters));
    // The details page: kept secret, write-only (its box checked, the field a password one, empty).
    const box = h.page.getByRole("checkbox", { name: "Keep secret" });
    await until(() => box.isChecked(), "Keep secret checked on the details page");
    assert.equal(await h.page.getByLabel("BOT_NAME", { exact: false }).getAttribute("type"), "password");
    assert.equal(await h.page.getByLabel("BOT_NAME", { exact: false }).inputValue(), "");
    assert.ok(!(await h.page.content()).includes(SECRET), "the value is not on the details page");
    await h.check("51-keep-secret-details");
  });
});
