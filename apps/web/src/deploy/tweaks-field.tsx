import type { FieldError } from "@flowplane/core/api";
import { SelectField } from "../ui/field";
import { fieldMessage, TWEAKS_CHOICES, type Draft } from "./draft";

interface Props {
  draft: Pick<Draft, "tweaksPolicy">;
  set: (patch: Partial<Pick<Draft, "tweaksPolicy">>) => void;
  errors: FieldError[];
  /** Read-only (a viewer on the details page). */
  disabled?: boolean;
}

/**
 * The runtime step's tweaks policy (runtime.tweaksPolicy): which fields a run request may set
 * through `tweaks`. Permissive unless chosen otherwise; the hint says what the choice shown means.
 */
export function TweaksField({ draft, set, errors, disabled }: Props) {
  return (
    <SelectField label="Tweaks" value={draft.tweaksPolicy} disabled={disabled} onChange={(e) => set({ tweaksPolicy: e.target.value as Draft["tweaksPolicy"] })}
      error={fieldMessage(errors, "runtime.tweaksPolicy")} hint={TWEAKS_CHOICES[draft.tweaksPolicy]?.hint}>
      {Object.entries(TWEAKS_CHOICES).map(([value, c]) => <option key={value} value={value}>{c.label}</option>)}
    </SelectField>
  );
}
