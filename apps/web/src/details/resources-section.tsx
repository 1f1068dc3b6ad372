import { useEffect, useState, type FormEvent } from "react";
import type { Deployment } from "@flowplane/core/api";
import { TextField } from "../ui/field";
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
  const [form, setForm] = useState<Form>(() => fromDeployment(d));
  const [dirty, setDirty] = useState(false);
  const key = JSON.stringify(d.resources);
  // Take the server's values when they change elsewhere, unless the user is editing.
  useEffect(() => {
    if (!dirty) setForm(fromDeployment(d));
  }, [key]);
  const set = (p: Partial<Form>) => {
    setDirty(true);
    setForm((f) => ({ ...f, ...p }));
  };
  const m = (f: string) => errors.find((e) => e.field === f)?.message;
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const replicas = /^\s*\d+\s*$/.test(form.replicas) ? Number(form.replicas) : form.replicas;
    const ok = await patch({ resources: { replicas, cpu: { request: form.cpuRequest, limit: form.cpuLimit }, memory: { request: form.memoryRequest, limit: form.memoryLimit } } }, "Resources saved");
    if (ok) setDirty(false);
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
        {errors.filter((e) => !e.field.startsWith("resources.")).map((e) => <p key={e.field + e.message} className="notice notice-error" role="alert">{e.message}</p>)}
        {editable && (
          <div className="form-actions">
            <button type="button" className="button" disabled={!dirty || busy} onClick={() => { setDirty(false); clearErrors(); setForm(fromDeployment(d)); }}>Discard</button>
            <button type="submit" className="button button-primary" disabled={!dirty || busy}>{busy ? "Saving…" : "Save and roll out"}</button>
          </div>
        )}
      </form>
    </Section>
  );
}
