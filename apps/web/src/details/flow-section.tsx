import type { BundleVersion, Deployment } from "@flowplane/core/api";
import { FlowGraphPanel } from "../ui/flow-graph-panel";
import { Loading } from "../ui/states";
import { useFlowPicker } from "./flow-picker";
import { Section } from "./section";

/** What the deployment runs, drawn: the pinned version's flows, one at a time. */
export function FlowSection({ d, version }: { d: Deployment; version: BundleVersion | null }) {
  const { flow, picker } = useFlowPicker(version?.flows ?? [], "inline-select section-action");
  return (
    <Section title="Flow" action={picker ?? undefined}>
      {flow ? <FlowGraphPanel name={d.bundle.name} tag={d.bundle.version} flowId={flow.id} /> : <Loading what="the flow" />}
    </Section>
  );
}
