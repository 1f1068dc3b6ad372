import type { FormEvent } from "react";
import type { Deployment } from "@flowplane/core/api";
import { RecordIOFields } from "../deploy/io-fields";
import type { Draft } from "../deploy/draft";
import { EditCardFooter, useEditDraft } from "./edit-card";
import { Section } from "./section";
import { usePatch, type DeploymentRef } from "./use-patch";

type IOForm = Pick<Draft, "recordIO" | "ioMaxChars">;
const fromDeployment = (d: Deployment): IOForm => ({ recordIO: d.runtime.io.record, ioMaxChars: String(d.runtime.io.maxChars) });

/**
 * Whether a running deployment keeps inputs and outputs with its traces (runtime.io; the same
 * fields as the Deploy dialog's). A replica setting: saving makes a revision and rolls the
 * replicas, as the Version and Resources sections do.
 */
export function IOSection({ d, editable, onChanged, base }: { d: Deployment; editable: boolean; onChanged: (d: Deployment) => void; base: DeploymentRef }) {
  const { patch, errors, busy, clearErrors } = usePatch(base, onChanged);
  const { form, dirty, set, reset, saved } = useEditDraft<IOForm>(() => fromDeployment(d), JSON.stringify(d.runtime.io));
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const t = form.ioMaxChars.trim();
    // Typed as the dialog's request is: a value as typed goes to the server, which names a bad field.
    const body = { runtime: { io: { record: form.recordIO, maxChars: /^\d+$/.test(t) ? Number(t) : t } } };
    const ok = await patch(body as Parameters<typeof patch>[0], "Inputs and outputs saved");
    if (ok) saved();
  };
  return (
    <Section title="Inputs and outputs">
      <form className="form" onSubmit={(e) => void save(e)}>
        <RecordIOFields draft={form} set={set} errors={errors} disabled={!editable} />
        <EditCardFooter errors={errors} prefixes={["runtime.io."]} editable={editable} dirty={dirty} busy={busy} saveLabel="Save and roll out" onDiscard={() => { clearErrors(); reset(); }} />
      </form>
    </Section>
  );
}
