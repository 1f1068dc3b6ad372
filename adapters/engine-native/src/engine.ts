import { randomUUID } from "node:crypto";
import {
  NATIVE_MODEL_PROVIDERS,
  NotFoundError,
  UnprocessableFlowError,
  nativeSupport,
  nativeMissingDetail,
  type EngineRunRequest,
  type EngineRunResult,
  type EnvMap,
  type Flow,
  type FlowEngine,
  type LoadedFlow,
  type MissingComponent,
  type RunCancel,
  type SpanSink,
  type StreamSink,
} from "@flowplane/core/replica";
import type { EngineServices, RunState } from "./component.js";
import { buildGraph, type FlowGraph } from "./graph.js";
import { MessageStore } from "./memory-store.js";
import { inputNodes, prepareFields } from "./prepare.js";
import { registry } from "./registry.js";
import { guardedFetch } from "./outbound.js";
import { pgQuery, type SqlQuery } from "./sql-client.js";
import { methodOf, outputsToRun } from "./plan.js";
import { FlowRun } from "./run.js";
import { toolMethods } from "./tools.js";
import type { Message } from "./values.js";

/** How a load refusal words each reason of the compatibility report. */
const WHY: Record<MissingComponent["reason"], string> = {
  not_implemented: "not implemented",
  custom_code: "custom code",
  unsupported_provider: `its model provider has no native client (native speaks ${NATIVE_MODEL_PROVIDERS.join(", ")})`,
};

export interface NativeEngineOptions {
  /**
   * HTTP for components that call out (URL, API Request, models), as it is: tests pass a
   * loopback-only one. By default models use the global fetch and the components whose address
   * a caller can name a guarded one (outbound.ts).
   */
  fetch?: typeof fetch;
  /** The message history; one per engine by default. */
  memory?: MessageStore;
  /** SQL for the SQL Database component; default PostgreSQL through `pg` (sql-client.ts). */
  sql?: SqlQuery;
  /**
   * Loopback or private hosts (names, IPs, CIDR ranges) a flow's database URL and its URL, API
   * Request and search components may reach (the operator's FLOWPLANE_MODEL_HOSTS); any other
   * such address is refused before connecting, as lfx's SSRF and connector checks do.
   */
  privateHosts?: readonly string[];
}

/** Checks that go beyond the graph: every output that will run has an implementation. */
function checkComponents(graph: FlowGraph): string[] {
  const problems: string[] = [];
  for (const node of graph.nodes.values()) {
    const def = registry[node.type];
    if (!def) continue;
    problems.push(...(def.check?.(node) ?? []));
    for (const output of outputsToRun(graph, node)) {
      const method = methodOf(node, output);
      if (method === "to_toolkit") {
        try {
          toolMethods(node, def);
        } catch (err) {
          problems.push((err as Error).message);
        }
      } else if (!(method in def.methods)) {
        problems.push(`output "${output}" (${method}) of ${node.displayName} (${node.id}) is not supported by the native engine`);
      }
    }
  }
  return problems;
}

/** The cancellation of a run its caller cannot cancel: no one holds its signal's controller. */
const NEVER_CANCELLED: RunCancel = { aborted: false, signal: new AbortController().signal };

/** A result, or its failure, as a promise (what FlowEngine's callers expect). */
function promised<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

/** One run's state; its session's history copied only when a component reads it. */
class Run implements RunState {
  constructor(
    readonly flow: Flow,
    readonly sessionId: string,
    readonly runId: string,
    readonly env: EnvMap,
    readonly sink: StreamSink | undefined,
    readonly trace: SpanSink | undefined,
    private readonly cancel: RunCancel,
    readonly services: EngineServices,
    readonly remember: boolean,
    private readonly snapshot: () => Message[],
  ) {}

  get history(): readonly Message[] {
    return this.snapshot();
  }

  get aborted(): boolean {
    return this.cancel.aborted;
  }

  /** Made by the caller when first asked for (RunCancel): most runs call nothing that takes one. */
  get signal(): AbortSignal {
    return this.cancel.signal;
  }
}

