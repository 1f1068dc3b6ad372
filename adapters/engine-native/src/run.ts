import { FlowRunError, type ComponentResult, type EngineRunRequest, type EngineRunResult, type FlowEdge, type FlowNode } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext, OutputMethod, RunState } from "./component.js";
import type { FlowGraph } from "./graph.js";
import { planOf, type NodePlan, type RunPlan } from "./plan.js";
import type { FieldValues } from "./prepare.js";
import { componentResult } from "./results.js";
import { buildTools } from "./tools.js";
import { reportSpan, spanClock, spanInputs } from "./trace.js";
import { Message, toText } from "./values.js";

/**
 * Runs one flow once. Every node starts as soon as its sources are done, so independent
 * branches run concurrently; a node runs once per run however many nodes read it.
 */

interface NodeRun {
  outputs: Map<string, unknown>;
  /** Log lines per output; null when the node logged nothing (most do not). */
  logs: Map<string, string[]> | null;
}

/** What componentResult reads for a node that logged nothing. */
const NO_LOGS: ReadonlyMap<string, string[]> = new Map();

/**
 * One pass of a loop's body: only the body's nodes run (afresh), and the fields the loop's item
 * output feeds receive this item instead (lfx injects it into a fresh subgraph per item).
 */
interface BodyScope {
  nodes: ReadonlySet<string>;
  loop: string;
  item: unknown;
}

/** In a loop's body pass, the loop itself is outside: its item reaches the body as injected. */
const injected = (scope: BodyScope | undefined, edge: FlowEdge): boolean => scope !== undefined && edge.source === scope.loop && !scope.nodes.has(edge.source);

/**
 * A node's view of its inputs while it runs: one object per node per run, its methods on the
 * prototype (a node's context used to be a dozen closures and two object spreads).
 */
class RunContext implements NodeContext {
  /** The output being computed, for `log`. */
  current = "";
  logs: Map<string, string[]> | null = null;

  constructor(
    readonly node: FlowNode,
    readonly run: RunState,
    private readonly flowRun: FlowRun,
    private readonly plan: NodePlan,
    readonly own: Record<string, unknown>,
    private readonly scope: BodyScope | undefined,
  ) {}

  value(field: string): unknown {
    const feed = this.plan.byField.get(field);
    if (feed === undefined) return this.own[field];
    // Fields fed by several edges (an agent's tools) get them all; a list output is spread.
    if (!feed.many) return this.edgeValue(feed.edges[0] as FlowEdge);
    return feed.edges.map((e) => this.edgeValue(e)).flat();
  }

  /** What an edge carries: its source's output, or a loop body's injected item. */
  private edgeValue(e: FlowEdge): unknown {
    return injected(this.scope, e) ? this.scope?.item : this.flowRun.built(e.source)?.outputs.get(e.sourceHandle.name);
  }

  text(field: string): string {
    return toText(this.value(field));
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.value(field);
    return typeof v === "boolean" ? v : typeof v === "string" && v !== "" ? v.toLowerCase() === "true" : fallback;
  }

  number(field: string, fallback: number): number {
    const v = this.value(field);
    const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
    return Number.isFinite(n) ? n : fallback;
  }

  connected(field: string): boolean {
    return this.plan.byField.has(field);
  }

  source(field: string): FlowNode | undefined {
    const edge = this.plan.byField.get(field)?.edges[0];
    return edge ? this.flowRun.graphNode(edge.source) : undefined;
  }

  sourceFields(field: string): Readonly<Record<string, unknown>> {
    const edge = this.plan.byField.get(field)?.edges[0];
    return edge ? this.flowRun.fieldsOf(edge.source) : {};
  }

  log(message: string): void {
    this.logs ??= new Map();
    const list = this.logs.get(this.current) ?? [];
    list.push(message);
    this.logs.set(this.current, list);
  }

  runLoopBody(items: readonly unknown[]): Promise<unknown[]> {
    return this.flowRun.loopBody(this.node.id, items);
  }
}

/**
 * Waits for every node even when one fails, so nothing keeps running after the answer, then
 * throws the first failure in the given order.
 */
async function allBuilt(runs: readonly (NodeRun | Promise<NodeRun>)[]): Promise<void> {
  for (const s of await Promise.allSettled(runs)) if (s.status === "rejected") throw s.reason;
}

/** A node's span inputs and outputs, for a trace that keeps them (trace.io). */
function spanIo(plan: NodePlan, ctx: RunContext, outputs: Map<string, unknown>): { inputs: ReturnType<typeof spanInputs>; outputs: Record<string, unknown> } {
  return { inputs: spanInputs(plan.node, ctx.own, plan.incoming, (f) => ctx.value(f)), outputs: Object.fromEntries(outputs) };
}

