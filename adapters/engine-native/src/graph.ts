import { UnprocessableFlowError, edgesFrom, type Flow, type FlowEdge, type FlowNode } from "@flowplane/core/replica";

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
  /** Each Loop's body, by the loop's node id (a flow without loops has none). */
  loops: Map<string, LoopBody>;
  /** Nodes that run only inside a loop's body, never in the outer run (lfx stops the item branch). */
  insideLoops: Set<string>;
}

/**
 * A Loop's body as lfx 1.13 finds it (`loop_utils.get_loop_body_vertices`): the nodes reachable
 * from the loop's item output up to the node feeding back into it (`inner`), plus every
 * predecessor of those but the loop itself (`nodes`, run afresh for each item).
 */
export interface LoopBody {
  /** The edges from the loop's item output: each target field receives the item. */
  itemEdges: FlowEdge[];
  /** The feedback edge (its source is the body's last node). */
  feedback: FlowEdge;
  inner: Set<string>;
  nodes: Set<string>;
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
  const feedbacks = flow.edges.filter((e) => e.loopOutput !== undefined);
  for (const edge of flow.edges) {
    if (edge.loopOutput !== undefined) {
      // A loop's feedback edge: read by the loop's body run, not an input of the loop.
      const used = usedOutputs.get(edge.source) ?? new Set<string>();
      used.add(edge.sourceHandle.name);
      usedOutputs.set(edge.source, used);
      continue;
    }
    checkEdge(flow, edge, nodes, problems);
    incoming.get(edge.target)?.push(edge);
    const used = usedOutputs.get(edge.source) ?? new Set<string>();
    used.add(edge.sourceHandle.name);
    usedOutputs.set(edge.source, used);
  }
  // Kahn's algorithm; what is left over sits on a cycle.
  const indegree = new Map([...nodes.keys()].map((id) => [id, new Set((incoming.get(id) ?? []).map((e) => e.source)).size]));
  const order: string[] = [];
  // By index, not shift(), and each node's edges from the flow's index (edgesFrom): a scan of
  // every edge per node made a replica's start quadratic in the flow's size.
  const ready = [...nodes.keys()].filter((id) => indegree.get(id) === 0);
  for (let next = 0; next < ready.length; next++) {
    const id = ready[next]!;
    order.push(id);
    const targets = new Set(edgesFrom(flow, id).filter((e) => e.loopOutput === undefined).map((e) => e.target));
    for (const t of targets) {
      const d = (indegree.get(t) ?? 0) - 1;
      indegree.set(t, d);
      if (d === 0) ready.push(t);
    }
  }
  if (order.length < nodes.size) {
    const ordered = new Set(order);
    const stuck = [...nodes.keys()].filter((id) => !ordered.has(id));
    problems.push(`the flow has a cycle through ${stuck.join(", ")}; the native engine runs cycles only through a Loop's feedback edge`);
  }
  const { loops, insideLoops } = loopBodies(flow, nodes, feedbacks, problems);
  if (problems.length > 0) {
    throw new UnprocessableFlowError(`flow "${flow.name}" (${flow.id}) cannot be loaded: ${problems.join("; ")}`, problems);
  }
  return { flow, nodes, incoming, usedOutputs, order, loops, insideLoops };
}

/** The body of each loop (see LoopBody); a flow whose outer part reads a body node is refused. */
function loopBodies(flow: Flow, nodes: Map<string, FlowNode>, feedbacks: FlowEdge[], problems: string[]): { loops: Map<string, LoopBody>; insideLoops: Set<string> } {
  const loops = new Map<string, LoopBody>();
  const insideLoops = new Set<string>();
  const edges = flow.edges.filter((e) => e.loopOutput === undefined);
  for (const feedback of feedbacks) {
    const loop = feedback.target;
    const output = feedback.loopOutput as string;
    if (loops.has(loop)) {
      problems.push(`${nodes.get(loop)?.displayName ?? loop} (${loop}) has more than one feedback edge`);
      continue;
    }
    const itemEdges = edges.filter((e) => e.source === loop && e.sourceHandle.name === output);
    const end = feedback.source;
    // Breadth first from the item's targets, not past the node that feeds back (lfx's order).
    const inner = new Set<string>();
    const queue = itemEdges.map((e) => e.target);
    while (queue.length > 0) {
      const id = queue.shift() as string;
      if (inner.has(id)) continue;
      inner.add(id);
      if (id === end) continue;
      for (const e of edges) if (e.source === id && !inner.has(e.target)) queue.push(e.target);
    }
    if (!inner.has(end)) {
      problems.push(`the loop ${nodes.get(loop)?.displayName ?? loop} (${loop}): its feedback comes from ${end}, which its item output does not reach`);
      continue;
    }
    // Every predecessor of the body but the loop itself runs in the body too (lfx's rule).
    const body = new Set(inner);
    const pending = [...inner];
    while (pending.length > 0) {
      const id = pending.pop() as string;
      for (const e of edges) {
        if (e.target === id && e.source !== loop && !body.has(e.source)) {
          body.add(e.source);
          pending.push(e.source);
        }
      }
    }
    loops.set(loop, { itemEdges, feedback, inner, nodes: body });
    for (const id of inner) insideLoops.add(id);
  }
  // lfx stops the item branch in the outer graph: a node outside the body that reads one inside
  // would never run there; native refuses such a flow rather than guess.
  for (const e of edges) {
    if (insideLoops.has(e.source) && !insideLoops.has(e.target)) {
      problems.push(`${nodes.get(e.target)?.displayName ?? e.target} (${e.target}) reads ${e.source} inside a loop's body from outside it; the native engine does not run that`);
    }
  }
  return { loops, insideLoops };
}
