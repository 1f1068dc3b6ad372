import type { BundleVersion, FieldError } from "../api/types";
import { TextField } from "../ui/field";
import { Icon } from "../ui/icons";
import { fieldMessage, type Draft } from "./draft";

/** Step 2: every credential (write-only password fields) and the plain parameters with their defaults. */
export function CredentialsStep({ draft, set, errors, version }: { draft: Draft; set: (patch: Partial<Draft>) => void; errors: FieldError[]; version: BundleVersion | null }) {
  const params = version?.parameters ?? [];
  const credentials = params.filter((p) => p.kind === "credential");
  // Model choices (`<provider>/<model>`, required) are typed like plain values.
  const plain = params.filter((p) => p.kind !== "credential");
  const usedBy = (name: string) => {
    const p = params.find((x) => x.name === name);
    const fields = [...new Set((p?.usedBy ?? []).map((u) => u.field))];
    return fields.length ? `Used by ${p!.usedBy.length} field${p!.usedBy.length === 1 ? "" : "s"} (${fields.join(", ")})` : undefined;
  };
  if (params.length === 0) return <p className="notice">This version has no parameters or credentials. Go on to the next step.</p>;
  return (
    <div className="form">
      {credentials.length > 0 && (
        <fieldset className="field subsection">
          <legend><Icon name="lock" size={14} /> Credentials</legend>
          <p className="muted small">Required. They are stored encrypted and are never shown again: later you can only replace them.</p>
          {credentials.map((p) => (
            <TextField
              key={p.name} label={p.name} required type="password" autoComplete="new-password" spellCheck={false}
              value={draft.credentials[p.name] ?? ""}
              onChange={(e) => set({ credentials: { ...draft.credentials, [p.name]: e.target.value } })}
              error={fieldMessage(errors, `credentials.${p.name}`)}
              hint={usedBy(p.name)}
            />
          ))}
        </fieldset>
      )}
      {plain.length > 0 && (
        <fieldset className="field subsection">
          <legend>Parameters</legend>
          {plain.map((p) => (
            <TextField
              key={p.name} label={p.name}
              value={draft.parameters[p.name] ?? p.default ?? ""}
              onChange={(e) => set({ parameters: { ...draft.parameters, [p.name]: e.target.value } })}
              error={fieldMessage(errors, `parameters.${p.name}`)}
              hint={p.kind === "model" ? "Required: the model for a node exported without one, as <provider>/<model> (e.g. OpenAI/gpt-4o-mini); its provider's key is then a credential." : p.default !== undefined ? `Published default: ${p.default}` : "No published default."}
            />
          ))}
        </fieldset>
      )}
      {errors.filter((e) => e.field === "credentials" || e.field === "parameters").map((e) => <p key={e.message} className="notice notice-error" role="alert">{e.message}</p>)}
    </div>
  );
}
