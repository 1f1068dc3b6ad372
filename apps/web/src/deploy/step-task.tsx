import type { FieldError } from "@flowplane/core/api";
import { TextField } from "../ui/field";
import { fieldMessage, type Draft } from "./draft";

/** Step 3: replicas and CPU/memory in Kubernetes quantity syntax. */
export function TaskStep({ draft, set, errors }: { draft: Draft; set: (patch: Partial<Draft>) => void; errors: FieldError[] }) {
  const m = (f: string) => fieldMessage(errors, f);
  return (
    <div className="form">
      <TextField label="Replicas" required inputMode="numeric" value={draft.replicas} onChange={(e) => set({ replicas: e.target.value })} error={m("resources.replicas") ?? m("resources")} hint="1 to 5 runtime replicas." className="narrow-input" />
      <fieldset className="field subsection">
        <legend>CPU</legend>
        <div className="grid-2">
          <TextField label="CPU request" value={draft.cpuRequest} onChange={(e) => set({ cpuRequest: e.target.value })} error={m("resources.cpu.request") ?? m("resources.cpu")} hint="e.g. 500m (half a core)" spellCheck={false} />
          <TextField label="CPU limit" value={draft.cpuLimit} onChange={(e) => set({ cpuLimit: e.target.value })} error={m("resources.cpu.limit")} hint="e.g. 1000m or 1" spellCheck={false} />
        </div>
      </fieldset>
      <fieldset className="field subsection">
        <legend>Memory</legend>
        <div className="grid-2">
          <TextField label="Memory request" value={draft.memoryRequest} onChange={(e) => set({ memoryRequest: e.target.value })} error={m("resources.memory.request") ?? m("resources.memory")} hint="e.g. 512Mi" spellCheck={false} />
          <TextField label="Memory limit" value={draft.memoryLimit} onChange={(e) => set({ memoryLimit: e.target.value })} error={m("resources.memory.limit")} hint="e.g. 1Gi" spellCheck={false} />
        </div>
      </fieldset>
      <p className="muted small">A request may not exceed its limit.</p>
    </div>
  );
}
