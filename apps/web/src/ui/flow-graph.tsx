import { useMemo } from "react";
import { Background, Controls, Handle, Position, ReactFlow, type Edge, type Node, type NodeProps } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import type { FlowGraph, Trace } from "@flowplane/core/api";

/** A component's part in a run, when a trace is overlaid: its time and status, or `skipped` (it did not run). */
type Overlay = { status: "ok" | "error"; durationMs: number; error: string | null } | "skipped";
type ComponentNode = Node<{ displayName: string; type: string; overlay?: Overlay }, "component">;

/** A component as a card: its name on the canvas and its type; handles only anchor the edges. With a trace: its time, red when it failed. */
function ComponentCard({ data }: NodeProps<ComponentNode>) {
  const o = data.overlay;
  const state = o === undefined ? undefined : o === "skipped" ? "skipped" : o.status;
  return (
    <div className={`graph-node${state ? ` graph-node-${state}` : ""}`} data-component-type={data.type} data-run-status={state}
      title={o && o !== "skipped" && o.error ? o.error : undefined}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <strong>{data.displayName}</strong>
      <span className="mono muted">{data.type}</span>
      {o !== undefined && (
        <span className="graph-node-run mono small">{o === "skipped" ? "did not run" : `${o.status === "error" ? "failed · " : ""}${formatMs(o.durationMs)}`}</span>
      )}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

/** A duration for a card or a waterfall row: µs-precise under 10 ms, whole ms above, seconds from 10 s. */
function formatMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
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
export function FlowGraphView({ graph, label, trace }: { graph: FlowGraph; label: string; trace?: Trace | undefined }) {
  const nodes = useMemo<ComponentNode[]>(() => {
    const spans = new Map(trace?.spans.map((sp) => [sp.componentId, sp]));
    return graph.nodes.map((n) => {
      const sp = spans.get(n.id);
      const overlay: Overlay | undefined = !trace ? undefined : sp ? { status: sp.status, durationMs: sp.durationMs, error: sp.error } : "skipped";
      return {
        id: n.id, type: "component", position: { x: n.position.x * LAYOUT_SCALE, y: n.position.y * LAYOUT_SCALE },
        data: { displayName: n.displayName, type: n.type, ...(overlay ? { overlay } : {}) },
        draggable: false, connectable: false, selectable: false,
      };
    });
  }, [graph, trace]);
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
