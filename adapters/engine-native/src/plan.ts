import type { FlowEdge, FlowNode } from "@flowplane/core/replica";
import type { ComponentDef } from "./component.js";
import type { FlowGraph } from "./graph.js";

/**
 * What every run of a graph looks up per node, worked out once per graph (a flow's graph is
 * built once, at load) instead of on every run: the node's implementation, the edges into each
 * of its fields, the outputs it computes and their methods, and which nodes the outer run starts
 * and reports. Filtering a node's edges on every field read and its outputs on every run was a
 * large part of a short flow's run (issue #16, the echo flow).
 */
export interface NodePlan {
  node: FlowNode;
  /** The node's implementation (every node has one once the engine has loaded the flow). */
  def: ComponentDef | undefined;
  /** Edges into the node, in export order (graph.incoming). */
  incoming: readonly FlowEdge[];
  /** What feeds each connected field; a field absent here is not connected. */
  byField: ReadonlyMap<string, FieldFeed>;
  /** The outputs a run computes (outputsToRun), each with Langflow's method name (methodOf). */
  outputs: readonly { name: string; method: string }[];
}

/** The edges into one field, in export order. */
export interface FieldFeed {
  edges: readonly FlowEdge[];
  /**
   * The field receives every edge's value as one list (several edges, as an agent's tools, or a
   * list field, whose list values are spread); else the one edge's value as it is.
   */
  many: boolean;
}

export interface RunPlan {
  nodes: ReadonlyMap<string, NodePlan>;
  /** The nodes the outer run builds (not inside a loop's body), in dependency order. */
  outer: readonly string[];
  /** The nodes whose results a run may report, in export order (implemented, not inside a loop's body). */
  results: readonly NodePlan[];
}

/** The outputs a node computes: the ones edges read, else its first (an end of the graph). */
export function outputsToRun(graph: FlowGraph, node: FlowNode): string[] {
  const used = graph.usedOutputs.get(node.id);
  if (used && used.size > 0) return node.outputs.filter((o) => used.has(o.name)).map((o) => o.name);
  const first = node.outputs[0];
  return first ? [first.name] : [];
}

/** Langflow's method for an output (`message_response` for `message`). */
export const methodOf = (node: FlowNode, output: string): string => node.outputs.find((o) => o.name === output)?.method ?? output;

/** Each graph's plan, for the registry it was made with (the engine has one registry). */
const plans = new WeakMap<FlowGraph, { registry: Record<string, ComponentDef>; plan: RunPlan }>();

export function planOf(graph: FlowGraph, registry: Record<string, ComponentDef>): RunPlan {
  const cached = plans.get(graph);
  if (cached && cached.registry === registry) return cached.plan;
  const nodes = new Map<string, NodePlan>();
  for (const node of graph.nodes.values()) {
    const incoming = graph.incoming.get(node.id) ?? [];
    const byField = new Map<string, FieldFeed>();
    for (const edge of incoming) {
      const feed = byField.get(edge.targetHandle.fieldName);
      if (feed) (feed.edges as FlowEdge[]).push(edge);
      else byField.set(edge.targetHandle.fieldName, { edges: [edge], many: false });
    }
    for (const [field, feed] of byField) feed.many = feed.edges.length !== 1 || node.template[field]?.list === true;
    const outputs = outputsToRun(graph, node).map((name) => ({ name, method: methodOf(node, name) }));
    nodes.set(node.id, { node, def: registry[node.type], incoming, byField, outputs });
  }
  const outer = graph.order.filter((id) => !graph.insideLoops.has(id));
  const results: NodePlan[] = [];
  for (const node of graph.flow.nodes) {
    const p = nodes.get(node.id);
    if (p?.def && !node.isNote && !graph.insideLoops.has(node.id)) results.push(p);
  }
  const plan: RunPlan = { nodes, outer, results };
  plans.set(graph, { registry, plan });
  return plan;
}
