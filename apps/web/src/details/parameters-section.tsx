import { useState, type FormEvent, type ReactNode } from "react";
import { modelChoiceKeys, plainNamesAmong, type BundleVersion, type Deployment } from "@flowplane/core/api";
import { TextField } from "../ui/field";
import { Icon } from "../ui/icons";
import { Section } from "./section";
import { usePatch, type DeploymentRef } from "./use-patch";

/**
 * Parameters and credentials. Credentials are write-only: the field starts empty and a value
 * typed there replaces the stored one; nothing stored is ever shown. A plain parameter the
 * deployment keeps secret (held as a credential: api/secret-parameters.ts) is shown as one, and
 * "Keep secret" switches it: on, a value typed is saved under credentials; off, the value shown
 * is saved under parameters, in the clear, and the secret one is dropped.
 */
export function ParametersSection({ d, version, editable, onChanged, base }: { d: Deployment; version: BundleVersion | null; editable: boolean; onChanged: (d: Deployment) => void; base: DeploymentRef }) {
  const { patch, errors, busy } = usePatch(base, onChanged);
  const [creds, setCreds] = useState<Record<string, string>>({});
  const [params, setParams] = useState<Record<string, string>>({});
  /** "Keep secret" as switched here and not saved yet (absent: as the deployment holds it). */
  const [switched, setSwitched] = useState<Record<string, boolean>>({});
  // Model choices are shown with the plain values (editable as <provider>/<model>).
  const plain = version?.parameters.filter((p) => p.kind !== "credential") ?? Object.keys(d.parameters).map((name) => ({ name, default: undefined as string | undefined }));
  const held = new Set(version ? plainNamesAmong(version.parameters, Object.keys(d.credentials)) : []);
  const isSecret = (name: string) => switched[name] ?? held.has(name);
  const canKeepSecret = (p: (typeof plain)[number]) => "kind" in p && p.kind === "plain";
  // The stored credentials, and the key of a provider a model choice typed here newly picks (the server requires it).
  const chosenKeys = version ? modelChoiceKeys(version.parameters, { ...d.parameters, ...params }).map((k) => k.name) : [];
  const credNames = [...new Set([...Object.keys(d.credentials), ...chosenKeys])].filter((n) => !held.has(n));
  // Held, switched back to the clear: the value shown is sent even when it equals the default, as that is what moves it back.
  const movedBack = plain.filter((p) => held.has(p.name) && !isSecret(p.name)).map((p) => p.name);
  const clearValue = (p: (typeof plain)[number]) => params[p.name] ?? d.parameters[p.name] ?? (held.has(p.name) ? p.default ?? "" : "");
  const changedParams = Object.fromEntries([
    ...Object.entries(params).filter(([k, v]) => !isSecret(k) && v !== (d.parameters[k] ?? "")),
    ...plain.filter((p) => movedBack.includes(p.name)).map((p) => [p.name, clearValue(p)]),
  ]);
  // A value typed into a credential field, or into a plain parameter's field while it is kept secret.
  const newCreds = Object.fromEntries(Object.entries(creds).filter(([k, v]) => v !== "" && (!plain.some((p) => p.name === k) || isSecret(k))));
  const dirty = Object.keys(changedParams).length + Object.keys(newCreds).length > 0;
  const msg = (f: string) => errors.find((e) => e.field === f)?.message;
  const reset = () => {
    setCreds({});
    setParams({});
    setSwitched({});
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await patch({ ...(Object.keys(changedParams).length ? { parameters: changedParams } : {}), ...(Object.keys(newCreds).length ? { credentials: newCreds } : {}) }, "Parameters saved");
    if (ok) reset();
  };
  const credentialField = (name: string, label: ReactNode, placeholder: string, hint: string) => (
    <TextField
      key={name} label={label}
      type="password" autoComplete="new-password" spellCheck={false}
      placeholder={d.deletionRequestedAt ? "removed with the deployment" : placeholder}
      value={creds[name] ?? ""} disabled={!editable}
      onChange={(e) => setCreds((c) => ({ ...c, [name]: e.target.value }))}
      error={msg(`credentials.${name}`)}
      hint={d.deletionRequestedAt ? undefined : hint}
    />
  );

  if (plain.length === 0 && credNames.length === 0) {
    return <Section title="Parameters"><p className="muted">This version has no parameters or credentials.</p></Section>;
  }
  return (
    <Section title="Parameters">
      <form className="form" onSubmit={(e) => void save(e)}>
        {credNames.map((name) => credentialField(name, <><Icon name="lock" size={12} /> {name} <span className="badge badge-neutral">credential</span></>,
          name in d.credentials ? "•••••••• stored; type a new value to replace it" : "required: the key of the provider chosen above",
          "Write-only: the stored value is never shown."))}
        {plain.map((p) => (
          <div key={p.name}>
            {isSecret(p.name)
              ? credentialField(p.name, <><Icon name="lock" size={12} /> {p.name} <span className="badge badge-neutral">kept secret</span></>,
                held.has(p.name) ? "•••••••• stored; type a new value to replace it" : "type the value to keep secret",
                "Write-only: held as a credential, the stored value is never shown.")
              : (
                <TextField
                  label={p.name} disabled={!editable}
                  value={clearValue(p)}
                  onChange={(e) => setParams((x) => ({ ...x, [p.name]: e.target.value }))}
                  error={msg(`parameters.${p.name}`)}
                  hint={"kind" in p && p.kind === "model" ? "The model chosen at deploy time, as <provider>/<model>." : p.default !== undefined ? `Published default: ${p.default}` : undefined}
                />
              )}
            {canKeepSecret(p) && (
              <label className="check">
                <input type="checkbox" checked={isSecret(p.name)} disabled={!editable || Boolean(d.deletionRequestedAt)}
                  onChange={(e) => setSwitched((x) => ({ ...x, [p.name]: e.target.checked }))} />
                Keep secret{held.has(p.name) && !isSecret(p.name) ? ": cleared, saving shows this value to every viewer and drops the secret one" : ""}
              </label>
            )}
          </div>
        ))}
        {errors.filter((e) => !e.field.startsWith("credentials.") && !e.field.startsWith("parameters.")).map((e) => <p key={e.field + e.message} className="notice notice-error" role="alert">{e.message}</p>)}
        {editable && (
          <div className="form-actions">
            <button type="button" className="button" disabled={(!dirty && Object.keys(switched).length === 0) || busy} onClick={reset}>Discard</button>
            <button type="submit" className="button button-primary" disabled={!dirty || busy}>{busy ? "Saving…" : "Save and roll out"}</button>
          </div>
        )}
      </form>
    </Section>
  );
}
