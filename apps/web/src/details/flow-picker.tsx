import { useId, useState } from "react";
import type { FlowSummary } from "@flowplane/core/api";

/**
 * The version's flow a section works on (the first until the user picks another), and the
 * "Flow" select that picks it, shown only when there is a choice. One per section, so the
 * Endpoints snippets, the Playground and the Flow graph each keep their own choice.
 */
export function useFlowPicker(flows: FlowSummary[], className = "inline-select") {
  const id = useId();
  const [flowId, setFlowId] = useState<string | null>(null);
  const flow = flows.find((f) => f.id === flowId) ?? flows[0];
  const picker = flows.length > 1 ? (
    <span className={className}>
      <label htmlFor={id}>Flow</label>
      <select id={id} value={flow?.id ?? ""} onChange={(e) => setFlowId(e.target.value)}>
        {flows.map((f) => <option key={f.id} value={f.id}>{f.name}</option>)}
      </select>
    </span>
  ) : null;
  return { flow, picker };
}
