import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isSecretField, parseFlow, type Flow } from "@flowplane/core";
import { loadFixture, loadStarters, startersSkipReason } from "@flowplane/testkit";
import { variableGuard } from "./langflow-v1.js";
import { ADDRESS_FIELD, secretHolders, secretNames } from "./secret-holders.js";
import { tweakProblems } from "./tweak-guard.js";

// Which components a secret of the deployment is in or reaches, and the two request guards built
// on it (variables and tweaks), on Langflow's own exports.

type Raw = { data: { nodes: { id: string; data: { node: { template: Record<string, Record<string, unknown>> } } }[] } };
const template = (raw: Raw, id: string) => raw.data.nodes.find((n) => n.id === id)!.data.node.template;
const bind = (name: string) => ({ type: "str", _input_type: "MessageTextInput", value: name, load_from_db: true });

/**
 * Langflow's Secret component feeding a Chat Output (a real export): the Chat Output is given a
 * webhook URL bound to a plain variable and its sender name to another, as a custom output
 * component would have.
 */
function secretIntoOutput(): Flow {
  const raw = structuredClone(loadFixture("env-variable-test")) as Raw;
  Object.assign(template(raw, "ChatOutput-u9cPC"), { webhook_url: bind("HOOK_URL"), sender_name: { ...template(raw, "ChatOutput-u9cPC").sender_name, value: "BOT_NAME", load_from_db: true } });
  return parseFlow(raw);
}

/**
 * A real export where a plain field feeds another component: simple-api-test's Text Input flows
 * into the Chat Output's sender name. The Text Input is bound to `variable` (TOKEN: plain in the
 * bundle, a deployer may keep it secret); the Chat Output gets a callback URL bound to CALLBACK_URL.
 */
function tokenIntoOutput(variable = "TOKEN"): Flow {
  const raw = structuredClone(loadFixture("simple-api-test")) as Raw;
  Object.assign(template(raw, "TextInput-eFiZp").input_value!, { value: variable, load_from_db: true });
  template(raw, "ChatOutput-J6aor").callback_url = bind("CALLBACK_URL");
  return parseFlow(raw);
}

describe("secretHolders", () => {
  it("a component with a secret field holds it, and every component its outputs reach is reached", () => {
    const h = secretHolders(secretIntoOutput(), []);
    assert.deepEqual([...h.holds], ["Secret-zIbKs"]);
    assert.deepEqual([...h.reached].sort(), ["ChatOutput-u9cPC", "Secret-zIbKs"]);
  });

  it("a plain parameter kept secret makes its users holders; without the name they are plain", () => {
    const flow = tokenIntoOutput();
    assert.deepEqual([...secretHolders(flow, []).reached], []);
    const h = secretHolders(flow, ["TOKEN"]);
    assert.deepEqual([...h.holds], ["TextInput-eFiZp"]);
    assert.deepEqual([...h.reached].sort(), ["ChatOutput-J6aor", "TextInput-eFiZp"]);
    assert.equal(secretHolders(flow, ["OTHER"]).reached.size, 0, "a name no component uses reaches nothing");
  });

  it("a component using a credential in a plain field holds it (a Text Input bound to OPENAI_API_KEY), and what it feeds is reached", () => {
    // simple-api-test with its Text Input bound to OPENAI_API_KEY, a credential of the flow (the
    // Chat Input, no longer wired to the output, binds it in a secret field), and a callback URL
    // on the Chat Output the Text Input feeds.
    const raw = structuredClone(loadFixture("simple-api-test")) as Raw & { data: { edges: { source: string }[] } };
    raw.data.edges = raw.data.edges.filter((e) => e.source !== "ChatInput-3OQi9");
    template(raw, "ChatInput-3OQi9").api_key = { type: "str", _input_type: "SecretStrInput", password: true, value: "OPENAI_API_KEY", load_from_db: true };
    Object.assign(template(raw, "TextInput-eFiZp").input_value!, { value: "OPENAI_API_KEY", load_from_db: true });
    template(raw, "ChatOutput-J6aor").callback_url = bind("CALLBACK_URL");
    const flow = parseFlow(raw);
    const h = secretHolders(flow, []);
    assert.deepEqual([...h.holds].sort(), ["ChatInput-3OQi9", "TextInput-eFiZp"], "the Text Input passes the key on");
    assert.ok(h.reached.has("ChatOutput-J6aor"));
    assert.deepEqual(variableGuard([flow])("CALLBACK_URL"), { ok: false, reason: "not_overridable" }, "the key would go where the caller says");
    assert.deepEqual(tweakProblems(flow, { "ChatOutput-J6aor": { callback_url: "http://127.0.0.1:9/x" } }).map((e) => e.field), ["tweaks.ChatOutput-J6aor.callback_url"]);
  });
});

