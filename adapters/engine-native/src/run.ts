import { FlowRunError, type EngineRunRequest, type EngineRunResult, type FlowEdge, type FlowNode } from "@flowplane/core/replica";
import { deriveContext, type ComponentDef, type NodeContext, type RunState } from "./component.js";
import type { FlowGraph } from "./graph.js";
import type { FieldValues } from "./prepare.js";
import { componentResult } from "./results.js";
import { buildTools } from "./tools.js";
import { reportSpan, spanClock, spanInputs } from "./trace.js";
import { Message, toText } from "./values.js";

/**
 * Runs one flow once. Every node starts as soon as its sources are done, so independent
 * branches run concurrently; a node runs once per run however many nodes read it.
 */

/** The outputs a node computes: the ones edges read, else its first (an end of the graph). */
export function outputsToRun(graph: FlowGraph, node: FlowNode): string[] {
  const used = graph.usedOutputs.get(node.id);
  if (used && used.size > 0) return node.outputs.filter((o) => used.has(o.name)).map((o) => o.name);
  const first = node.outputs[0];
  return first ? [first.name] : [];
}

/** Langflow's method for an output (`message_response` for `message`). */
export const methodOf = (node: FlowNode, output: string): string => node.outputs.find((o) => o.name === output)?.method ?? output;

interface NodeRun {
  outputs: Map<string, unknown>;
  logs: Map<string, string[]>;
}

/**
 * One pass of a loop's body: only the body's nodes run (afresh), and the fields the loop's item
 * output feeds receive this item instead (lfx injects it into a fresh subgraph per item).
 */
interface BodyScope {
  nodes: ReadonlySet<string>;
  loop: string;
  item: unknown;
}

export class FlowRun {
  private readonly runs = new Map<string, Promise<NodeRun>>();

  constructor(
    private readonly graph: FlowGraph,
    private readonly registry: Record<string, ComponentDef>,
    private readonly fields: FieldValues,
    private readonly state: RunState,
    private readonly scope?: BodyScope,
  ) {}

  /**
   * Runs a loop's body once per item, in order (lfx's `execute_loop_body`), and returns what
   * the body's last node gave each time: its first output computed (lfx's `extract_loop_output`).
   */
  private async loopBody(loopId: string, items: readonly unknown[]): Promise<unknown[]> {
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
    const all = this.graph.order.filter((id) => !this.graph.insideLoops.has(id)).map((id) => this.node(id));
    // Wait for every node even when one fails, so nothing keeps running after the answer.
    const settled = await Promise.allSettled(all);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;

    const outputs = [];
    let chat: EngineRunResult["chat"] = null;
    for (const node of this.graph.flow.nodes) {
      const def = this.registry[node.type];
      if (!def || node.isNote || this.graph.insideLoops.has(node.id)) continue;
      const run = await this.node(node.id);
      const message = run.outputs.values().next().value;
      if (!chat && node.type === "ChatOutput" && message instanceof Message) {
        chat = { text: message.text, componentDisplayName: node.displayName, componentId: node.id };
      }
      if (!this.reported(node, def, request)) continue;
      outputs.push(componentResult(node, run.outputs, run.logs, node.type === "ChatOutput" || node.type === "ChatInput"));
    }
    return { sessionId: this.state.sessionId, inputs: { input_value: request.inputValue ?? "" }, outputs, chat };
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
    const node = this.graph.nodes.get(id) as FlowNode;
    const incoming = this.graph.incoming.get(id) ?? [];
    const sources = new Map<string, NodeRun>();
    const scope = this.scope;
    // In a loop's body pass, the loop itself is outside: its item reaches the body as injected.
    const injected = (edge: FlowEdge) => scope !== undefined && edge.source === scope.loop && !scope.nodes.has(edge.source);
    for (const edge of incoming) if (!injected(edge)) sources.set(edge.source, await this.node(edge.source));
    if (this.state.signal.aborted) throw new FlowRunError("the run was cancelled", node.id, node.displayName);

    const def = this.registry[node.type] as ComponentDef;
    const logs = new Map<string, string[]>();
    let current = "";
    const own = this.fields.get(id) ?? {};
    const connected = (field: string) => incoming.filter((e) => e.targetHandle.fieldName === field);
    const valueOf = (field: string): unknown => {
      const edges = connected(field);
      if (edges.length === 0) return own[field];
      const values = edges.map((e) => (injected(e) ? scope?.item : sources.get(e.source)?.outputs.get(e.sourceHandle.name)));
      // Fields fed by several edges (an agent's tools) get them all; a list output is spread.
      return edges.length === 1 && node.template[field]?.list !== true ? values[0] : values.flat();
    };
    const ctx = deriveContext(
      {
        node,
        run: this.state,
        value: valueOf,
        connected: (field) => connected(field).length > 0,
        runLoopBody: (items) => this.loopBody(id, items),
        source: (field) => {
          const edge = connected(field)[0];
          return edge ? this.graph.nodes.get(edge.source) : undefined;
        },
        log(message) {
          const list = logs.get(current) ?? [];
          list.push(message);
          logs.set(current, list);
        },
      },
      toText,
    );

    const outputs = new Map<string, unknown>();
    const startedAt = spanClock();
    for (const output of outputsToRun(this.graph, node)) {
      current = output;
      const method = methodOf(node, output);
      try {
        const value = method === "to_toolkit" ? buildTools(ctx, def) : await (def.methods[method] as (c: NodeContext) => Promise<unknown>)(ctx);
        outputs.set(output, value);
      } catch (err) {
        reportSpan(this.state.trace, node, startedAt, [], err, [], this.state.trace?.io ? { inputs: spanInputs(own, incoming, valueOf), outputs: Object.fromEntries(outputs) } : undefined);
        if (err instanceof FlowRunError && err.componentId) throw err;
        const reason = err instanceof Error ? err.message : String(err);
        throw new FlowRunError(`Error building Component ${node.displayName}: ${reason}`, node.id, node.displayName);
      }
    }
    if (this.state.trace) {
      reportSpan(this.state.trace, node, startedAt, outputs.values(), undefined, [...sources.values()].flatMap((s) => [...s.outputs.values()]),
        this.state.trace.io ? { inputs: spanInputs(own, incoming, valueOf), outputs: Object.fromEntries(outputs) } : undefined);
    }
    return { outputs, logs };
  }
}
