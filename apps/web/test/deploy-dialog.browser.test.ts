import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Locator } from "playwright-core";
import { loadFixture } from "@flowplane/testkit";
import { chromiumMissing } from "./browser.js";
import { signIn, startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";
import { until } from "./until.js";

/**
 * The Deploy dialog's rules (DESIGN 3), step by step: Next stays disabled until the server
 * says the step is valid, the server's messages sit beside the fields, credentials are
 * password fields, Review masks them and flags a missing one, any reached step can be
 * revisited, and the dialog works from the keyboard and in a narrow window.
 */
describe("web UI: the Deploy dialog's step rules (browser)", { skip: chromiumMissing(), timeout: 180_000 }, () => {
  let h: Harness;
  let projectId: string;
  let dialog: Locator;
  let next: Locator;
  const dryRuns: string[] = [];
  /** The runtime.tweaksPolicy each dry run sent (the draft's mapping to the request). */
  const sentTweaks: unknown[] = [];
  const step = (name: string) => dialog.getByRole("navigation", { name: "Deploy steps" }).getByRole("button", { name });
  const enabled = (l: Locator, what: string) => until(() => l.isEnabled(), what);
  const disabled = (l: Locator, what: string) => until(() => l.isDisabled(), what);
  /** An error message shown beside a field, tied to it for assistive technology. */
  const fieldError = async (label: string, message: string) => {
    const field = dialog.getByLabel(label);
    await until(async () => {
      if ((await field.getAttribute("aria-invalid")) !== "true") return false;
      const id = await field.getAttribute("aria-describedby");
      return id !== null && ((await h.page.locator(`[id="${id}"]`).textContent()) ?? "").includes(message);
    }, `"${message}" beside ${label}`);
  };

  before(async () => {
    h = await startHarness("web-dialog");
    projectId = (await api(h.server, "POST", "/projects", { name: "Team" })).json.id;
    const r = await api(h.server, "POST", "/bundles", { name: "memory-chatbot", versionTag: "v1", accessLevel: "global", flows: [loadFixture("memory-chatbot")] });
    assert.equal(r.status, 201);
    h.page.on("request", (req) => {
      if (!req.url().includes("dryRun=true")) return;
      dryRuns.push(new URL(req.url()).searchParams.get("step") ?? "");
      sentTweaks.push((req.postDataJSON() as { runtime?: { tweaksPolicy?: unknown } } | null)?.runtime?.tweaksPolicy);
    });
    await signIn(h);
  });
  after(async () => {
    await h?.close();
  });

  it("+ Add Flow in Estate > Flows: pick a published flow, then the dialog opens", async () => {
    await h.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Flows", exact: true }).click();
    await h.page.getByText("No flows deployed in this project").waitFor();
    await h.check("20-estate-flows-empty");
    await h.page.getByRole("button", { name: "Add Flow" }).click();
    const pick = h.page.getByRole("dialog", { name: "Add Flow" });
    await pick.getByRole("button", { name: /memory-chatbot/ }).waitFor();
    await h.check("21-add-flow-pick");
    await pick.getByRole("button", { name: /memory-chatbot/ }).click();
    dialog = h.page.getByRole("dialog", { name: "Deploy memory-chatbot" });
    next = dialog.getByRole("button", { name: "Next" });
    await dialog.getByRole("heading", { name: "Step 1 of 4: Configure" }).waitFor();
  });

  it("step 1: Next is disabled until the server accepts the name; its message is beside the field", async () => {
    // A pristine empty field is not shouted at: Next is disabled and the footer says why.
    await dialog.getByText("Fill in the required fields (*)").waitFor();
    assert.equal(await dialog.getByText("displayName is required").count(), 0);
    assert.equal(await next.isDisabled(), true);
    await dialog.getByLabel("Display Name").fill("x");
    await dialog.getByLabel("Display Name").fill("");
    await fieldError("Display Name", "displayName is required");
    await dialog.getByLabel("Display Name").fill("x".repeat(64));
    await fieldError("Display Name", "displayName must be at most 63 characters");
    await disabled(next, "Next disabled for a long name");
    await h.check("22-dialog-1-configure-invalid");
    await dialog.getByLabel("Display Name").fill("Team Bot");
    await enabled(next, "Next enabled");
    assert.ok(dryRuns.includes("configure"), "step 1 is validated by the server's dry run");
    assert.deepEqual(await dialog.getByRole("radio").evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value)), ["public", "private"]);
    // From the keyboard: focus Next and press Enter.
    await next.focus();
    await h.page.keyboard.press("Enter");
    await dialog.getByRole("heading", { name: "Step 2 of 4: Credentials" }).waitFor();
  });

  it("step 2: a credential is a password field and is required before Next", async () => {
    const cred = dialog.getByLabel("OPENAI_API_KEY");
    assert.equal(await cred.getAttribute("type"), "password");
    await disabled(next, "Next disabled without the credential");
    await cred.fill("s");
    await cred.fill("");
    await fieldError("OPENAI_API_KEY", "a value for credential OPENAI_API_KEY is required");
    assert.equal(await next.isDisabled(), true);
    await h.check("23-dialog-2-credentials-missing");
    await cred.fill("sk-secret-value");
    await enabled(next, "Next enabled with the credential");
    await h.check("24-dialog-2-credentials");
    await next.click();
  });

  it("step 3: replicas, CPU and memory are checked by the server, each message beside its field", async () => {
    await dialog.getByRole("heading", { name: "Step 3 of 4: Task Configuration" }).waitFor();
    assert.equal(await dialog.getByLabel("CPU request").inputValue(), "500m", "defaults from DESIGN 3");
    assert.equal(await dialog.getByLabel("Memory limit").inputValue(), "1Gi");
    await dialog.getByLabel("Replicas").fill("9");
    await fieldError("Replicas", "replicas must be at most 5");
    await disabled(next, "Next disabled for 9 replicas");
    await dialog.getByLabel("CPU request").fill("lots");
    await fieldError("CPU request", '"lots" is not a Kubernetes quantity');
    await dialog.getByLabel("Memory request").fill("2Gi");
    await fieldError("Memory request", "request 2Gi exceeds limit 1Gi");
    await h.check("25-dialog-3-task-invalid");
    await dialog.getByLabel("Replicas").fill("2");
    await dialog.getByLabel("CPU request").fill("250m");
    await dialog.getByLabel("Memory request").fill("256Mi");
    await enabled(next, "Next enabled with valid resources");
    assert.ok(dryRuns.includes("task"));
    await h.check("26-dialog-3-task");
    await next.click();
  });

  it("step 4: Review shows every setting with the credential masked", async () => {
    await dialog.getByRole("heading", { name: "Step 4 of 4: Review" }).waitFor();
    const text = (await dialog.textContent()) ?? "";
    for (const shown of ["Team Bot", "Team", "memory-chatbot", "Public", "Auto (native)", "info", "60 s", "Permissive (default)", "2", "250m / 1000m", "256Mi / 1Gi", "••••••••"]) {
      assert.ok(text.includes(shown), `Review shows ${shown}`);
    }
    assert.ok(!text.includes("sk-secret-value"), "the credential is masked");
    await enabled(dialog.getByRole("button", { name: "Deploy" }), "Deploy enabled");
    await h.check("27-dialog-4-review");
  });

  it("goes back to any step, and a credential cleared there is flagged missing in Review", async () => {
    await step("Configure").click();
    await dialog.getByRole("heading", { name: "Step 1 of 4: Configure" }).waitFor();
    assert.equal(await dialog.getByLabel("Display Name").inputValue(), "Team Bot", "values are kept");
    // Inputs and outputs: off by default; checked here, Review says so, and a bad cut is named there.
    const keep = dialog.getByRole("checkbox", { name: "Keep inputs and outputs with each run's trace" });
    assert.equal(await keep.isChecked(), false);
    assert.equal(await dialog.getByLabel("Longest value kept (characters)").isDisabled(), true);
    await keep.check();
    await dialog.getByLabel("Longest value kept (characters)").fill("500");
    await step("Review").click();
    await dialog.getByText("kept with traces, each value cut to 500 characters, credentials redacted").waitFor();
    await step("Configure").click();
    await dialog.getByLabel("Longest value kept (characters)").fill("5");
    await step("Review").click();
    await dialog.getByText("io.maxChars must be at least 16").waitFor();
    await step("Configure").click();
    await dialog.getByLabel("Longest value kept (characters)").fill("2048");
    await keep.uncheck();
    await step("Review").click();
    await dialog.getByText("io.maxChars must be at least 16").waitFor({ state: "detached" });
    await dialog.getByText("not kept", { exact: true }).waitFor();
    // Tweaks: permissive by default and sent so; Off is sent as runtime.tweaksPolicy and shown in Review.
    assert.ok(sentTweaks.length > 0 && !sentTweaks.some((t) => t !== "permissive"), `every dry run so far sent permissive: ${JSON.stringify(sentTweaks)}`);
    await step("Configure").click();
    const tweaks = dialog.getByLabel("Tweaks", { exact: true });
    assert.equal(await tweaks.inputValue(), "permissive");
    await tweaks.selectOption("off");
    await dialog.getByText("No tweaks at all; a run request's input and session id still reach the flow.").waitFor();
    await until(async () => sentTweaks.at(-1) === "off", "a dry run sends runtime.tweaksPolicy off");
    await step("Review").click();
    await dialog.locator(".review-row", { hasText: "Tweaks" }).getByText("Off", { exact: true }).waitFor();
    await dialog.getByRole("button", { name: "Edit Credentials" }).click();
    await dialog.getByLabel("OPENAI_API_KEY").fill("");
    await step("Review").click();
    await dialog.getByText("Missing: a value is required").waitFor();
    await disabled(dialog.getByRole("button", { name: "Deploy" }), "Deploy disabled with a missing credential");
    assert.match((await dialog.locator(".step-flagged").textContent()) ?? "", /Credentials/, "the step indicator flags the step");
    await h.check("28-dialog-4-review-missing");
    await h.checkNarrow("28-dialog-4-review-missing");
  });

  it("Escape closes the dialog and nothing was deployed: the dialog only validated", async () => {
    await h.page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    assert.deepEqual((await api(h.server, "GET", `/projects/${projectId}/deployments`)).json.items, []);
  });

  it("signs out: the key is forgotten and the sign-in page returns", async () => {
    await h.page.getByRole("button", { name: "Sign out" }).click();
    await h.page.getByRole("heading", { name: "Sign in to flowplane" }).waitFor();
    assert.equal(await h.page.evaluate(() => sessionStorage.length), 0);
    await h.page.reload();
    await h.page.getByRole("heading", { name: "Sign in to flowplane" }).waitFor();
  });

  it("a sign-in link whose next page is not this app's lands on Published Flows, not on a blank page", async () => {
    const errors: string[] = [];
    h.page.on("pageerror", (e) => errors.push(e.message));
    // A tab or a newline is dropped by the URL parser: "/\t/elsewhere.example" is "//elsewhere.example".
    for (const next of ["//elsewhere.example/x", "javascript:alert(1)", "https://elsewhere.example/", "/\\elsewhere.example", "/\t/elsewhere.example", "/\n/elsewhere.example", "/\\\t\\elsewhere.example"]) {
      await h.page.goto(`/sign-in?next=${encodeURIComponent(next)}`);
      await h.page.getByLabel("Access key").fill(h.server.adminKey);
      await h.page.getByRole("button", { name: "Sign in" }).click();
      await h.page.getByRole("heading", { name: "Published Flows", exact: true }).waitFor();
      assert.equal(new URL(h.page.url()).origin, h.server.url, next);
      await h.page.getByRole("button", { name: "Sign out" }).click();
      await h.page.getByRole("heading", { name: "Sign in to flowplane" }).waitFor();
    }
    assert.deepEqual(errors, []);
  });
});
