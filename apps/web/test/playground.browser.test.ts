import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { chromiumMissing } from "./browser.js";
import { signIn, startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";
import { until } from "./until.js";

/**
 * The deployment page draws the flow it runs (React Flow, read-only, at the editor's positions).
 * The playground on that page: memory-chatbot (Langflow's Memory Chatbot export, a
 * model behind a chat memory) answers through the real gateway and replica, streamed; the turns
 * share a session id, so the model's second call carries the first exchange; "New conversation"
 * starts a fresh history; errors from the deployment are shown, not swallowed.
 */
describe("web UI: a deployment's flow graph, and the playground calling it through the gateway (browser)", { skip: chromiumMissing(), timeout: 240_000 }, () => {
  let h: Harness;
  let projectId: string;
  let deploymentId: string;
  const page = () => h.page;
  /** Every message the model was sent in call `i` (Memory Chatbot puts the history into its prompt). */
  const userTexts = (i: number) => ((h.llm.requests[i]?.body.messages ?? []) as { role: string; content: unknown }[])
    .map((m) => JSON.stringify(m.content));

  before(async () => {
    h = await startHarness("web-playground");
    projectId = (await api(h.server, "POST", "/projects", { name: "Chat" })).json.id;
    const published = await api(h.server, "POST", "/bundles", { name: "chatbot", versionTag: "v1", accessLevel: "global", flows: [loadFixture("memory-chatbot")] });
    assert.equal(published.status, 201, JSON.stringify(published.json));
    const d = await api(h.server, "POST", `/projects/${projectId}/deployments`, {
      displayName: "Chatbot", bundle: { name: "chatbot", version: "v1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-playground" },
    });
    assert.equal(d.status, 201, JSON.stringify(d.json));
    deploymentId = d.json.id;
    await until(async () => (await api(h.server, "GET", `/projects/${projectId}/deployments/${deploymentId}`)).json.status.phase === "Ready", "Chatbot Ready", 120_000);
    await signIn(h);
  });
  after(async () => {
    await h?.close();
  });

  const send = async (text: string) => {
    const box = page().getByLabel(/^Message/);
    await box.fill(text);
    await page().getByRole("button", { name: "Send" }).click();
    const answers = page().locator(".chat-answer");
    const n = await answers.count();
    await until(async () => (await answers.nth(n - 1).getAttribute("data-answer")) === "done", `the answer to "${text}"`, 60_000);
    return answers.nth(n - 1);
  };

  it("draws the flow: every component of the export, by name and type, and the edges between them", async () => {
    await page().goto(`/estate/flows/${deploymentId}?project=${projectId}`);
    const raw = loadFixture("memory-chatbot") as { data: { nodes: { type: string; data: { type: string; node: { display_name: string } } }[]; edges: unknown[] } };
    const components = raw.data.nodes.filter((n) => n.type !== "noteNode");
    const graph = page().getByRole("figure", { name: /Memory Chatbot: \d+ components/ });
    await graph.waitFor({ timeout: 30_000 });
    const cards = graph.locator(".graph-node");
    await until(async () => (await cards.count()) === components.length, `${components.length} component cards`, 15_000);
    const types = (await cards.evaluateAll((els) => els.map((e) => e.getAttribute("data-component-type")))).sort();
    assert.deepEqual(types, components.map((n) => n.data.type).sort());
    for (const n of components) await graph.getByText(n.data.node.display_name, { exact: true }).first().waitFor();
    assert.equal(await graph.locator(".react-flow__edge").count(), raw.data.edges.length);
    await h.check("69-flow-graph");
  });

  it("answers a message, streamed from the deployment, with the call's request id", async () => {
    await page().getByRole("heading", { name: "Playground" }).waitFor();
    const calls = h.llm.requests.length;
    const answer = await send("hello from the playground");
    // The fake model answers with the last user message: this text came back from the model.
    assert.match(await answer.innerText(), /hello from the playground/);
    assert.equal(h.llm.requests.length, calls + 1, "one model call");
    assert.equal(h.llm.requests.at(-1)?.headers.authorization, "Bearer sk-playground", "the deployment's credential, not anything of the browser's");
    assert.match(await page().locator(".chat-meta").first().innerText(), /request [0-9a-f-]{8,}/);
    await h.check("70-playground-answer");
  });

  it("keeps the conversation: the second turn's model call carries the first exchange", async () => {
    const calls = h.llm.requests.length;
    await send("and a second message");
    const texts = userTexts(calls);
    assert.ok(texts.some((t) => t.includes("hello from the playground")), `the memory has the first turn: ${texts.join(" | ")}`);
    assert.ok(texts.some((t) => t.includes("and a second message")));
  });

  it("starts a new conversation with a new session: the history is gone", async () => {
    const before = await page().locator("[data-session-id]").innerText();
    await page().getByRole("button", { name: "New conversation" }).click();
    assert.equal(await page().locator(".chat-answer").count(), 0);
    assert.notEqual(await page().locator("[data-session-id]").innerText(), before);
    const calls = h.llm.requests.length;
    await send("a fresh start");
    const texts = userTexts(calls);
    assert.ok(!texts.some((t) => t.includes("hello from the playground")), `no history from the earlier session: ${texts.join(" | ")}`);
  });

  it("shows why a run failed: the model server is gone, the flow's error reaches the page", async () => {
    await h.llm.close(); // the harness closes it again at the end: a second close is harmless
    const answer = await send("is anyone there?");
    assert.match(await answer.getAttribute("class") ?? "", /chat-error/);
    const text = await answer.getByRole("alert").innerText();
    assert.ok(text.length > 0 && !/^HTTP \d+$/.test(text), `a message, not a bare status: ${text}`);
    await h.check("71-playground-error");
  });

  it("says why it cannot send to a disabled deployment, and does not", async () => {
    const r = await api(h.server, "POST", `/projects/${projectId}/deployments/${deploymentId}/disable`, {});
    assert.equal(r.status, 200, JSON.stringify(r.json));
    await page().getByText(/This deployment is disabled/).first().waitFor({ timeout: 15_000 });
    assert.equal(await page().getByRole("button", { name: "Send" }).isDisabled(), true);
    assert.equal(await page().getByLabel(/^Message/).isDisabled(), true);
  });

  it("draws a published version's flow from Asset Library > Published Flows, in a dialog", async () => {
    await page().getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Published Flows" }).click();
    await page().getByRole("button", { name: "Versions of chatbot" }).click();
    await page().getByRole("button", { name: "View the flow Memory Chatbot of chatbot v1" }).click();
    const dialog = page().getByRole("dialog", { name: "Memory Chatbot (chatbot v1)" });
    const graph = dialog.getByRole("figure", { name: /Memory Chatbot: \d+ components/ });
    await graph.waitFor({ timeout: 30_000 });
    const raw = loadFixture("memory-chatbot") as { data: { nodes: { type: string }[] } };
    await until(async () => (await graph.locator(".graph-node").count()) === raw.data.nodes.filter((n) => n.type !== "noteNode").length, "every component card", 15_000);
    await h.check("72-published-flow-graph");
    await page().keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
  });
});