/** flowplane's in-process engine: Langflow flows run in Node, for the components in `registry`. */
export class NativeEngine implements FlowEngine {
  readonly name = "native" as const;
  private readonly graphs = new Map<string, FlowGraph>();
  private env: EnvMap = {};
  private readonly services: EngineServices;
  /** A store given by the caller is always written to; the engine's own only when a loaded flow reads it. */
  private readonly givenStore: boolean;
  /** Messages are stored for later runs (RunState.remember). */
  private remember = true;

  constructor(options: NativeEngineOptions = {}) {
    this.services = { fetch: options.fetch ?? fetch, outbound: options.fetch ?? guardedFetch(options.privateHosts ?? []), memory: options.memory ?? new MessageStore(), sql: options.sql ?? pgQuery(options.privateHosts ?? []) };
    this.givenStore = options.memory !== undefined;
  }

  async load(flows: readonly Flow[], env: EnvMap): Promise<LoadedFlow[]> {
    // Native's half of the report only: lfx's half reads every component's code, for nothing here.
    const native = nativeSupport(flows, new Set(Object.keys(registry)));
    if (!native.supported) {
      const list = native.missing
        .map((m) => `${m.type} (${nativeMissingDetail(m) ?? WHY[m.reason]}; flow "${m.flowName}", node ${m.nodeId})`)
        .join(", ");
      throw new UnprocessableFlowError(`the native engine cannot run this bundle; unsupported components: ${list}. Use the lfx engine.`, native.missing);
    }
    const graphs = new Map<string, FlowGraph>();
    for (const flow of flows) {
      if (graphs.has(flow.id)) throw new UnprocessableFlowError(`two flows have the id ${flow.id}`);
      const graph = buildGraph(flow);
      const problems = checkComponents(graph);
      if (problems.length > 0) throw new UnprocessableFlowError(`flow "${flow.name}" (${flow.id}) cannot be loaded: ${problems.join("; ")}`, problems);
      graphs.set(flow.id, graph);
    }
    this.graphs.clear();
    for (const [id, g] of graphs) this.graphs.set(id, g);
    this.env = env;
    // No component of these flows reads a session's history: keeping it would cost every run a
    // store write and the replica memory (messages that live long enough to be promoted), for
    // nothing any caller can see. A run's answer is the same either way.
    this.remember = this.givenStore || flows.some((f) => f.nodes.some((n) => registry[n.type]?.readsHistory === true));
    return [...graphs.values()].map((g) => ({
      flow: g.flow,
      inputComponents: inputNodes(g, registry, "chat").map((n) => n.id),
      outputComponents: [...g.nodes.values()].filter((n) => registry[n.type]?.role === "output").map((n) => n.id),
    }));
  }

  run(flowId: string, request: EngineRunRequest, cancel?: RunCancel): Promise<EngineRunResult> {
    return promised(() => this.start(flowId, request, undefined, cancel));
  }

  stream(flowId: string, request: EngineRunRequest, sink: StreamSink, cancel?: RunCancel): Promise<EngineRunResult> {
    return promised(() => this.start(flowId, request, sink, cancel));
  }

  async close(): Promise<void> {
    this.graphs.clear();
    this.services.memory.clear();
  }

  /** A run, done at once when no component waits for anything (run.ts); it may throw. */
  start(flowId: string, request: EngineRunRequest, sink: StreamSink | undefined, cancel?: RunCancel): EngineRunResult | Promise<EngineRunResult> {
    const graph = this.graphs.get(flowId);
    if (!graph) throw new NotFoundError(`flow ${flowId} is not loaded`);
    // The deployment's variables as they are when the request sets none (nothing writes to them).
    const env: EnvMap = request.globalVars ? { ...this.env, ...request.globalVars } : this.env;
    const fields = prepareFields(graph, registry, request, env);
    const sessionId = request.sessionId || graph.flow.id;
    // A session never continued (an MCP tool call's) keeps its messages in a store of its own,
    // dropped with the run: written to the shared one, its first message would push the least
    // recently used caller's history out of a full store before any forgetting could help.
    const services = request.forgetSession ? { ...this.services, memory: new MessageStore() } : this.services;
    const state = new Run(graph.flow, sessionId, randomUUID(), env, sink, request.trace, cancel ?? NEVER_CANCELLED, services, this.remember, services.memory.snapshot(sessionId));
    return new FlowRun(graph, registry, fields, state).execute(request);
  }
}
