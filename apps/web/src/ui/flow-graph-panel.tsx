import { Suspense, lazy, useEffect, useState } from "react";
import type { FlowGraph, Trace } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { ErrorState, Loading } from "./states";

// React Flow is most of the UI's weight: loaded when a graph is first shown, not with every page.
const FlowGraphView = lazy(() => import("./flow-graph").then((m) => ({ default: m.FlowGraphView })));

/** One flow of a version, fetched from the API and drawn; loading and errors shown in place. With a trace: each component's run overlaid. */
export function FlowGraphPanel({ name, tag, flowId, trace }: { name: string; tag: string; flowId: string; trace?: Trace }) {
  const s = useSession();
  const [graph, setGraph] = useState<FlowGraph | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let live = true;
    setGraph(null);
    setError(null);
    s.api("getFlowGraph", { params: { name, tag, flowId } }).then((g) => live && setGraph(g), (e: unknown) => live && setError(e));
    return () => { live = false; };
  }, [s.api, name, tag, flowId, attempt]);

  if (error) return <ErrorState error={error} onRetry={() => setAttempt((n) => n + 1)} />;
  if (!graph) return <Loading what="the flow" />;
  return (
    <>
      <Suspense fallback={<Loading what="the flow" />}>
        <FlowGraphView graph={graph} trace={trace} label={`${graph.name}: ${graph.nodes.length} components, ${graph.edges.length} connections${trace ? `, with the run's trace` : ""}`} />
      </Suspense>
      <p className="muted small">{graph.name}, as the Langflow editor laid it out ({name} {tag}). Read-only.{trace ? " Each component shows its time in this run; the one that failed is red." : ""}</p>
    </>
  );
}