describe("request variables and tweaks, with a secret upstream", () => {
  it("a variable bound to an address field of a component a secret reaches is refused; its other fields stay the caller's", () => {
    const check = variableGuard([secretIntoOutput()]);
    assert.deepEqual(check("HOOK_URL"), { ok: false, reason: "not_overridable" }, "the Secret's value would go where the caller says");
    assert.deepEqual(check("BOT_NAME"), { ok: true, name: "BOT_NAME" });
  });

  it("a tweak of such an address field is refused, on the component by id or by display name; a harmless one passes", () => {
    const flow = secretIntoOutput();
    const out = flow.nodes.find((n) => n.id === "ChatOutput-u9cPC")!;
    for (const key of [out.id, out.displayName]) {
      const refused = tweakProblems(flow, { [key]: { webhook_url: "http://127.0.0.1:9/steal" } });
      assert.deepEqual(refused.map((e) => e.field), [`tweaks.${key}.webhook_url`]);
    }
    assert.deepEqual(tweakProblems(flow, { [out.id]: { sender_name: "Someone" } }), []);
  });

  it("a kept-secret parameter is a credential to requests: not replaced, and what it reaches not redirected", () => {
    const flow = tokenIntoOutput();
    const open = variableGuard([flow]);
    assert.deepEqual([open("TOKEN"), open("CALLBACK_URL")], [{ ok: true, name: "TOKEN" }, { ok: true, name: "CALLBACK_URL" }], "plain when the deployment keeps neither");
    const kept = variableGuard([flow], ["TOKEN"]);
    assert.deepEqual(kept("TOKEN"), { ok: false, reason: "credential" });
    assert.deepEqual(kept("token"), { ok: false, reason: "credential" }, "matched as header names arrive, case-insensitively");
    assert.deepEqual(kept("CALLBACK_URL"), { ok: false, reason: "not_overridable" });
    assert.deepEqual(tweakProblems(flow, { "ChatOutput-J6aor": { callback_url: "http://127.0.0.1:9/x" } }), []);
    assert.deepEqual(tweakProblems(flow, { "ChatOutput-J6aor": { callback_url: "http://127.0.0.1:9/x" } }, ["TOKEN"]).map((e) => e.field), ["tweaks.ChatOutput-J6aor.callback_url"]);
    // Replacing the kept value itself reveals nothing (the caller's own text), as with a secret field.
    assert.deepEqual(tweakProblems(flow, { "TextInput-eFiZp": { input_value: "mine" } }, ["TOKEN"]), []);
  });
});

describe("a bundle of several flows", () => {
  it("a credential of one flow (memory-chatbot's model key) is secret where another flow binds it in a plain field", () => {
    const chatbot = parseFlow(structuredClone(loadFixture("memory-chatbot")));
    // Its Text Input bound to OPENAI_API_KEY: a plain field, so this flow alone calls the variable plain.
    const other = tokenIntoOutput("OPENAI_API_KEY");
    const loaded = [{ flow: chatbot }, { flow: other }];
    const none: string[] = []; // as a replica's config holds it: one array for its life
    const names = secretNames(loaded, none);
    assert.ok(names.includes("OPENAI_API_KEY"), JSON.stringify(names));
    assert.equal(secretNames(loaded, none), names, "one array per loaded set of flows");
    const tweak = { "ChatOutput-J6aor": { callback_url: "http://127.0.0.1:9/steal" } };
    assert.deepEqual(tweakProblems(other, tweak), [], "the flow alone: a plain variable, nothing to guard");
    assert.deepEqual(tweakProblems(other, tweak, names).map((e) => e.field), ["tweaks.ChatOutput-J6aor.callback_url"]);
    assert.deepEqual(variableGuard([other])("CALLBACK_URL"), { ok: true, name: "CALLBACK_URL" });
    assert.deepEqual(variableGuard([chatbot, other])("CALLBACK_URL"), { ok: false, reason: "not_overridable" });
  });
});

describe("Langflow 1.13's starter projects", { skip: startersSkipReason() }, () => {
  it("no component a secret reaches has an address field or a bound variable it does not hold: every tweak and variable the starters offer stays open", () => {
    const starters = loadStarters();
    assert.equal(starters.length, 27);
    let reachedOnly = 0;
    for (const { name, raw } of starters) {
      const flow = parseFlow(raw);
      const h = secretHolders(flow, []);
      assert.ok(h.holds.size > 0, `${name}: a model or an agent holds a key`);
      for (const node of flow.nodes.filter((n) => h.reached.has(n.id) && !h.holds.has(n.id))) {
        reachedOnly++;
        for (const [field, f] of Object.entries(node.template)) {
          assert.ok(!ADDRESS_FIELD.test(field), `${name}: ${node.id}.${field} is an address field downstream of a secret`);
          assert.ok(!(f.load_from_db === true && !isSecretField(f)), `${name}: ${node.id}.${field} binds a variable downstream of a secret`);
        }
      }
    }
    assert.ok(reachedOnly > 20, `components downstream of a secret were looked at (${reachedOnly})`);
  });
});
