import { DEPLOY_STEPS, MODEL_PROVIDERS, modelChoiceKeys, plainNamesAmong, type BundleSummary, type BundleVersion, type DeployDraft, type DeployStep, type DryRun, type Project } from "@flowplane/core/api";
import { CliError, Exit, formatDetails } from "./errors.js";
import { TWEAKS_POLICIES } from "./deploy-spec.js";
import { describeTweaksPolicy } from "./limits-text.js";
import { keyValues, shownText } from "./output.js";
import type { Prompter } from "./prompts.js";

/** What the walk needs from the server; an interface so the step logic is testable with a script. */
export interface WizardApi {
  /** Projects where the caller may deploy (editor or owner). */
  projects(): Promise<Project[]>;
  bundles(): Promise<BundleSummary[]>;
  versions(bundle: string): Promise<BundleVersion[]>;
  version(bundle: string, tag: string): Promise<BundleVersion>;
  dryRun(projectId: string, req: DeployDraft, step: DeployStep): Promise<DryRun>;
}

export interface WizardState {
  projectId?: string;
  request: DeployDraft;
}

const MASK = "********";

/**
 * The Deploy dialog's four steps at a terminal. Each step asks its fields (flags given on the
 * command line are the defaults), then the server validates that step alone (a dry run) and
 * the step is asked again until it passes, as the dialog's Next button would. Review shows
 * every setting with credentials masked and offers Deploy, Back to any step, or Cancel.
 * Returns the request to submit, or null when the user cancels.
 */
export async function deployWizard(p: Prompter, sayRaw: (line: string) => void, api: WizardApi, initial: WizardState): Promise<Required<WizardState> | null> {
  // What the walk says quotes the server's messages, which name a bundle's parameters (any text
  // its publisher chose, ESC included): shown as escapes, never acted on by the terminal.
  const say = (line: string) => sayRaw(shownText(line));
  const s: WizardState = { projectId: initial.projectId, request: structuredClone(initial.request) };
  let i = 0;
  for (;;) {
    const step = DEPLOY_STEPS[i]!;
    say(`\nStep ${i + 1} of 4: ${step.title}`);
    if (step.step === "review") {
      const next = await review(p, say, api, s);
      if (next === "deploy") return { projectId: s.projectId!, request: s.request };
      if (next === "cancel") return null;
      i = next;
      continue;
    }
    if (step.step === "configure") await configure(p, say, api, s);
    else if (step.step === "credentials") await credentials(p, say, api, s);
    else await task(p, s);
    const check = await api.dryRun(s.projectId!, s.request, step.step);
    if (check.errors.length) {
      say(`${step.title} is not valid yet:\n${formatDetails(check.errors)}`);
      continue;
    }
    i++;
  }
}

async function configure(p: Prompter, say: (l: string) => void, api: WizardApi, s: WizardState): Promise<void> {
  const r = s.request;
  r.displayName = await p.ask("Display name (1..63 characters)", r.displayName);
  const projects = await api.projects();
  if (projects.length === 0) throw new CliError(Exit.auth, "you may not deploy in any project: ask a project owner for the editor role");
  const current = projects.find((x) => x.id === s.projectId);
  const projectName = await p.choose("Project", projects.map((x) => x.name), current?.name ?? (projects.length === 1 ? projects[0]!.name : undefined));
  s.projectId = projects.find((x) => x.name === projectName)?.id ?? s.projectId;
  const bundles = await api.bundles();
  const bundleName = await p.choose("Bundle", bundles.map((b) => b.name), r.bundle?.name ?? (bundles.length === 1 ? bundles[0]!.name : undefined));
  const tags = ["latest", ...(await api.versions(bundleName).catch(() => [])).map((v) => v.versionTag)];
  const version = await p.choose("Version", tags, r.bundle?.name === bundleName ? r.bundle.version : "latest");
  r.bundle = { name: bundleName, version };
  r.networkAccess = await p.choose("Network access", ["public", "private"], r.networkAccess ?? "public");
  const engine = await p.choose("Engine", ["auto", "native", "lfx"], r.runtime?.engine ?? "auto");
  const logLevel = await p.choose("Log level", ["debug", "info", "warn", "error"], r.runtime?.logLevel ?? "info");
  say("Which fields a run request may set through tweaks: permissive, any but Langflow's protected ones (the default); declared, only those the flow's author marked editable via API; off, none.");
  const tweaksPolicy = await p.choose("Tweaks policy (which fields a run request may set)", TWEAKS_POLICIES, r.runtime?.tweaksPolicy ?? "permissive");
  const timeout = await p.ask("Request timeout (seconds)", String(r.runtime?.requestTimeoutSeconds ?? 60));
  // Kept: rate limits and scale to zero given as flags (asked below, or left as they are).
  r.runtime = { ...r.runtime, engine, logLevel, tweaksPolicy, requestTimeoutSeconds: /^\d+$/.test(timeout) ? Number(timeout) : timeout };
  await limits(p, s);
}

