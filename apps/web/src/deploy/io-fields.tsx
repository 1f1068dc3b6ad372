import type { FieldError } from "@flowplane/core/api";
import { TextField } from "../ui/field";
import { fieldMessage, type Draft } from "./draft";

interface Props {
  draft: Pick<Draft, "recordIO" | "ioMaxChars">;
  set: (patch: Partial<Pick<Draft, "recordIO" | "ioMaxChars">>) => void;
  errors: FieldError[];
  /** Read-only (a viewer on the details page). */
  disabled?: boolean;
}

/**
 * The runtime step's inputs and outputs (runtime.io; docs/runs-and-logs.md): off unless checked.
 * When on, each run's input and answer and each component's inputs and outputs are kept with its
 * trace, credential values and access keys redacted by the replica, each value cut.
 */
export function RecordIOFields({ draft, set, errors, disabled }: Props) {
  return (
    <fieldset className="field subsection">
      <legend>Inputs and outputs</legend>
      <label className="check">
        <input type="checkbox" checked={draft.recordIO} disabled={disabled} onChange={(e) => set({ recordIO: e.target.checked })} />
        Keep inputs and outputs with each run's trace
      </label>
      <p className="field-hint">Off: traces hold timings, statuses and errors only. On: credential values and access keys are replaced by [redacted] before anything leaves a replica.</p>
      {fieldMessage(errors, "runtime.io.record") && <p className="field-error" role="alert">{fieldMessage(errors, "runtime.io.record")}</p>}
      <TextField label="Longest value kept (characters)" inputMode="numeric" value={draft.ioMaxChars} disabled={disabled || !draft.recordIO} onChange={(e) => set({ ioMaxChars: e.target.value })}
        error={fieldMessage(errors, "runtime.io.maxChars")} hint="Longer values are cut (16 to 65536; default 2048)." />
    </fieldset>
  );
}
