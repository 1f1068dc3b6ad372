import { FlowRunError, type ComponentResult, type EngineRunRequest, type EngineRunResult, type FlowEdge, type FlowNode } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext, RunState } from "./component.js";
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
    const results: unknown[] = [];
    for (const item of items) {
      const pass = new FlowRun(this.graph, this.registry, this.fields, this.state, { nodes: body.nodes, loop: loopId, item });
      const ids = this.graph.order.filter((id) => body.nodes.has(id));
      const settled = await Promise.allSettled(ids.map((id) => pass.node(id)));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (failed) throw failed.reason;
      const outputs = (await pass.node(end.id)).outputs;
      const first = end.outputs.find((o) => outputs.has(o.name));
      results.push(first ? outputs.get(first.name) : undefined);
    }
    return results;
  }

  async execute(request: EngineRunRequest): Promise<EngineRunResult> {
    const ids = this.plan.outer;
    // Wait for every node even when one fails, so nothing keeps running after the answer.
    const settled = await Promise.allSettled(ids.map((id) => this.node(id)));
    for (const s of settled) if (s.status === "rejected") throw s.reason;

    const reported: [FlowNode, NodeRun][] = [];
    let chat: EngineRunResult["chat"] = null;
    for (const { node, def } of this.plan.results) {
      const run = this.done.get(node.id) ?? (await this.node(node.id));
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

  private node(id: string): Promise<NodeRun> {
    let run = this.runs.get(id);
    if (!run) {
      run = this.build(id);
      this.runs.set(id, run);
    }
    return run;
  }

  private async build(id: string): Promise<NodeRun> {
    const plan = this.plan.nodes.get(id) as NodePlan;
    const { node, incoming } = plan;
    const scope = this.scope;
    for (const edge of incoming) if (!injected(scope, edge)) await this.node(edge.source);
    if (this.state.aborted) throw new FlowRunError("the run was cancelled", node.id, node.displayName);

    const def = plan.def as ComponentDef;
    const ctx = new RunContext(node, this.state, this, plan, this.fields.get(id) ?? {}, scope);
    const trace = this.state.trace;

    const outputs = new Map<string, unknown>();
    const startedAt = trace ? spanClock() : 0;
    for (const { name, method } of plan.outputs) {
      ctx.current = name;
      try {
        const value = method === "to_toolkit" ? buildTools(ctx, def) : await (def.methods[method] as (c: NodeContext) => Promise<unknown>)(ctx);
        outputs.set(name, value);
      } catch (err) {
        reportSpan(trace, node, startedAt, [], err, [], trace?.io ? { inputs: spanInputs(node, ctx.own, incoming, (f) => ctx.value(f)), outputs: Object.fromEntries(outputs) } : undefined);
        if (err instanceof FlowRunError && err.componentId) throw err;
        const reason = err instanceof Error ? err.message : String(err);
        throw new FlowRunError(`Error building Component ${node.displayName}: ${reason}`, node.id, node.displayName);
      }
    }
    if (trace) {
      // What the node received: every output of each source it waited for, sources in edge order.
      const sources = new Set(incoming.filter((e) => !injected(scope, e)).map((e) => e.source));
      reportSpan(trace, node, startedAt, outputs.values(), undefined, [...sources].flatMap((s) => [...(this.done.get(s)?.outputs.values() ?? [])]),
        trace.io ? { inputs: spanInputs(node, ctx.own, incoming, (f) => ctx.value(f)), outputs: Object.fromEntries(outputs) } : undefined);
    }
    const run: NodeRun = { outputs, logs: ctx.logs };
    this.done.set(id, run);
    return run;
  }
}
