import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FlowRunError,
  NotFoundError,
  boundVariable,
  lfxProblems,
  UnprocessableFlowError,
  type EngineRunRequest,
  type EngineRunResult,
  type EnvMap,
  type Flow,
  type FlowEngine,
  type LoadedFlow,
  type RunCancel,
  type StreamSink,
} from "@flowplane/core/replica";
import { LfxProcess, causeOf, redactor } from "./lfx-process.js";
import { missingLfxMessage, resolveLfxBin } from "./locate.js";
import { modelHostsEnv } from "./model-hosts.js";
import { LfxSpans } from "./spans.js";
import { RunCollector } from "./results.js";
import { readEvents } from "./sse.js";
import { applyOverrides, inputNodes, isOutputNode, lfxFlowId, overridesFor, secretOverrideValues, variantId } from "./variants.js";

export interface LfxEngineOptions {
  /** The lfx executable; default: FLOWPLANE_LFX_BIN's value as given by the host, else the setup script's install. */
  bin?: string | null;
  /** How long lfx may take to load the flows and answer /health (Python start-up and imports). */
  startTimeoutMs?: number;
  /** lfx ended while the engine was open (crash, OOM kill): the replica can no longer serve. */
  onExit?: (reason: string) => void;
  /** lfx's own output, one redacted line at a time. */
  onLine?: (line: string) => void;
  /** Where the private folder is made (default: the OS temp folder). */
  workDir?: string;
  /**
   * The process environment lfx serve starts from (PATH, HOME, proxies): not flow variables.
   * The deployment's parameters come on top. Every value is redacted from lfx's output. Default: none.
   */
  processEnv?: Readonly<Record<string, string>>;
  /** How many tweaked variants lfx keeps registered before the oldest is dropped. */
  maxVariants?: number;
  /** Model hosts the operator allows on loopback or private networks (see model-hosts.ts). */
  modelHosts?: readonly string[];
}

interface Entry {
  flow: Flow;
  lfxId: string;
  /** The deployment's values of the variables the flow binds (`load_from_db`), sent with every run (variablesOf). */
  variables: Record<string, string>;
}

/**
 * The deployment's values of the global variables a flow binds, for lfx's request-scoped
 * variables. lfx reads a bound variable from its environment too, but never one whose name it
 * keeps for servers (`safe_getenv`: `SECRET_KEY`, `GITHUB_TOKEN`, `AWS_ACCESS_KEY_ID`,
 * `DATABASE_URL`...): a flow binding such a name, as Langflow lets it, got nothing from its
 * deployment's value, without a word. Request-scoped variables are read before the environment
 * and under any name, so the deployment's values go there, and lfx's own list need not be
 * mirrored here.
 */
function variablesOf(flow: Flow, parameters: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const node of flow.nodes) {
    for (const field of Object.values(node.template)) {
      const name = boundVariable(field);
      if (name !== null && Object.hasOwn(parameters, name)) out[name] = parameters[name] as string;
    }
  }
  return out;
}

/** A Langflow export as lfx loads it: `{id, name, data: {nodes, edges}, ...}`. */
function exportOf(flow: Flow, id: string, raw: Record<string, unknown> = flow.raw): Record<string, unknown> {
  const data = raw.data ?? { nodes: raw.nodes, edges: raw.edges };
  return { ...raw, id, name: typeof raw.name === "string" ? raw.name : flow.name, data };
}

/** lfx's load failure ("- <id>.json: <reason>" per flow) as an error naming each flow. */
function loadError(message: string, entries: Entry[]): Error {
  const failed = [...message.matchAll(/^\s*- ([0-9a-f-]{36})\.json: (.*)$/gm)].flatMap(([, id, reason]) => {
    const entry = entries.find((e) => e.lfxId === id);
    return entry ? [{ flowId: entry.flow.id, flowName: entry.flow.name, reason: (reason ?? "").replace(/^Failed to load \S+: /, "") }] : [];
  });
  if (failed.length === 0) return new Error(message);
  const list = failed.map((f) => `"${f.flowName}" (${f.flowId}): ${f.reason}`).join("; ");
  return new UnprocessableFlowError(`lfx cannot load ${failed.length === 1 ? "a flow" : `${failed.length} flows`}: ${list}`, failed);
}

/**
 * Langflow's own executor behind the runtime host. `load` writes the flows into a private folder
 * (0700, files 0600), starts `lfx serve` on a loopback port with a random API key and the
 * deployment's parameters as its environment, and waits until it is healthy. Runs go through
 * lfx's v2 workflow stream, which reports every component's Langflow result and the model's
 * tokens as they come, so both run shapes and streaming are served from one call.
 */
