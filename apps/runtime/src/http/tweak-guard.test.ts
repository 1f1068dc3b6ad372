import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyModelChoices, parseFlow, type Flow } from "@flowplane/core";
import { loadStarters, startersSkipReason } from "@flowplane/testkit";
import { tweakProblems } from "./tweak-guard.js";

// Tweaks that would hand a deployment's key to the caller through lfx's own model code, on
// Langflow's Basic Prompting starter with a deploy-time model choice (as a replica runs it).

const NODE = "LanguageModelComponent-FLeYF";
const VARIABLES = { OPENAI_API_KEY: "sk-held", MODEL_LANGUAGEMODELCOMPONENT_FLEYF: "OpenAI/gpt-4o-mini", persona: "kept" };

function basicPrompting(): Flow {
  const raw = loadStarters().find((s) => s.name === "Basic Prompting")!.raw;
  return applyModelChoices(parseFlow(raw), VARIABLES);
}
const fields = (flow: Flow, tweaks: Record<string, unknown>) => tweakProblems(flow, tweaks, [], VARIABLES).map((e) => e.field);

describe("tweaks of a model component", { skip: startersSkipReason() }, () => {
  it("a model selection naming a provider Langflow does not list is refused: lfx takes an unknown provider's client class and parameter names from the selection", () => {
    const flow = basicPrompting();
    // lfx 1.13 built ChatOpenAI(base_url=<the "model name">, api_key=<the deployment's key>) from this and sent the key there.
    const steal = [{ name: "http://127.0.0.1:9/v1", provider: "Evil", metadata: { model_class: "ChatOpenAI", model_name_param: "base_url" } }];
    assert.deepEqual(fields(flow, { [NODE]: { model: steal } }), [`tweaks.${NODE}.model`]);
    assert.deepEqual(fields(flow, { "Language Model": { model: steal } }), ["tweaks.Language Model.model"], "by display name too");
    assert.deepEqual(fields(flow, { [NODE]: { model: { value: steal } } }), [`tweaks.${NODE}.model`], "as an object merged into the field");
    // Another model of the export's provider stays the caller's (lfx then takes class and parameters from its own table).
    assert.deepEqual(fields(flow, { [NODE]: { model: [{ name: "gpt-4o", provider: "OpenAI", metadata: { model_class: "ChatOpenAI" } }] } }), []);
  });

  it("another provider than the export's is refused, by selection or by the provider overlay: the deployment's key, prompts and history would go to a host its deployer did not choose (Ollama's default is the replica's own loopback)", () => {
    const flow = basicPrompting();
    assert.deepEqual(fields(flow, { [NODE]: { model: [{ name: "claude-3-5-haiku-latest", provider: "Anthropic" }] } }), [`tweaks.${NODE}.model`]);
    assert.deepEqual(fields(flow, { [NODE]: { model: [{ name: "llama3", provider: "Ollama" }] } }), [`tweaks.${NODE}.model`]);
    assert.deepEqual(fields(flow, { [NODE]: { model: { value: [{ name: "llama3", provider: "Ollama" }] } } }), [`tweaks.${NODE}.model`], "as an object merged into the field");
    assert.deepEqual(fields(flow, { [NODE]: { provider: "Anthropic" } }), [`tweaks.${NODE}.provider`], "the overlay field");
    assert.deepEqual(fields(flow, { [NODE]: { provider: " openai " } }), [], "the export's own, however written");
    assert.deepEqual(fields(flow, { [NODE]: { model_name: "gpt-4.1" } }), [], "another model name of the same provider");
  });

  it("a secret field's tweak naming a variable is refused (lfx reads the variable it names); a key of the caller's own is taken", () => {
    const flow = basicPrompting();
    for (const name of ["OPENAI_API_KEY", " OPENAI_API_KEY ", "persona", "HTTPS_PROXY"]) {
      assert.deepEqual(fields(flow, { [NODE]: { api_key: name } }), [`tweaks.${NODE}.api_key`], name);
      assert.deepEqual(fields(flow, { [NODE]: { api_key: { value: name } } }), [`tweaks.${NODE}.api_key`], `${name} as an object`);
    }
    assert.deepEqual(fields(flow, { [NODE]: { api_key: "sk-proj-callers-own-key" } }), []);
    assert.deepEqual(fields(flow, { [NODE]: { api_key: "AIzaSyCallersOwnGoogleKey0123456789abcd" } }), [], "mixed case, no variable of that name: a literal to lfx too");
    assert.deepEqual(fields(flow, { [NODE]: { system_message: "OPENAI_API_KEY" } }), [], "a plain field's text is only text");
  });

  it("an address key nested anywhere in a structured value is refused on a component holding a secret", () => {
    const flow = basicPrompting();
    assert.deepEqual(fields(flow, { [NODE]: { model: [{ name: "gpt-4o", provider: "OpenAI", metadata: { base_url_param: "model" } }] } }), [`tweaks.${NODE}.model`]);
    assert.deepEqual(fields(flow, { [NODE]: { system_message: { value: "hi", extra: [{ endpoint: "http://127.0.0.1:9" }] } } }), [`tweaks.${NODE}.system_message`]);
  });
});
