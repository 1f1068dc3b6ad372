import { UnprocessableFlowError, type Flow, type FlowEdge, type FlowNode } from "@flowplane/core";

/**
 * A flow prepared for running: its runnable nodes (notes dropped), the edges into each node,
 * and a dependency order. Everything that can be checked without running is checked here, so
 * a replica refuses a broken flow at load instead of failing its first caller.
 */
export interface FlowGraph {
  flow: Flow;
  nodes: Map<string, FlowNode>;
  /** Edges into each node, in export order. */
  incoming: Map<string, FlowEdge[]>;
  /** Nodes with an edge leaving them, and which output names are used. */
  usedOutputs: Map<string, Set<string>>;
  /** Node ids in a dependency order (every node after all its sources). */
  order: string[];
}

/** Langflow treats Text and Message as one type on handles (Message carries text). */
function compatible(outputTypes: string[], inputTypes: string[]): boolean {
  if (inputTypes.length === 0) return true;
  const accepted = new Set(inputTypes);
  if (accepted.has("Message")) accepted.add("Text");
  if (accepted.has("Text")) accepted.add("Message");
  return outputTypes.some((t) => accepted.has(t));
}

function checkEdge(flow: Flow, edge: FlowEdge, nodes: Map<string, FlowNode>, problems: string[]): void {
  const source = nodes.get(edge.source);
  const target = nodes.get(edge.target);
  if (!source || !target) {
    problems.push(`edge ${edge.source} -> ${edge.target} connects a note or a missing node`);
    return;
  }
  const output = source.outputs.find((o) => o.name === edge.sourceHandle.name);
  if (!output) {
    problems.push(`edge ${edge.source} -> ${edge.target}: ${source.displayName} (${source.id}) has no output "${edge.sourceHandle.name}"`);
    return;
  }
  const field = edge.targetHandle.fieldName;
  if (!(field in target.template)) {
    problems.push(`edge ${edge.source} -> ${edge.target}: ${target.displayName} (${target.id}) has no input "${field}"`);
    return;
  }
  const outTypes = edge.sourceHandle.output_types.length > 0 ? edge.sourceHandle.output_types : output.types;
  const declared = target.template[field]?.input_types;
  const inTypes = edge.targetHandle.inputTypes ?? (Array.isArray(declared) ? declared.filter((t): t is string => typeof t === "string") : []);
  if (!compatible(outTypes, inTypes)) {
    problems.push(
      `edge ${edge.source} -> ${edge.target}: output "${output.name}" of ${source.displayName} gives ${outTypes.join("|")}, but input "${field}" of ${target.displayName} accepts ${inTypes.join("|")}`,
    );
  }
  void flow;
}

export function buildGraph(flow: Flow): FlowGraph {
  const nodes = new Map(flow.nodes.filter((n) => !n.isNote).map((n) => [n.id, n]));
  const incoming = new Map<string, FlowEdge[]>([...nodes.keys()].map((id) => [id, []]));
  const usedOutputs = new Map<string, Set<string>>();
  const problems: string[] = [];
  for (const edge of flow.edges) {
    checkEdge(flow, edge, nodes, problems);
    incoming.get(edge.target)?.push(edge);
    const used = usedOutputs.get(edge.source) ?? new Set<string>();
    used.add(edge.sourceHandle.name);
    usedOutputs.set(edge.source, used);
  }
  // Kahn's algorithm; what is left over sits on a cycle.
  const indegree = new Map([...nodes.keys()].map((id) => [id, new Set((incoming.get(id) ?? []).map((e) => e.source)).size]));
  const order: string[] = [];
  const ready = [...nodes.keys()].filter((id) => indegree.get(id) === 0);
  while (ready.length > 0) {
    const id = ready.shift() as string;
    order.push(id);
    const targets = new Set(flow.edges.filter((e) => e.source === id).map((e) => e.target));
    for (const t of targets) {
      const d = (indegree.get(t) ?? 0) - 1;
      indegree.set(t, d);
      if (d === 0) ready.push(t);
    }
  }
  if (order.length < nodes.size) {
    const stuck = [...nodes.keys()].filter((id) => !order.includes(id));
    problems.push(`the flow has a cycle through ${stuck.join(", ")}; the native engine runs acyclic flows only`);
  }
  if (problems.length > 0) {
    throw new UnprocessableFlowError(`flow "${flow.name}" (${flow.id}) cannot be loaded: ${problems.join("; ")}`, problems);
  }
  return { flow, nodes, incoming, usedOutputs, order };
}
