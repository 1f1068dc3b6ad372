import type { FormEvent } from "react";
import type { Deployment } from "@flowplane/core/api";
import { TweaksField } from "../deploy/tweaks-field";
import type { Draft } from "../deploy/draft";
import { EditCardFooter, useEditDraft } from "./edit-card";
import { Section } from "./section";
import { usePatch, type DeploymentRef } from "./use-patch";

type TweaksForm = Pick<Draft, "tweaksPolicy">;
const fromDeployment = (d: Deployment): TweaksForm => ({ tweaksPolicy: d.runtime.tweaksPolicy });

/**
 * Which fields a running deployment's run requests may set through tweaks (runtime.tweaksPolicy;
 * the same field as the Deploy dialog's). A replica setting: saving makes a revision and rolls
 * the replicas, as the Inputs and outputs section does.
 */
export function TweaksSection({ d, editable, onChanged, base }: { d: Deployment; editable: boolean; onChanged: (d: Deployment) => void; base: DeploymentRef }) {
  const { patch, errors, busy, clearErrors } = usePatch(base, onChanged);
  const { form, dirty, set, reset, saved } = useEditDraft<TweaksForm>(() => fromDeployment(d), d.runtime.tweaksPolicy);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await patch({ runtime: { tweaksPolicy: form.tweaksPolicy } }, "Tweaks policy saved");
    if (ok) saved();
  };
  return (
    <Section title="Tweaks">
      <form className="form" onSubmit={(e) => void save(e)}>
        <TweaksField draft={form} set={set} errors={errors} disabled={!editable} />
        <EditCardFooter errors={errors} prefixes={["runtime.tweaksPolicy"]} editable={editable} dirty={dirty} busy={busy} saveLabel="Save and roll out" onDiscard={() => { clearErrors(); reset(); }} />
      </form>
    </Section>
  );
}
