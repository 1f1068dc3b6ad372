import type { FormEvent } from "react";
import type { Deployment } from "@flowplane/core/api";
import { TextField } from "../ui/field";
import { EditCardFooter, useEditDraft } from "./edit-card";
import { Section } from "./section";
import { usePatch, type DeploymentRef } from "./use-patch";

interface Form {
  replicas: string;
  cpuRequest: string;
  cpuLimit: string;
  memoryRequest: string;
  memoryLimit: string;
}

const fromDeployment = (d: Deployment): Form => ({
  replicas: String(d.resources.replicas),
  cpuRequest: d.resources.cpu.request, cpuLimit: d.resources.cpu.limit,
  memoryRequest: d.resources.memory.request, memoryLimit: d.resources.memory.limit,
});

/** Scale and resize: the same rolling update as any other change; the server's messages beside the fields. */
export function ResourcesSection({ d, editable, onChanged, base }: { d: Deployment; editable: boolean; onChanged: (d: Deployment) => void; base: DeploymentRef }) {
  const { patch, errors, busy, clearErrors } = usePatch(base, onChanged);
  const { form, dirty, set, reset, saved } = useEditDraft<Form>(() => fromDeployment(d), JSON.stringify(d.resources));
  const m = (f: string) => errors.find((e) => e.field === f)?.message;
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const replicas = /^\s*\d+\s*$/.test(form.replicas) ? Number(form.replicas) : form.replicas;
    const ok = await patch({ resources: { replicas, cpu: { request: form.cpuRequest, limit: form.cpuLimit }, memory: { request: form.memoryRequest, limit: form.memoryLimit } } }, "Resources saved");
    if (ok) saved();
  };
  return (
    <Section title="Resources">
      <form className="form" onSubmit={(e) => void save(e)}>
        <div className="narrow-input">
          <TextField label="Replicas" inputMode="numeric" disabled={!editable} value={form.replicas} onChange={(e) => set({ replicas: e.target.value })} error={m("resources.replicas")} hint="1 to 5" />
        </div>
        <div className="grid-4">
          <TextField label="CPU request" disabled={!editable} value={form.cpuRequest} onChange={(e) => set({ cpuRequest: e.target.value })} error={m("resources.cpu.request")} />
          <TextField label="CPU limit" disabled={!editable} value={form.cpuLimit} onChange={(e) => set({ cpuLimit: e.target.value })} error={m("resources.cpu.limit")} />
          <TextField label="Memory request" disabled={!editable} value={form.memoryRequest} onChange={(e) => set({ memoryRequest: e.target.value })} error={m("resources.memory.request")} />
          <TextField label="Memory limit" disabled={!editable} value={form.memoryLimit} onChange={(e) => set({ memoryLimit: e.target.value })} error={m("resources.memory.limit")} />
        </div>
        <p className="muted small">Kubernetes quantities (500m, 1Gi); a request may not exceed its limit. Changes roll out one replica at a time.</p>
        <EditCardFooter errors={errors} prefixes={["resources."]} editable={editable} dirty={dirty} busy={busy} saveLabel="Save and roll out" onDiscard={() => { clearErrors(); reset(); }} />
      </form>
    </Section>
  );
}