/**
 * A run's result, Langflow's per-component results built when first read: `lfx serve`'s answer
 * holds the chat text only, and these never-read dumps were most of a short run's garbage. The
 * values they read belong to this run alone (nothing writes to them once it is over). A class,
 * its getter on the prototype: a getter in an object literal made V8 give every result its own
 * hidden class, which kept each run's whole object graph alive through young-generation
 * collections (all of it promoted, then collected by full GCs: most of a replica's GC time).
 */
class RunResult implements EngineRunResult {
  private built: ComponentResult[] | undefined;

  constructor(
    readonly sessionId: string,
    readonly inputs: Record<string, unknown>,
    readonly chat: EngineRunResult["chat"],
    private readonly reported: readonly [FlowNode, NodeRun][],
  ) {}

  get outputs(): ComponentResult[] {
    this.built ??= this.reported.map(([node, run]) => componentResult(node, run.outputs, run.logs ?? NO_LOGS, node.type === "ChatOutput" || node.type === "ChatInput"));
    return this.built;
  }

  /** The plain shape, for whoever serialises a result whole. */
  toJSON(): EngineRunResult {
    return { sessionId: this.sessionId, inputs: this.inputs, outputs: this.outputs, chat: this.chat };
  }
}

export class FlowRun {
  /** Nodes still waiting for a promise, or failed (a rejected one). */
  private readonly runs = new Map<string, Promise<NodeRun>>();
  /** The nodes built so far (a node's sources are, when it starts): what edges carry is read here. */
  private readonly done = new Map<string, NodeRun>();
  private readonly plan: RunPlan;

  constructor(
    private readonly graph: FlowGraph,
    private readonly registry: Record<string, ComponentDef>,
    private readonly fields: FieldValues,
    private readonly state: RunState,
    private readonly scope?: BodyScope,
  ) {
    this.plan = planOf(graph, registry);
  }

  /** A node's outputs once it is built. */
  built(id: string): NodeRun | undefined {
    return this.done.get(id);
  }

  /** A node of the graph by id. */
  graphNode(id: string): FlowNode | undefined {
    return this.graph.nodes.get(id);
  }

  /** A node's own field values in this run (prepare.ts: exported, then tweaks, input, variables). */
  fieldsOf(id: string): Readonly<Record<string, unknown>> {
    return this.fields.get(id) ?? {};
  }

  /**
   * Runs a loop's body once per item, in order (lfx's `execute_loop_body`), and returns what
   * the body's last node gave each time: its first output computed (lfx's `extract_loop_output`).
   */
  async loopBody(loopId: string, items: readonly unknown[]): Promise<unknown[]> {
    const body = this.graph.loops.get(loopId);
    if (!body) return [];
    const end = this.graph.nodes.get(body.feedback.source) as FlowNode;
    const ids = this.graph.order.filter((id) => body.nodes.has(id));
    const results: unknown[] = [];
    for (const item of items) {
      const pass = new FlowRun(this.graph, this.registry, this.fields, this.state, { nodes: body.nodes, loop: loopId, item });
      await allBuilt(ids.map((id) => pass.node(id)));
      const outputs = (await pass.node(end.id)).outputs;
      const first = end.outputs.find((o) => outputs.has(o.name));
      results.push(first ? outputs.get(first.name) : undefined);
    }
    return results;
  }

  /**
   * Builds every node and reports. Synchronous while every component answers at once (most
   * short flows: inputs, outputs, text and prompt components), so such a run makes no promise
   * and waits for no microtask; a component that returns a promise (a model, a fetch) makes the
   * rest of the run wait for it, and the run's result a promise.
   */
  execute(request: EngineRunRequest): EngineRunResult | Promise<EngineRunResult> {
    let pending: Promise<NodeRun>[] | null = null;
    for (const id of this.plan.outer) {
      const built = this.node(id);
      if (built instanceof Promise) (pending ??= []).push(built);
    }
    return pending === null ? this.finish(request) : allBuilt(pending).then(() => this.finish(request));
  }

  /** The result, once every outer node is built (each reported node is one: planOf). */
  private finish(request: EngineRunRequest): RunResult {
    const reported: [FlowNode, NodeRun][] = [];
    let chat: EngineRunResult["chat"] = null;
    for (const { node, def } of this.plan.results) {
      const run = this.done.get(node.id) as NodeRun;
      if (!chat && node.type === "ChatOutput") {
        const message = run.outputs.values().next().value;
        if (message instanceof Message) chat = { text: message.text, componentDisplayName: node.displayName, componentId: node.id };
      }
      if (this.reported(node, def as ComponentDef, request)) reported.push([node, run]);
    }
    return new RunResult(this.state.sessionId, { input_value: request.inputValue ?? "" }, chat, reported);
  }

  /** Langflow's output filter: output components whose id contains output_type (or any), `debug` reports all. */
  private reported(node: FlowNode, def: ComponentDef, request: EngineRunRequest): boolean {
    if (request.outputComponent) return node.id === request.outputComponent;
    if (request.outputType === "debug") return true;
    return def.role === "output" && (request.outputType === "any" || node.id.toLowerCase().includes(request.outputType));
  }

