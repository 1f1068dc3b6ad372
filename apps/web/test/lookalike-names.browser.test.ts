import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { chromiumMissing } from "./browser.js";
import { signIn, startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";

/**
 * Another team's global bundle named to pass for one the reader trusts. Publish refuses the
 * invisible characters and mixed scripts (core/src/api/names.ts), but not what reads alike in
 * one script: `Support-Bot` or `supp0rt-bot` beside `support-bot` (nor names published before
 * that rule). The Asset Library drew them alike, each with its Deploy button. Each look-alike is
 * flagged, written out and named with its publisher, in the library and in Estate's Add Flow
 * picker; a name like no other is not.
 */
describe("web UI: look-alike bundle names (browser)", { skip: chromiumMissing(), timeout: 300_000 }, () => {
  let h: Harness;
  const CASE = "Support-Bot";
  const DIGIT = "supp0rt-bot";
  /** Joined emoji and a presentation selector: what publish accepts is not flagged for them. */
  const EMOJI = "\u{1F469}\u200D\u{1F4BB} dev \u2764\uFE0F";

  before(async () => {
    h = await startHarness("web-lookalike");
    const support = (await api(h.server, "POST", "/projects", { name: "Support" })).json.id as string;
    const other = (await api(h.server, "POST", "/projects", { name: "Elsewhere" })).json.id as string;
    const publish = async (name: string, projectId: string) => {
      const r = await api(h.server, "POST", "/bundles", { name, versionTag: "v1", accessLevel: "global", projectId, description: "The support team's bot", flows: [loadFixture("simple-chat-no-llm")] });
      assert.equal(r.status, 201, JSON.stringify(r.json));
    };
    await publish("support-bot", support);
    await publish(CASE, other);
    await publish(DIGIT, other);
    await publish("billing", support);
    await publish(EMOJI, support);
    await signIn(h);
  });
  after(async () => {
    await h?.close();
  });

  const noteOf = (name: string) => h.page.locator(`tr[data-bundle="${name}"] [data-lookalike]`);

  it("flags each look-alike in the library with its name written out and its publisher", async () => {
    await h.page.locator("tr[data-bundle]").nth(4).waitFor();
    assert.match(await noteOf(CASE).innerText(), /Look-alike name\s+Support-Bot · published by Elsewhere/);
    assert.match(await noteOf(DIGIT).innerText(), /Look-alike name\s+supp0rt-bot · published by Elsewhere/);
    // The one it imitates is flagged too: the reader sees there are several, and whose each is.
    assert.match(await noteOf("support-bot").innerText(), /Look-alike name\s+support-bot · published by Support/);
    assert.equal(await noteOf("billing").count(), 0, "a name like no other is not flagged");
    assert.equal(await noteOf(EMOJI).count(), 0, "nor a name with joined emoji");
    await h.check("lookalike-names");
  });

  it("flags them in Estate's Add Flow picker too", async () => {
    await h.page.goto("/estate/flows");
    await h.page.getByRole("button", { name: /Add Flow/ }).first().click();
    const picker = h.page.getByRole("list", { name: "Published flows" });
    await picker.waitFor();
    const notes = await picker.locator("[data-lookalike]").allInnerTexts();
    assert.equal(notes.length, 3, notes.join("\n"));
    assert.ok(notes.some((t) => t.includes("supp0rt-bot")), notes.join("\n"));
  });
});
