import { useEffect, useState } from "react";
import type { FieldError } from "@flowplane/core/api";

/**
 * The draft of a details section that edits part of a deployment (Resources, Rate limits,
 * Inputs and outputs). Invariant: while the user has unsaved edits (`dirty`), a change of the
 * server's values (another tab, the CLI, a rollback) never overwrites what they typed; once
 * they save or discard, the form follows the server again. `watch` is what the form is made
 * from, as a string, so the effect runs only when those values change, not on every poll.
 */
export function useEditDraft<F>(make: () => F, watch: string) {
  const [form, setForm] = useState<F>(make);
  const [dirty, setDirty] = useState(false);
  useEffect(() => {
    if (!dirty) setForm(make());
  }, [watch]);
  return {
    form,
    dirty,
    /** A user's edit of some fields. */
    set: (p: Partial<F>) => {
      setDirty(true);
      setForm((f) => ({ ...f, ...p }));
    },
    /** Back to the server's values (Discard). */
    reset: () => {
      setDirty(false);
      setForm(make());
    },
    /** After a successful save: the next server values are taken again. */
    saved: () => setDirty(false),
  };
}

/**
 * The server's messages that belong to no field of this section (a field error is shown beside
 * its field: those under `prefixes`), then Discard and Save, enabled only with unsaved edits.
 */
export function EditCardFooter({ errors, prefixes, editable, dirty, busy, saveLabel, onDiscard }: {
  errors: FieldError[];
  prefixes: string[];
  editable: boolean;
  dirty: boolean;
  busy: boolean;
  saveLabel: string;
  onDiscard: () => void;
}) {
  return (
    <>
      {errors.filter((e) => !prefixes.some((p) => e.field.startsWith(p))).map((e) => <p key={e.field + e.message} className="notice notice-error" role="alert">{e.message}</p>)}
      {editable && (
        <div className="form-actions">
          <button type="button" className="button" disabled={!dirty || busy} onClick={onDiscard}>Discard</button>
          <button type="submit" className="button button-primary" disabled={!dirty || busy}>{busy ? "Saving…" : saveLabel}</button>
        </div>
      )}
    </>
  );
}
