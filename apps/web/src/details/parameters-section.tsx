import { useState, type FormEvent } from "react";
import { modelChoiceKeys, type BundleVersion, type Deployment } from "@flowplane/core/api";
import { TextField } from "../ui/field";
import { Icon } from "../ui/icons";
import { Section } from "./section";
import { usePatch, type DeploymentRef } from "./use-patch";

/**
 * Parameters and credentials. Credentials are write-only: the field starts empty and a value
 * typed there replaces the stored one; nothing stored is ever shown.
 */
export function ParametersSection({ d, version, editable, onChanged, base }: { d: Deployment; version: BundleVersion | null; editable: boolean; onChanged: (d: Deployment) => void; base: DeploymentRef }) {
  const { patch, errors, busy } = usePatch(base, onChanged);
  const [creds, setCreds] = useState<Record<string, string>>({});
  const [params, setParams] = useState<Record<string, string>>({});
  // Model choices are shown with the plain values (editable as <provider>/<model>).
  const plain = version?.parameters.filter((p) => p.kind !== "credential") ?? Object.keys(d.parameters).map((name) => ({ name, default: undefined as string | undefined }));
  // The stored credentials, and the key of a provider a model choice typed here newly picks (the server requires it).
  const chosenKeys = version ? modelChoiceKeys(version.parameters, { ...d.parameters, ...params }).map((k) => k.name) : [];
  const credNames = [...new Set([...Object.keys(d.credentials), ...chosenKeys])];
  const changedParams = Object.fromEntries(Object.entries(params).filter(([k, v]) => v !== (d.parameters[k] ?? "")));
  const newCreds = Object.fromEntries(Object.entries(creds).filter(([, v]) => v !== ""));
  const dirty = Object.keys(changedParams).length + Object.keys(newCreds).length > 0;
  const msg = (f: string) => errors.find((e) => e.field === f)?.message;

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await patch({ ...(Object.keys(changedParams).length ? { parameters: changedParams } : {}), ...(Object.keys(newCreds).length ? { credentials: newCreds } : {}) }, "Parameters saved");
    if (ok) {
      setCreds({});
      setParams({});
    }
  };

  if (plain.length === 0 && credNames.length === 0) {
    return <Section title="Parameters"><p className="muted">This version has no parameters or credentials.</p></Section>;
  }
  return (
    <Section title="Parameters">
      <form className="form" onSubmit={(e) => void save(e)}>
        {credNames.map((name) => (
          <TextField
            key={name}
            label={<><Icon name="lock" size={12} /> {name} <span className="badge badge-neutral">credential</span></>}
            type="password" autoComplete="new-password" spellCheck={false}
            placeholder={d.deletionRequestedAt ? "removed with the deployment" : name in d.credentials ? "•••••••• stored; type a new value to replace it" : "required: the key of the provider chosen above"}
            value={creds[name] ?? ""} disabled={!editable}
            onChange={(e) => setCreds((c) => ({ ...c, [name]: e.target.value }))}
            error={msg(`credentials.${name}`)}
            hint={d.deletionRequestedAt ? undefined : "Write-only: the stored value is never shown."}
          />
        ))}
        {plain.map((p) => (
          <TextField
            key={p.name} label={p.name} disabled={!editable}
            value={params[p.name] ?? d.parameters[p.name] ?? ""}
            onChange={(e) => setParams((x) => ({ ...x, [p.name]: e.target.value }))}
            error={msg(`parameters.${p.name}`)}
            hint={"kind" in p && p.kind === "model" ? "The model chosen at deploy time, as <provider>/<model>." : p.default !== undefined ? `Published default: ${p.default}` : undefined}
          />
        ))}
        {errors.filter((e) => !e.field.startsWith("credentials.") && !e.field.startsWith("parameters.")).map((e) => <p key={e.field + e.message} className="notice notice-error" role="alert">{e.message}</p>)}
        {editable && (
          <div className="form-actions">
            <button type="button" className="button" disabled={!dirty || busy} onClick={() => { setCreds({}); setParams({}); }}>Discard</button>
            <button type="submit" className="button button-primary" disabled={!dirty || busy}>{busy ? "Saving…" : "Save and roll out"}</button>
          </div>
        )}
      </form>
    </Section>
  );
}
