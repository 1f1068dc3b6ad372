import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BundleVersion, DeployDraft, DeployStep } from "@flowplane/core/api";
import { deployWizard, type WizardApi } from "./deploy-wizard.js";
import type { Prompter } from "./prompts.js";

/** Answers prompts from a script of [question pattern, answer]; a question out of order fails the test. */
function scriptedPrompter(script: [RegExp, string][]): Prompter & { secrets: string[] } {
  const next = (q: string) => {
    const step = script.shift();
    if (!step) assert.fail(`unexpected question: ${q}`);
    assert.match(q, step[0]);
    return step[1];
  };
  const secrets: string[] = [];
  return {
    secrets,
    ask: async (q, d) => next(q) || (d ?? ""),
    secret: async (q) => {
      const a = next(q);
      secrets.push(a);
      return a;
    },
    choose: async (q, choices, d) => {
      const a = next(q) || d || "";
      assert.ok(choices.includes(a), `${a} is one of ${choices.join(", ")}`);
      return a;
    },
    confirm: async (q) => next(q) === "y",
    close: () => undefined,
  };
}

const version = {
  name: "chat", versionTag: "v1", parameters: [
    { name: "OPENAI_API_KEY", kind: "credential", usedBy: [] },
    { name: "MODEL", kind: "plain", default: "gpt-4o-mini", usedBy: [] },
  ],
} as unknown as BundleVersion;

/** The server's step validation, faked: replicas above 5 fail the task step, as the real server says. */
function fakeApi(calls: { step: DeployStep; req: DeployDraft }[]): WizardApi {
  return {
    projects: async () => [{ id: "p1", name: "support", createdAt: "2026-01-01T00:00:00.000Z" }],
    bundles: async () => [{ name: "chat", latest: version, versionCount: 1 }],
    versions: async () => [version],
    version: async () => version,
    dryRun: async (_p, req, step) => {
      calls.push({ step, req: structuredClone(req) });
      const bad = Number(req.resources?.replicas) > 5 && (step === "task" || step === "review");
      return bad ? { valid: false, errors: [{ field: "resources.replicas", message: "replicas must be at most 5" }] } : { valid: true, errors: [] };
    },
  };
}

const configure: [RegExp, string][] = [
  [/Display name/, "Chat"], [/Project/, ""], [/Bundle/, "chat"], [/Version/, ""], [/Network/, ""], [/Engine/, ""], [/Log level/, ""], [/Tweaks policy/, ""], [/Request timeout/, ""],
  [/Set rate limits and scale to zero\? \(now: deployment none; per key none; scale to zero off\)/, "n"],
];
const task = (replicas: string): [RegExp, string][] => [[/Replicas/, replicas], [/CPU request/, ""], [/CPU limit/, ""], [/Memory request/, ""], [/Memory limit/, ""]];