type LimitsDraft = NonNullable<NonNullable<DeployDraft["runtime"]>["limits"]>;
type LimitSetDraft = NonNullable<LimitsDraft["deployment"]>;
/** A field as shown for editing: empty when not set (no limit). */
const shown = (v: unknown): string => (v === undefined || v === null ? "" : String(v));
/** A field as typed: empty or `none` is no limit (null); a number as a number; anything else as typed, for the server to name. */
const typed = (v: string): number | string | null => {
  const t = v.trim();
  if (t === "" || t === "none") return null;
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
};

/**
 * The Deploy dialog's rate limits and scale to zero (docs/rate-limits-and-idle.md), behind one
 * question: most deployments keep the defaults (no limit, never idle), or what flags gave.
 */
async function limits(p: Prompter, s: WizardState): Promise<void> {
  const rt = s.request.runtime!;
  const l = rt.limits ?? {};
  const z = rt.scaleToZero ?? {};
  const now = `deployment ${describeSetDraft(l.deployment)}; per key ${describeSetDraft(l.perKey)}; scale to zero ${describeIdleDraft(z)}`;
  if (!(await p.confirm(`Set rate limits and scale to zero? (now: ${now})`))) return;
  const set = async (who: string, cur: LimitSetDraft | undefined): Promise<LimitSetDraft> => ({
    requestsPerSecond: typed(await p.ask(`Rate limit, ${who}: requests per second (empty: no limit)`, shown(cur?.requestsPerSecond))) as LimitSetDraft["requestsPerSecond"],
    burst: typed(await p.ask(`Burst, ${who} (empty: the rate, rounded up)`, shown(cur?.burst))) as LimitSetDraft["burst"],
    maxConcurrent: typed(await p.ask(`Max concurrent requests, ${who} (empty: no limit)`, shown(cur?.maxConcurrent))) as LimitSetDraft["maxConcurrent"],
  });
  rt.limits = { deployment: await set("all callers together", l.deployment), perKey: await set("each access key", l.perKey) };
  const idle = typed(await p.ask("Scale to zero: stop every replica after this many minutes without a request (empty: never)", shown(z.idleMinutes)));
  rt.scaleToZero = { idleMinutes: idle as number | null };
  if (idle !== null) {
    const wake = typed(await p.ask("Wake timeout: how long the first request may wait while it wakes (seconds, 1..600)", shown(z.wakeTimeoutSeconds ?? 60)));
    if (wake !== null) rt.scaleToZero.wakeTimeoutSeconds = wake as number;
  }
}

/** A draft's limit set in words, as `get` shows a deployment's: "5/s (burst 10), 3 concurrent" or "none". */
function describeSetDraft(l: LimitSetDraft | undefined): string {
  const parts: string[] = [];
  if (l?.requestsPerSecond != null) parts.push(`${l.requestsPerSecond}/s${l.burst != null ? ` (burst ${l.burst})` : ""}`);
  if (l?.maxConcurrent != null) parts.push(`${l.maxConcurrent} concurrent`);
  return parts.length ? parts.join(", ") : "none";
}

function describeIdleDraft(z: NonNullable<NonNullable<DeployDraft["runtime"]>["scaleToZero"]>): string {
  return z.idleMinutes == null ? "off" : `after ${z.idleMinutes} min idle (wake timeout ${z.wakeTimeoutSeconds ?? 60} s)`;
}

async function credentials(p: Prompter, say: (l: string) => void, api: WizardApi, s: WizardState): Promise<void> {
  const r = s.request;
  const v = await api.version(r.bundle!.name!, r.bundle!.version!);
  const creds = v.parameters.filter((x) => x.kind === "credential");
  const models = v.parameters.filter((x) => x.kind === "model");
  const plain = v.parameters.filter((x) => x.kind === "plain");
  if (v.parameters.length === 0) say("This bundle has no parameters.");
  const params = { ...(r.parameters ?? {}) };
  // Model choices first: the provider each one picks decides which key is asked for below.
  for (const x of models) {
    const where = x.usedBy.map((u) => `${u.nodeId}.${u.field}`).join(", ");
    const value = await p.ask(`Model for ${where} (${x.name}, <provider>/<model>, e.g. OpenAI/gpt-4o-mini)`, params[x.name] ?? x.default ?? "");
    if (value !== "" || params[x.name] !== undefined) params[x.name] = value;
  }
  // The version's credentials, then each chosen provider's key (the server's own rule: modelChoiceKeys).
  const keys = modelChoiceKeys(v.parameters, params).map((k) => ({ name: k.name, why: ` for the ${k.provider} model of ${k.choices.join(", ")}` }));
  // A key typed for a provider no longer chosen is dropped: the server would refuse it as unknown.
  const needed = new Set([...creds.map((x) => x.name), ...keys.map((k) => k.name)]);
  for (const provider of MODEL_PROVIDERS) if (provider.keyVariable && !needed.has(provider.keyVariable)) delete r.credentials[provider.keyVariable];
  for (const c of [...creds.map((x) => ({ name: x.name, why: "" })), ...keys]) {
    // Write-only: a value already given is kept unless a new one is typed; it is never shown.
    const have = r.credentials[c.name] !== undefined && r.credentials[c.name] !== "";
    for (;;) {
      const value = await p.secret(`Credential ${c.name}${c.why}${have ? " (set; Enter keeps it)" : " (required, hidden)"}`);
      if (value !== "") r.credentials[c.name] = value;
      if (r.credentials[c.name]) break;
      say(`  a value for credential ${c.name} is required`);
    }
  }
  for (const x of plain) {
    // Given with --credential: kept secret (held as a credential); write-only like one.
    if (r.credentials[x.name] !== undefined && r.credentials[x.name] !== "") {
      const value = await p.secret(`Parameter ${x.name} (kept secret; set; Enter keeps it)`);
      if (value !== "") r.credentials[x.name] = value;
      continue;
    }
    const value = await p.ask(`Parameter ${x.name}`, params[x.name] ?? x.default ?? "");
    if (value !== (x.default ?? "") || params[x.name] !== undefined) params[x.name] = value;
  }
  r.parameters = params;
}

