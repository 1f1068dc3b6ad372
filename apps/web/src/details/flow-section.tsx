import { useId, useState } from "react";
import type { BundleVersion, Deployment } from "@flowplane/core/api";
import { FlowGraphPanel } from "../ui/flow-graph-panel";
import { Loading } from "../ui/states";
import { Section } from "./section";

/** What the deployment runs, drawn: the pinned version's flows, one at a time. */
export function FlowSection({ d, version }: { d: Deployment; version: BundleVersion | null }) {
  const select = useId();
  const flows = version?.flows ?? [];
  const [flowId, setFlowId] = useState<string | null>(null);
  const flow = flows.find((f) => f.id === flowId) ?? flows[0];
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
      {flow ? <FlowGraphPanel name={d.bundle.name} tag={d.bundle.version} flowId={flow.id} /> : <Loading what="the flow" />}
    </Section>
  );
}
