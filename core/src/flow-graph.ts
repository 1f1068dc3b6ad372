import type { FlowGraph } from "./api/bundles.js";
import { graphOf, type Flow } from "./flow.js";

const finite = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/**
 * A flow as a picture (the contract's FlowGraph): its components where the Langflow editor
 * placed them and the edges between them, for a read-only view of what a deployment runs.
 * Notes (documentation on the canvas) are left out; nothing of a node's field values is
 * included, so the graph carries no parameter or credential value.
 */
export function flowGraph(flow: Flow): FlowGraph {
  const out = { flowId: flow.id, name: flow.name };
  const positions = new Map<string, { x: number; y: number }>();
  for (const n of graphOf(flow.raw)?.nodes ?? []) {
    const node = n as { id?: unknown; position?: { x?: unknown; y?: unknown } };
    if (typeof node.id === "string") positions.set(node.id, { x: finite(node.position?.x), y: finite(node.position?.y) });
  }
  const nodes = flow.nodes.filter((n) => !n.isNote).map((n) => ({
    id: n.id, type: n.type, displayName: n.displayName, position: positions.get(n.id) ?? { x: 0, y: 0 },
  }));
  const kept = new Set(nodes.map((n) => n.id));
  const edges = flow.edges.filter((e) => kept.has(e.source) && kept.has(e.target)).map((e) => ({
    id: e.id, source: e.source, target: e.target, sourceOutput: e.sourceHandle.name, targetInput: e.loopOutput ?? e.targetHandle.fieldName,
  }));
  return { ...out, nodes, edges };
}
