import type { FieldError } from "@flowplane/core/api";
import { TextField } from "../ui/field";
import { fieldMessage, LIMIT_FIELDS, type Draft } from "./draft";

/** The fields these two groups edit: the Deploy dialog's draft, or the details page's own form (limits-section.tsx). */
export type LimitsForm = Pick<Draft, (typeof LIMIT_FIELDS)[number]["key"] | "idleMinutes" | "wakeTimeout">;
interface Props {
  draft: LimitsForm;
  set: (patch: Partial<LimitsForm>) => void;
  errors: FieldError[];
  /** Read-only (a viewer on the details page). */
  disabled?: boolean;
}

/**
 * The runtime step's rate limits (docs/rate-limits-and-idle.md): for the deployment as a whole
 * and for each access key on it. Empty means no limit; the server validates and names the field.
 */
export function LimitsFields({ draft, set, errors, disabled }: Props) {
  const row = (scope: "deployment" | "perKey", title: string) => (
    <div role="group" aria-label={title}>
      <p className="limits-row-title">{title}</p>
      <div className="grid-3">
      {LIMIT_FIELDS.filter((f) => f.scope === scope).map((f) => (
        // The visible label is short (the row says whose limit it is); its accessible name says it too.
        <TextField key={f.key} label={<>{f.label}<span className="sr-only"> ({scope === "deployment" ? "deployment" : "per key"})</span></>} inputMode={f.field === "requestsPerSecond" ? "decimal" : "numeric"}
          placeholder="no limit" disabled={disabled} value={draft[f.key]} onChange={(e) => set({ [f.key]: e.target.value })}
          error={fieldMessage(errors, `runtime.limits.${scope}.${f.field}`)} hint={f.hint} />
      ))}
      </div>
    </div>
  );
  return (
    <fieldset className="field subsection">
      <legend>Rate limits</legend>
      <p className="field-hint">Calls over a limit are answered 429 with Retry-After. Empty: no limit.</p>
      {row("deployment", "All callers together")}
      {row("perKey", "Each access key")}
    </fieldset>
  );
}

/** The runtime step's scale to zero: stop every replica after a while without requests (empty: never). */
export function ScaleToZeroFields({ draft, set, errors, disabled }: Props) {
  return (
    <fieldset className="field subsection">
      <legend>Scale to zero</legend>
      <div className="grid-2">
        <TextField label="Idle after (minutes)" inputMode="decimal" placeholder="never" disabled={disabled} value={draft.idleMinutes} onChange={(e) => set({ idleMinutes: e.target.value })}
          error={fieldMessage(errors, "runtime.scaleToZero.idleMinutes")} hint="Stop every replica after this long without a request. Empty: never." />
        <TextField label="Wake timeout (seconds)" inputMode="numeric" value={draft.wakeTimeout} onChange={(e) => set({ wakeTimeout: e.target.value })}
          error={fieldMessage(errors, "runtime.scaleToZero.wakeTimeoutSeconds")} hint="How long the first request waits while it wakes (1 to 600)." disabled={disabled || draft.idleMinutes.trim() === ""} />
      </div>
    </fieldset>
  );
}
