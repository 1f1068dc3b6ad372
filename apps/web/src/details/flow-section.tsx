import { Suspense, lazy, useEffect, useId, useState } from "react";
import type { BundleVersion, Deployment, FlowGraph } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { ErrorState, Loading } from "../ui/states";
import { Section } from "./section";

// React Flow is most of the UI's weight: loaded when a graph is first shown, not with every page.
const FlowGraphView = lazy(() => import("../ui/flow-graph").then((m) => ({ default: m.FlowGraphView })));

/** What the deployment runs, drawn: the pinned version's flows, one at a time. */
export function FlowSection({ d, version }: { d: Deployment; version: BundleVersion | null }) {
  const s = useSession();
  const select = useId();
  const flows = version?.flows ?? [];
  const [flowId, setFlowId] = useState<string | null>(null);
  const flow = flows.find((f) => f.id === flowId) ?? flows[0];
  const [graph, setGraph] = useState<FlowGraph | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!flow) return;
    let live = true;
    setGraph(null);
    setError(null);
    s.api("getFlowGraph", { params: { name: d.bundle.name, tag: d.bundle.version, flowId: flow.id } })
      .then((g) => live && setGraph(g), (e: unknown) => live && setError(e));
    return () => { live = false; };
  }, [s.api, d.bundle.name, d.bundle.version, flow, attempt]);

  const picker = flows.length > 1 && (
    <span className="inline-select section-action">
      <label htmlFor={select}>Flow</label>
      <select id={select} value={flow?.id ?? ""} onChange={(e) => setFlowId(e.target.value)}>
        {flows.map((f) => <option key={f.id} value={f.id}>{f.name}</option>)}
      </select>
    </span>
  );
  return (
    <Section title="Flow" action={picker || undefined}>
      {error ? <ErrorState error={error} onRetry={() => setAttempt((n) => n + 1)} />
        : !graph ? <Loading what="the flow" />
          : (
            <Suspense fallback={<Loading what="the flow" />}>
              <FlowGraphView graph={graph} label={`${graph.name}: ${graph.nodes.length} components, ${graph.edges.length} connections`} />
            </Suspense>
          )}
      {graph && <p className="muted small">{graph.name}, as the Langflow editor laid it out ({d.bundle.name} {d.bundle.version}). Read-only.</p>}
    </Section>
  );
}