describe("the four-step deploy walk", () => {
  it("asks each step, re-asks a step the server refuses, masks credentials in Review, and returns the request", async () => {
    const calls: { step: DeployStep; req: DeployDraft }[] = [];
    const said: string[] = [];
    const p = scriptedPrompter([
      ...configure,
      [/Credential OPENAI_API_KEY \(required/, ""], [/Credential OPENAI_API_KEY \(required/, "sk-typed"], [/Parameter MODEL/, "gpt-4o"],
      ...task("9"), ...task("2"),
      [/Action/, "back 2"],
      [/Credential OPENAI_API_KEY \(set; Enter keeps it\)/, ""], [/Parameter MODEL/, ""],
      ...task(""),
      [/Action/, "deploy"],
    ]);
    const out = await deployWizard(p, (l) => said.push(l), fakeApi(calls), { request: { credentials: {} } });
    assert.ok(out);
    assert.equal(out.projectId, "p1");
    assert.deepEqual(out.request.credentials, { OPENAI_API_KEY: "sk-typed" });
    assert.deepEqual(out.request.parameters, { MODEL: "gpt-4o" });
    assert.equal(out.request.resources?.replicas, 2);
    assert.deepEqual(out.request.bundle, { name: "chat", version: "latest" });
    assert.equal(out.request.runtime?.tweaksPolicy, "permissive", "the tweaks policy defaults to permissive");
    assert.deepEqual(calls.map((c) => c.step), ["configure", "credentials", "task", "task", "review", "credentials", "task", "review"]);
    const text = said.join("\n");
    assert.match(text, /a value for credential OPENAI_API_KEY is required/, "an empty credential is refused before the server is asked");
    assert.match(text, /Task Configuration is not valid yet:\n  resources.replicas: replicas must be at most 5/);
    assert.match(text, /Tweaks: +permissive: any field but Langflow's protected ones/);
    assert.match(text, /Credentials: +OPENAI_API_KEY=\*{8}/);
    assert.doesNotMatch(text, /sk-typed/);
  });

  it("starts from the flags given and returns null when cancelled at Review", async () => {
    const p = scriptedPrompter([
      [/Display name/, ""], [/Project/, ""], [/Bundle/, ""], [/Version/, ""], [/Network/, ""], [/Engine/, ""], [/Log level/, ""], [/Tweaks policy/, ""], [/Request timeout/, ""],
      // Limits given as flags are shown, and kept when not edited.
      [/Set rate limits and scale to zero\? \(now: deployment 5\/s \(burst 10\); per key none; scale to zero after 30 min idle/, "n"],
      [/Credential OPENAI_API_KEY \(set/, ""], [/Parameter MODEL/, ""],
      ...task(""),
      [/Action/, "cancel"],
    ]);
    const calls: { step: DeployStep; req: DeployDraft }[] = [];
    const out = await deployWizard(p, () => undefined, fakeApi(calls), {
      projectId: "p1", request: {
        displayName: "From flags", bundle: { name: "chat", version: "v1" }, credentials: { OPENAI_API_KEY: "from-file" }, networkAccess: "private",
        runtime: { limits: { deployment: { requestsPerSecond: 5, burst: 10 } }, scaleToZero: { idleMinutes: 30 }, tweaksPolicy: "declared" },
      },
    });
    assert.equal(out, null);
    assert.equal(calls[0]?.req.displayName, "From flags");
    assert.equal(calls[0]?.req.networkAccess, "private");
    assert.equal(calls.at(-1)?.req.credentials.OPENAI_API_KEY, "from-file", "Enter keeps a credential given by flag");
    assert.equal(calls.at(-1)?.req.parameters?.MODEL, undefined, "an untouched default is not sent as an override");
    assert.deepEqual(calls.at(-1)?.req.runtime?.limits, { deployment: { requestsPerSecond: 5, burst: 10 } }, "the flags' limits survive the walk");
    assert.deepEqual(calls.at(-1)?.req.runtime?.scaleToZero, { idleMinutes: 30 });
    assert.equal(calls.at(-1)?.req.runtime?.tweaksPolicy, "declared", "the flag's tweaks policy is the default, kept on Enter");
  });

  it("sets rate limits and scale to zero on request (empty: no limit), validated as the dialog's step 1, shown in Review", async () => {
    const calls: { step: DeployStep; req: DeployDraft }[] = [];
    const said: string[] = [];
    const p = scriptedPrompter([
      ...configure.slice(0, -1),
      [/Set rate limits and scale to zero/, "y"],
      [/Rate limit, all callers together: requests per second/, "5"], [/Burst, all callers together/, "10"], [/Max concurrent requests, all callers together/, ""],
      [/Rate limit, each access key: requests per second/, "0.5"], [/Burst, each access key/, ""], [/Max concurrent requests, each access key/, "2"],
      [/Scale to zero: stop every replica after this many minutes/, "15"], [/Wake timeout/, "90"],
      [/Credential OPENAI_API_KEY \(required/, "sk-typed"], [/Parameter MODEL/, ""],
      ...task(""),
      [/Action/, "deploy"],
    ]);
    const out = await deployWizard(p, (l) => said.push(l), fakeApi(calls), { request: { credentials: {} } });
    assert.ok(out);
    assert.deepEqual(out.request.runtime?.limits, {
      deployment: { requestsPerSecond: 5, burst: 10, maxConcurrent: null },
      perKey: { requestsPerSecond: 0.5, burst: null, maxConcurrent: 2 },
    });
    assert.deepEqual(out.request.runtime?.scaleToZero, { idleMinutes: 15, wakeTimeoutSeconds: 90 });
    assert.equal(calls[0]?.step, "configure");
    assert.deepEqual(calls[0]?.req.runtime?.limits, out.request.runtime?.limits, "step 1's dry run checks them");
    const text = said.join("\n");
    assert.match(text, /Rate limits: +deployment 5\/s \(burst 10\); per key 0.5\/s, 2 concurrent/);
    assert.match(text, /Scale to zero: +after 15 min idle \(wake timeout 90 s\)/);
  });

  it("asks the tweaks policy next to the log level, sends the one chosen with step 1's dry run, and shows it in Review", async () => {
    const calls: { step: DeployStep; req: DeployDraft }[] = [];
    const said: string[] = [];
    const p = scriptedPrompter([
      ...configure.map(([q, a]): [RegExp, string] => [q, q.source.startsWith("Tweaks") ? "off" : a]),
      [/Credential OPENAI_API_KEY \(required/, "sk-typed"], [/Parameter MODEL/, ""],
      ...task(""),
      [/Action/, "deploy"],
    ]);
    const out = await deployWizard(p, (l) => said.push(l), fakeApi(calls), { request: { credentials: {} } });
    assert.ok(out);
    assert.equal(out.request.runtime?.tweaksPolicy, "off");
    assert.equal(calls[0]?.step, "configure");
    assert.equal(calls[0]?.req.runtime?.tweaksPolicy, "off", "step 1's dry run checks it");
    assert.match(said.join("\n"), /Tweaks: +off: none \(the input and session id still reach the flow\)/);
  });

  it("keeps a plain parameter given with --credential secret: asked hidden (Enter keeps it), never as a parameter, masked in Review", async () => {
    const calls: { step: DeployStep; req: DeployDraft }[] = [];
    const said: string[] = [];
    const p = scriptedPrompter([
      ...configure,
      [/Credential OPENAI_API_KEY \(set/, ""], [/Parameter MODEL \(kept secret; set; Enter keeps it\)/, ""],
      ...task(""),
      [/Action/, "deploy"],
    ]);
    const out = await deployWizard(p, (l) => said.push(l), fakeApi(calls), { request: { credentials: { OPENAI_API_KEY: "sk-file", MODEL: "model-from-file" } } });
    assert.ok(out);
    assert.deepEqual(out.request.credentials, { OPENAI_API_KEY: "sk-file", MODEL: "model-from-file" });
    assert.equal(out.request.parameters?.MODEL, undefined, "not sent as a parameter too (the server refuses both)");
    const text = said.join("\n");
    assert.match(text, /Credentials: +OPENAI_API_KEY=\*{8}, MODEL=\*{8}/);
    assert.doesNotMatch(text, /model-from-file/);
  });

  it("asks the model choice of a node exported without one, then the chosen provider's key (hidden, masked in Review)", async () => {
    const noModel = {
      name: "chat", versionTag: "v1", parameters: [{ name: "MODEL_AGENT_X", kind: "model", usedBy: [{ flowId: "f", nodeId: "Agent-x", field: "model" }] }],
    } as unknown as BundleVersion;
    const api = { ...fakeApi([]), bundles: async () => [{ name: "chat", latest: noModel, versionCount: 1 }], versions: async () => [noModel], version: async () => noModel };
    const said: string[] = [];
    const p = scriptedPrompter([
      ...configure,
      [/Model for Agent-x\.model \(MODEL_AGENT_X/, "Anthropic/claude-x"],
      [/Credential ANTHROPIC_API_KEY for the Anthropic model of MODEL_AGENT_X \(required/, "sk-ant-typed"],
      ...task(""),
      [/Action/, "back 2"],
      [/Model for Agent-x/, "OpenAI/gpt-4o-mini"],
      [/Credential OPENAI_API_KEY for the OpenAI model of MODEL_AGENT_X \(required/, "sk-oai-typed"],
      ...task(""),
      [/Action/, "deploy"],
    ]);
    const out = await deployWizard(p, (l) => said.push(l), api, { request: { credentials: {} } });
    assert.ok(out);
    assert.deepEqual(out.request.parameters, { MODEL_AGENT_X: "OpenAI/gpt-4o-mini" });
    assert.deepEqual(out.request.credentials, { OPENAI_API_KEY: "sk-oai-typed" }, "the key of the provider no longer chosen is not sent");
    assert.deepEqual(p.secrets, ["sk-ant-typed", "sk-oai-typed"], "keys are asked as secrets");
    const text = said.join("\n");
    assert.match(text, /Credentials: +OPENAI_API_KEY=\*{8}/);
    assert.doesNotMatch(text, /sk-(ant|oai)-typed/);
  });

  it("says the server's messages, which quote a bundle's parameter names, with their control characters as escapes", async () => {
    // A global bundle's publisher chose the name: the server's messages repeat it, ESC and all.
    const hostile = "KEY\u001b]0;pwned\u0007\u001b]52;c;ZWNobyBwd25lZA\u0007";
    const calls: { step: DeployStep; req: DeployDraft }[] = [];
    const api = fakeApi(calls);
    let refused = false;
    const said: string[] = [];
    const p = scriptedPrompter([
      ...configure,
      [/Credential OPENAI_API_KEY \(required/, "sk-typed"], [/Parameter MODEL/, ""],
      [/Credential OPENAI_API_KEY \(set/, ""], [/Parameter MODEL/, ""],
      ...task(""),
      [/Action/, "cancel"],
    ]);
    const out = await deployWizard(p, (l) => said.push(l), {
      ...api,
      dryRun: async (projectId, req, step) => {
        if (step !== "credentials" || refused) return api.dryRun(projectId, req, step);
        refused = true;
        return { valid: false, errors: [{ field: `parameters.${hostile}`, message: `"${hostile}" is not a parameter of this version` }] };
      },
    }, { request: { credentials: {} } });
    assert.equal(out, null);
    const text = said.join("\n");
    assert.match(text, /Credentials is not valid yet:\n {2}parameters\.KEY\\u\{1b\}\]0;pwned\\u\{7\}/);
    assert.doesNotMatch(text, /[\u001b\u0007]/);
  });
});
