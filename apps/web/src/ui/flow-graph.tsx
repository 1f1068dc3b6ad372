import { useMemo } from "react";
import { Background, Controls, Handle, Position, ReactFlow, type Edge, type Node, type NodeProps } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import type { FlowGraph } from "@flowplane/core/api";

type ComponentNode = Node<{ displayName: string; type: string }, "component">;

/** A component as a card: its name on the canvas and its type; handles only anchor the edges. */
function ComponentCard({ data }: NodeProps<ComponentNode>) {
  return (
    <div className="graph-node" data-component-type={data.type}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <strong>{data.displayName}</strong>
      <span className="mono muted">{data.type}</span>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

const NODE_TYPES = { component: ComponentCard };

/**
 * Langflow's cards are about 384 px wide and tall with fields, and the editor spaces them to
 * match; these cards show only a name and a type. Positions are drawn at half scale, so the
 * layout keeps its shape and the whole flow fits at a readable zoom.
 */
const LAYOUT_SCALE = 0.5;

/**
 * A flow, read-only, drawn with React Flow (@xyflow/react, the library Langflow's editor is
 * built on), at the positions the editor saved: what the user sees matches their canvas.
 * Nothing can be moved, connected or deleted; the view pans and zooms.
 */
export function FlowGraphView({ graph, label }: { graph: FlowGraph; label: string }) {
  const nodes = useMemo<ComponentNode[]>(() => graph.nodes.map((n) => ({
    id: n.id, type: "component", position: { x: n.position.x * LAYOUT_SCALE, y: n.position.y * LAYOUT_SCALE }, data: { displayName: n.displayName, type: n.type },
    draggable: false, connectable: false, selectable: false,
  })), [graph]);
  const edges = useMemo<Edge[]>(() => graph.edges.map((e) => ({
    id: e.id, source: e.source, target: e.target, type: "smoothstep", focusable: false,
    ariaLabel: `${e.sourceOutput} to ${e.targetInput}`,
  })), [graph]);
  return (
    <figure className="graph" aria-label={label}>
      <ReactFlow nodes={nodes} edges={edges} nodeTypes={NODE_TYPES} fitView fitViewOptions={{ padding: 0.15 }}
        nodesDraggable={false} nodesConnectable={false} elementsSelectable={false} nodesFocusable={false} edgesFocusable={false}
        zoomOnScroll={false} preventScrolling={false} minZoom={0.1} proOptions={{ hideAttribution: true }}>
        <Background gap={24} />
        <Controls showInteractive={false} />
      </ReactFlow>
    </figure>
  );
}