export class LfxEngine implements FlowEngine {
  readonly name = "lfx" as const;
  private proc: LfxProcess | null = null;
  private dir: string | null = null;
  private dead: string | null = null;
  private readonly apiKey = randomBytes(32).toString("base64url");
  private readonly entries = new Map<string, Entry>();
  private readonly variants = new Map<string, Promise<string>>();
  private redact: (text: string) => string = (t) => t;

  constructor(private readonly options: LfxEngineOptions = {}) {}

  /** The lfx process id (for measuring its memory); undefined before load and after close. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async load(flows: readonly Flow[], env: EnvMap): Promise<LoadedFlow[]> {
    const bin = resolveLfxBin(this.options.bin);
    if (!existsSync(bin)) throw new Error(missingLfxMessage(bin));
    const entries: Entry[] = [];
    for (const flow of flows) {
      if (this.entries.has(flow.id) || entries.some((e) => e.flow.id === flow.id)) throw new UnprocessableFlowError(`two flows have the id ${flow.id}`);
      entries.push({ flow, lfxId: lfxFlowId(flow), variables: {} });
    }
    // The compatibility report's own verdict (one function): flows it calls unsupported are
    // refused here, with its reasons, before lfx spends half a minute finding out.
    const problems = lfxProblems(flows);
    if (problems.length > 0) {
      const failed = [...new Set(problems.map((p) => p.flowId))].map((flowId) => {
        const mine = problems.filter((p) => p.flowId === flowId);
        return { flowId, flowName: mine[0]?.flowName ?? flowId, reason: mine.map((p) => `${p.nodeId} (${p.type}): ${p.detail}`).join("; ") };
      });
      const list = failed.map((f) => `"${f.flowName}" (${f.flowId}): ${f.reason}`).join("; ");
      throw new UnprocessableFlowError(`lfx cannot run ${failed.length === 1 ? "a flow" : `${failed.length} flows`}: ${list}`, failed);
    }
    const parameters: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) parameters[k] = v;
    for (const e of entries) e.variables = variablesOf(e.flow, parameters);
    const childEnv: Record<string, string> = { ...this.options.processEnv, ...parameters };
    // Every value lfx is given, not only the parameters: a passed-through proxy URL may hold a password.
    this.redact = redactor(Object.values(childEnv).concat(this.apiKey));

    const dir = mkdtempSync(join(this.options.workDir ?? tmpdir(), "flowplane-lfx-"));
    chmodSync(dir, 0o700);
    this.dir = dir;
    const flowDir = join(dir, "flows");
    mkdirSync(flowDir, { mode: 0o700 });
    mkdirSync(join(dir, "config"), { mode: 0o700 });
    for (const e of entries) writeFileSync(join(flowDir, `${e.lfxId}.json`), JSON.stringify(exportOf(e.flow, e.lfxId)), { mode: 0o600 });

    Object.assign(childEnv, {
      LANGFLOW_API_KEY: this.apiKey,
      // lfx's own files (settings, caches) go to the private folder, not the user's home.
      LANGFLOW_CONFIG_DIR: join(dir, "config"),
      DO_NOT_TRACK: "true",
      PYTHONUNBUFFERED: "1",
      ...modelHostsEnv(this.options.modelHosts ?? [], join(dir, "python")),
    });
    try {
      this.proc = await LfxProcess.start({
        bin,
        flowDir,
        env: childEnv,
        apiKey: this.apiKey,
        startTimeoutMs: this.options.startTimeoutMs ?? 120_000,
        redact: this.redact,
        ...(this.options.onLine ? { onLine: this.options.onLine } : {}),
      });
    } catch (err) {
      this.removeDir();
      throw loadError((err as Error).message, entries);
    }
    const proc = this.proc;
    void proc.exited.then((exit) => {
      if (proc.stopRequested) return;
      this.dead = proc.describeExit(exit);
      this.options.onExit?.(this.dead);
    });
    for (const e of entries) this.entries.set(e.flow.id, e);
    return entries.map(({ flow }) => ({
      flow,
      inputComponents: inputNodes(flow, "chat").map((n) => n.id),
      outputComponents: flow.nodes.filter((n) => !n.isNote && isOutputNode(n)).map((n) => n.id),
    }));
  }

  run(flowId: string, request: EngineRunRequest, cancel?: RunCancel): Promise<EngineRunResult> {
    return this.execute(flowId, request, undefined, cancel?.signal);
  }

  stream(flowId: string, request: EngineRunRequest, sink: StreamSink, cancel?: RunCancel): Promise<EngineRunResult> {
    return this.execute(flowId, request, sink, cancel?.signal);
  }

  async close(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    await proc?.stop();
    this.entries.clear();
    this.variants.clear();
    this.removeDir();
  }

  private removeDir(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }

  private headers(): Record<string, string> {
    return { "content-type": "application/json", "x-api-key": this.apiKey };
  }

  private running(): LfxProcess {
    if (this.dead) throw new FlowRunError(`the lfx engine has stopped: ${this.dead}`);
    if (!this.proc) throw new FlowRunError("the lfx engine is not running");
    return this.proc;
  }

  private async execute(flowId: string, request: EngineRunRequest, sink: StreamSink | undefined, signal?: AbortSignal): Promise<EngineRunResult> {
    const entry = this.entries.get(flowId);
    if (!entry) throw new NotFoundError(`flow ${flowId} is not loaded`);
    const proc = this.running();
    const overrides = overridesFor(entry.flow, request);
    // The deployment's values, and this run's own secrets: a caller's key given as a tweak.
    const callerSecrets = secretOverrideValues(entry.flow, overrides);
    const own = callerSecrets.length > 0 ? redactor(callerSecrets) : null;
    const redact = own ? (t: string) => own(this.redact(t)) : this.redact;
    const target = overrides ? await this.variant(entry, overrides, redact) : entry.lfxId;
    const sessionId = request.sessionId || entry.flow.id;
    const body = {
      flow_id: target,
      // Non-chat input types were written into the variant's input components instead.
      input_value: request.inputType === "chat" ? (request.inputValue ?? "") : "",
      session_id: sessionId,
      mode: "stream",
      stream_protocol: "langflow",
      // The deployment's values first; a request's own variables (plain parameters only, checked
      // by the runtime) over them, as Langflow's request variables override its global ones.
      ...(request.globalVars || Object.keys(entry.variables).length > 0 ? { globals: { ...entry.variables, ...request.globalVars } } : {}),
    };
    const collector = new RunCollector(entry.flow, sink, target, request.trace ? new LfxSpans(entry.flow, request.trace, redact) : undefined);
    try {
      const res = await proc.fetch("/api/v2/workflows", { method: "POST", headers: this.headers(), body: JSON.stringify(body), ...(signal ? { signal } : {}) });
      if (!res.ok || !res.body) throw new FlowRunError(redact(`lfx refused the run (${res.status}): ${detailOf(await res.text())}`));
      for await (const event of readEvents(res.body)) collector.accept(event);
    } catch (err) {
      if (err instanceof FlowRunError) throw err;
      if (signal?.aborted) throw new FlowRunError("the run was cancelled");
      throw new FlowRunError(this.dead ? `the lfx engine has stopped: ${this.dead}` : `lfx did not answer: ${redact(causeOf(err as Error))}`);
    }
    try {
      return collector.finish(request, sessionId, redact);
    } catch (err) {
      // lfx names its own setting, which a deployment cannot set: name the operator's instead.
      if (err instanceof FlowRunError && err.message.includes("LANGFLOW_SSRF_ALLOWED_HOSTS")) {
        err.message = `${err.message} (flowplane: the operator lists allowed model hosts in FLOWPLANE_MODEL_HOSTS)`;
      }
      throw err;
    }
  }

  /** Registers the tweaked flow with lfx once; later runs with the same overrides reuse it. */
  private variant(entry: Entry, overrides: Map<string, Record<string, unknown>>, redact: (t: string) => string): Promise<string> {
    const id = variantId(entry.flow, overrides);
    const known = this.variants.get(id);
    if (known) {
      // Most recently used last, so the oldest is the one dropped.
      this.variants.delete(id);
      this.variants.set(id, known);
      return known;
    }
    const upload = this.upload(exportOf(entry.flow, id, applyOverrides(entry.flow, id, overrides)), redact);
    this.variants.set(id, upload);
    upload.catch(() => this.variants.delete(id));
    const max = this.options.maxVariants ?? 64;
    for (const old of [...this.variants.keys()].slice(0, Math.max(0, this.variants.size - max))) {
      this.variants.delete(old);
      void this.running().fetch(`/flows/${old}`, { method: "DELETE", headers: this.headers() }).catch(() => undefined);
    }
    return upload;
  }

  private async upload(flow: Record<string, unknown>, redact: (t: string) => string): Promise<string> {
    const proc = this.running();
    const res = await proc.fetch("/flows/upload/", { method: "POST", headers: this.headers(), body: JSON.stringify({ ...flow, replace: true }) });
    const text = await res.text();
    if (!res.ok) throw new FlowRunError(redact(`lfx could not prepare the flow with these tweaks (${res.status}): ${detailOf(text)}`));
    return flow.id as string;
  }
}

/** FastAPI's `{detail}` (a string, an object, or a list of validation errors) as one line. */
function detailOf(text: string): string {
  try {
    const { detail } = JSON.parse(text) as { detail?: unknown };
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d: { msg?: unknown }) => String(d.msg ?? JSON.stringify(d))).join("; ");
    if (detail && typeof detail === "object") return String((detail as { message?: unknown; error?: unknown }).message ?? (detail as { error?: unknown }).error ?? JSON.stringify(detail));
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, 500);
}
