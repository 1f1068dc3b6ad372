import { MODEL_PROVIDERS, type BundleVersion, type FieldError } from "@flowplane/core/api";
import { TextField } from "../ui/field";
import { Icon } from "../ui/icons";
import { credentialFields, fieldMessage, keepSecret, type CredentialField, type Draft } from "./draft";

const PROVIDERS_LIST = "model-providers";

/**
 * Step 2: the model choices of nodes exported without a model, then every credential
 * (write-only password fields: the version's own, and the key of each provider a model choice
 * picks, which appears once the choice names that provider), then the plain parameters with
 * their defaults. A plain parameter can be kept secret ("Keep secret"): a plain field may hold a
 * secret too (a connection string with its password), and its value is then typed into a
 * password field and sent as a credential.
 */
export function CredentialsStep({ draft, set, errors, version }: { draft: Draft; set: (patch: Partial<Draft>) => void; errors: FieldError[]; version: BundleVersion | null }) {
  const params = version?.parameters ?? [];
  const models = params.filter((p) => p.kind === "model");
  const plain = params.filter((p) => p.kind === "plain");
  const credentials = version ? credentialFields(draft, version) : [];
  const usedBy = (name: string) => {
    const p = params.find((x) => x.name === name);
    const fields = [...new Set((p?.usedBy ?? []).map((u) => u.field))];
    return fields.length ? `Used by ${p!.usedBy.length} field${p!.usedBy.length === 1 ? "" : "s"} (${fields.join(", ")})` : undefined;
  };
  const credentialHint = (c: CredentialField) => c.forChoice
    ? `The ${c.forChoice.provider} key, for the model chosen in ${c.forChoice.choices.join(", ")}.`
    : usedBy(c.name);
  const parameterField = (p: (typeof params)[number]) => (
    <TextField
      key={p.name} label={p.name} required={p.kind === "model"} spellCheck={false}
      list={p.kind === "model" ? PROVIDERS_LIST : undefined}
      value={draft.parameters[p.name] ?? p.default ?? ""}
      onChange={(e) => set({ parameters: { ...draft.parameters, [p.name]: e.target.value } })}
      error={fieldMessage(errors, `parameters.${p.name}`)}
      hint={p.kind === "model"
        ? `The model for ${p.usedBy.map((u) => `${u.nodeId} (${u.field})`).join(", ")}, exported without one: <provider>/<model>, e.g. OpenAI/gpt-4o-mini. Its provider's key is then asked for under Credentials.`
        : p.default !== undefined ? `Published default: ${p.default}` : "No published default."}
    />
  );
  // A plain parameter: in the clear, or kept secret (a write-only password field, sent under credentials).
  const plainField = (p: (typeof params)[number]) => {
    const secret = draft.secret.includes(p.name);
    return (
      <div key={p.name}>
        {secret ? (
          <TextField
            label={<><Icon name="lock" size={12} /> {p.name}</>} type="password" autoComplete="new-password" spellCheck={false}
            value={draft.credentials[p.name] ?? ""}
            onChange={(e) => set({ credentials: { ...draft.credentials, [p.name]: e.target.value } })}
            error={fieldMessage(errors, `credentials.${p.name}`) ?? fieldMessage(errors, `parameters.${p.name}`)}
            hint={`Kept secret: stored encrypted like a credential and never shown again. ${p.default !== undefined ? "Left empty, the published default applies." : "Optional."}`}
          />
        ) : parameterField(p)}
        <label className="check">
          <input type="checkbox" checked={secret} onChange={(e) => set(keepSecret(draft, p.name, e.target.checked))} />
          Keep secret
        </label>
      </div>
    );
  };
  if (params.length === 0) return <p className="notice">This version has no parameters or credentials. Go on to the next step.</p>;
  return (
    <div className="form">
      {models.length > 0 && (
        <fieldset className="field subsection">
          <legend>Models</legend>
          <datalist id={PROVIDERS_LIST}>
            {MODEL_PROVIDERS.map((p) => <option key={p.name} value={`${p.name}/`} />)}
          </datalist>
          {models.map(parameterField)}
        </fieldset>
      )}
      {credentials.length > 0 && (
        <fieldset className="field subsection">
          <legend><Icon name="lock" size={14} /> Credentials</legend>
          <p className="muted small">Required. They are stored encrypted and are never shown again: later you can only replace them.</p>
          {credentials.map((c) => (
            <TextField
              key={c.name} label={c.name} required type="password" autoComplete="new-password" spellCheck={false}
              value={draft.credentials[c.name] ?? ""}
              onChange={(e) => set({ credentials: { ...draft.credentials, [c.name]: e.target.value } })}
              error={fieldMessage(errors, `credentials.${c.name}`)}
              hint={credentialHint(c)}
            />
          ))}
        </fieldset>
      )}
      {plain.length > 0 && (
        <fieldset className="field subsection">
          <legend>Parameters</legend>
          {plain.map(plainField)}
        </fieldset>
      )}
      {errors.filter((e) => e.field === "credentials" || e.field === "parameters").map((e) => <p key={e.message} className="notice notice-error" role="alert">{e.message}</p>)}
    </div>
  );
}