  /**
   * A node's run: built now if its sources are and its component answers at once, else a
   * promise. A node is built once per run (`done` once built, `runs` while it waits or once it
   * failed); a failure is always a rejected promise, which every caller awaits or settles.
   */
  private node(id: string): NodeRun | Promise<NodeRun> {
    const done = this.done.get(id);
    if (done !== undefined) return done;
    const waiting = this.runs.get(id);
    if (waiting !== undefined) return waiting;
    let built: NodeRun | Promise<NodeRun>;
    try {
      built = this.build(this.plan.nodes.get(id) as NodePlan);
    } catch (err) {
      built = Promise.reject(err as Error);
    }
    if (built instanceof Promise) this.runs.set(id, built);
    return built;
  }

  private build(plan: NodePlan): NodeRun | Promise<NodeRun> {
    let waits: Promise<NodeRun>[] | null = null;
    for (const edge of plan.incoming) {
      if (injected(this.scope, edge)) continue;
      const source = this.node(edge.source);
      if (source instanceof Promise) (waits ??= []).push(source);
    }
    return waits === null ? this.start(plan) : this.startAfter(waits, plan);
  }

  /** Waits for the sources still building, in edge order (the first failure is the node's). */
  private async startAfter(waits: readonly Promise<NodeRun>[], plan: NodePlan): Promise<NodeRun> {
    for (const source of waits) await source;
    return this.start(plan);
  }

  private start(plan: NodePlan): NodeRun | Promise<NodeRun> {
    const { node } = plan;
    if (this.state.aborted) throw new FlowRunError("the run was cancelled", node.id, node.displayName);
    const ctx = new RunContext(node, this.state, this, plan, this.fields.get(node.id) ?? {}, this.scope);
    return this.compute(plan, ctx, new Map(), 0, this.state.trace ? spanClock() : 0);
  }

  /** The node's outputs from the `from`-th on, in order: at once while each method answers at once. */
  private compute(plan: NodePlan, ctx: RunContext, outputs: Map<string, unknown>, from: number, startedAt: number): NodeRun | Promise<NodeRun> {
    const def = plan.def as ComponentDef;
    for (let i = from; i < plan.outputs.length; i++) {
      const { name, method } = plan.outputs[i] as NodePlan["outputs"][number];
      ctx.current = name;
      let value: unknown;
      try {
        value = method === "to_toolkit" ? buildTools(ctx, def) : (def.methods[method] as OutputMethod)(ctx);
      } catch (err) {
        throw this.failure(plan, ctx, outputs, startedAt, err);
      }
      if (value instanceof Promise) return this.computeLater(plan, ctx, outputs, i, value, startedAt);
      outputs.set(name, value);
    }
    return this.finished(plan, ctx, outputs, startedAt);
  }

  /** The `i`-th output once its method's promise settles, then the rest. */
  private async computeLater(plan: NodePlan, ctx: RunContext, outputs: Map<string, unknown>, i: number, pending: Promise<unknown>, startedAt: number): Promise<NodeRun> {
    let value: unknown;
    try {
      value = await pending;
    } catch (err) {
      throw this.failure(plan, ctx, outputs, startedAt, err);
    }
    outputs.set((plan.outputs[i] as NodePlan["outputs"][number]).name, value);
    return this.compute(plan, ctx, outputs, i + 1, startedAt);
  }

  /** What a node's failure is reported and thrown as: its span, and an error naming the component. */
  private failure(plan: NodePlan, ctx: RunContext, outputs: Map<string, unknown>, startedAt: number, err: unknown): FlowRunError {
    const { node } = plan;
    const trace = this.state.trace;
    reportSpan(trace, node, startedAt, [], err, [], trace?.io ? spanIo(plan, ctx, outputs) : undefined);
    if (err instanceof FlowRunError && err.componentId) return err;
    const reason = err instanceof Error ? err.message : String(err);
    return new FlowRunError(`Error building Component ${node.displayName}: ${reason}`, node.id, node.displayName);
  }

  private finished(plan: NodePlan, ctx: RunContext, outputs: Map<string, unknown>, startedAt: number): NodeRun {
    const { node, incoming } = plan;
    const trace = this.state.trace;
    if (trace) {
      const scope = this.scope;
      // What the node received: every output of each source it waited for, sources in edge order.
      const sources = new Set(incoming.filter((e) => !injected(scope, e)).map((e) => e.source));
      reportSpan(trace, node, startedAt, outputs.values(), undefined, [...sources].flatMap((s) => [...(this.done.get(s)?.outputs.values() ?? [])]), trace.io ? spanIo(plan, ctx, outputs) : undefined);
    }
    const run: NodeRun = { outputs, logs: ctx.logs };
    this.done.set(node.id, run);
    return run;
  }
}
