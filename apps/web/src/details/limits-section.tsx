import type { FormEvent } from "react";
import type { Deployment } from "@flowplane/core/api";
import { LIMIT_FIELDS } from "../deploy/draft";
import { LimitsFields, ScaleToZeroFields, type LimitsForm } from "../deploy/limits-fields";
import { EditCardFooter, useEditDraft } from "./edit-card";
import { Section } from "./section";
import { usePatch, type DeploymentRef } from "./use-patch";

const shown = (n: number | null) => (n === null ? "" : String(n));

const fromDeployment = (d: Deployment): LimitsForm => {
  const { deployment: dep, perKey } = d.runtime.limits;
  return {
    rateLimit: shown(dep.requestsPerSecond), burst: shown(dep.burst), maxConcurrent: shown(dep.maxConcurrent),
    keyRateLimit: shown(perKey.requestsPerSecond), keyBurst: shown(perKey.burst), keyMaxConcurrent: shown(perKey.maxConcurrent),
    idleMinutes: shown(d.runtime.scaleToZero.idleMinutes), wakeTimeout: String(d.runtime.scaleToZero.wakeTimeoutSeconds),
  };
};

/** A field as sent: empty clears it (null: no limit, or never idle); a decimal number as a number; anything else as typed, for the server to name. */
const value = (v: string): number | string | null => {
  const t = v.trim();
  if (t === "") return null;
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
};

/**
 * Rate limits and scale to zero of a running deployment (docs/rate-limits-and-idle.md), the same
 * fields as the Deploy dialog's runtime configuration. Neither is a new generation: a save applies
 * at once (the gateway reads them with the route), with no rolling restart.
 */
export function LimitsSection({ d, editable, onChanged, base }: { d: Deployment; editable: boolean; onChanged: (d: Deployment) => void; base: DeploymentRef }) {
  const { patch, errors, busy, clearErrors } = usePatch(base, onChanged);
  const { form, dirty, set, reset, saved } = useEditDraft<LimitsForm>(() => fromDeployment(d), JSON.stringify([d.runtime.limits, d.runtime.scaleToZero]));
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const limits: Record<"deployment" | "perKey", Record<string, number | string | null>> = { deployment: {}, perKey: {} };
    for (const f of LIMIT_FIELDS) limits[f.scope][f.field] = value(form[f.key]);
    const idleMinutes = value(form.idleMinutes);
    const wake = value(form.wakeTimeout);
    const body = {
      runtime: {
        limits,
        // The wake timeout matters only with scale to zero on; an emptied one keeps the current value.
        scaleToZero: { idleMinutes, ...(idleMinutes !== null && wake !== null ? { wakeTimeoutSeconds: wake } : {}) },
      },
    };
    // Typed as the dialog's request is: values as typed go to the server, which names a bad field.
    const ok = await patch(body as Parameters<typeof patch>[0], "Rate limits and scale to zero saved", { rollout: false });
    if (ok) saved();
  };
  return (
    <Section title="Rate limits and scale to zero">
      <form className="form" onSubmit={(e) => void save(e)}>
        <LimitsFields draft={form} set={set} errors={errors} disabled={!editable} />
        <ScaleToZeroFields draft={form} set={set} errors={errors} disabled={!editable} />
        <EditCardFooter errors={errors} prefixes={["runtime.limits.", "runtime.scaleToZero."]} editable={editable} dirty={dirty} busy={busy} saveLabel="Save limits" onDiscard={() => { clearErrors(); reset(); }} />
      </form>
    </Section>
  );
}