async function task(p: Prompter, s: WizardState): Promise<void> {
  const r = s.request;
  const res = r.resources ?? {};
  const replicas = await p.ask("Replicas (1..5)", String(res.replicas ?? 1));
  const cpuRequest = await p.ask("CPU request", res.cpu?.request ?? "500m");
  const cpuLimit = await p.ask("CPU limit", res.cpu?.limit ?? "1000m");
  const memoryRequest = await p.ask("Memory request", res.memory?.request ?? "512Mi");
  const memoryLimit = await p.ask("Memory limit", res.memory?.limit ?? "1Gi");
  r.resources = {
    replicas: /^\d+$/.test(replicas) ? Number(replicas) : replicas,
    cpu: { request: cpuRequest, limit: cpuLimit },
    memory: { request: memoryRequest, limit: memoryLimit },
  };
}

/** Every setting, credentials masked (a missing one flagged), then Deploy / Back / Cancel. */
async function review(p: Prompter, say: (l: string) => void, api: WizardApi, s: WizardState): Promise<"deploy" | "cancel" | number> {
  const r = s.request;
  const projects = await api.projects();
  const v = await api.version(r.bundle!.name!, r.bundle!.version!).catch(() => undefined);
  const credNames = v
    ? [...v.parameters.filter((x) => x.kind === "credential").map((x) => x.name), ...modelChoiceKeys(v.parameters, r.parameters ?? {}).map((k) => k.name),
      ...plainNamesAmong(v.parameters, Object.keys(r.credentials))]
    : Object.keys(r.credentials);
  const params = Object.entries(r.parameters ?? {}).map(([k, val]) => `${k}=${val}`);
  const res = r.resources ?? {};
  say(keyValues([
    ["Display name", r.displayName ?? ""],
    ["Project", projects.find((x) => x.id === s.projectId)?.name ?? s.projectId ?? ""],
    ["Bundle", `${r.bundle?.name}@${r.bundle?.version}${r.bundle?.version === "latest" && v ? ` (${v.versionTag})` : ""}`],
    ["Network access", r.networkAccess ?? ""],
    ["Runtime", `engine ${r.runtime?.engine}, log level ${r.runtime?.logLevel}, request timeout ${r.runtime?.requestTimeoutSeconds}s`],
    ["Tweaks", describeTweaksPolicy(r.runtime?.tweaksPolicy)],
    ["Rate limits", `deployment ${describeSetDraft(r.runtime?.limits?.deployment)}; per key ${describeSetDraft(r.runtime?.limits?.perKey)}`],
    ["Scale to zero", describeIdleDraft(r.runtime?.scaleToZero ?? {})],
    ["Credentials", credNames.map((n) => `${n}=${r.credentials[n] ? MASK : "(missing)"}`).join(", ") || "(none)"],
    ["Parameters", params.join(", ") || "(publish defaults)"],
    ["Replicas", String(res.replicas)],
    ["CPU", `${res.cpu?.request} request, ${res.cpu?.limit} limit`],
    ["Memory", `${res.memory?.request} request, ${res.memory?.limit} limit`],
  ]));
  const check = await api.dryRun(s.projectId!, r, "review");
  if (check.errors.length) say(`Not ready to deploy:\n${formatDetails(check.errors)}`);
  const choices = [...(check.valid ? ["deploy"] : []), "back 1", "back 2", "back 3", "cancel"];
  const a = await p.choose("Action", choices, check.valid ? "deploy" : "back 1");
  if (a === "deploy" || a === "cancel") return a;
  return Number(a.slice(-1)) - 1;
}
