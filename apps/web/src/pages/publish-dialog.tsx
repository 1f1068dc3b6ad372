import { useId, useMemo, useState, type FormEvent } from "react";
import { ApiError, errorText, messageFor } from "../api/client";
import type { BundleVersion, FieldError } from "../api/types";
import { detectParameters, readFlowFile, suggestName, type PickedFlow } from "../lib/flow-files";
import { atLeast, useSession } from "../lib/session";
import { RadioGroup, TextAreaField, TextField } from "../ui/field";
import { Icon } from "../ui/icons";
import { Modal } from "../ui/modal";
import { useToasts } from "../ui/toasts";

/**
 * "+ Add New Flow": publish Langflow exports as a bundle version. The form checks only what
 * it must to be usable (files are flows, required fields); every rule is the server's, and its
 * messages are shown beside the fields they concern.
 */
export function PublishDialog({ onClose, onPublished }: { onClose: () => void; onPublished: (v: BundleVersion) => void }) {
  const s = useSession();
  const toasts = useToasts();
  const fileId = useId();
  const [flows, setFlows] = useState<PickedFlow[]>([]);
  const [fileError, setFileError] = useState<string | undefined>();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [versionTag, setVersionTag] = useState("v1");
  const [accessLevel, setAccessLevel] = useState<"project" | "global">("project");
  const [projects, setProjects] = useState<string[]>(s.project ? [s.project.id] : []);
  const [defaults, setDefaults] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [formError, setFormError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  // Credentials first: they are what a deployer must bring.
  const parameters = useMemo(() => detectParameters(flows).sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "credential" ? -1 : 1)), [flows]);
  const shareable = s.projects.filter((p) => atLeast(s.roleIn(p.id), "editor"));

  const pick = async (files: FileList | null) => {
    setFileError(undefined);
    if (!files || files.length === 0) return;
    try {
      const picked = await Promise.all([...files].map(readFlowFile));
      setFlows(picked);
      const first = picked[0]!;
      if (!name) setName(suggestName(first.name));
      if (!description) setDescription(first.description);
    } catch (e) {
      setFlows([]);
      setFileError(e instanceof Error ? e.message : String(e));
    }
  };

  // A field's server message goes once the field is edited: it spoke about the old value.
  const edited = (field: string) => setErrors((xs) => xs.filter((x) => x.field !== field));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    setFormError(undefined);
    const plainDefaults = Object.fromEntries(Object.entries(defaults).filter(([k, v]) => v !== "" && parameters.some((p) => p.name === k && p.kind === "plain")));
    try {
      const v = (await s.api("POST", "/bundles", {
        name, versionTag, description, accessLevel,
        ...(accessLevel === "project" ? { allowedProjects: projects } : {}),
        flows: flows.map((f) => f.json),
        ...(Object.keys(plainDefaults).length ? { defaults: plainDefaults } : {}),
      })) as BundleVersion;
      toasts.success(`Published ${v.name} ${v.versionTag}`);
      // Accepted, but a deployer must know: each warning names flow, node and field.
      for (const w of v.warnings ?? []) toasts.info(`Warning: ${w.message}`);
      onPublished(v);
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && err.details.length) setErrors(err.details);
      else if (err instanceof ApiError && err.status === 409) setErrors([{ field: "versionTag", message: err.message }]);
      else setFormError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const unplaced = errors.filter((x) => !["name", "versionTag", "description", "accessLevel", "allowedProjects", "flows"].includes(x.field) && !x.field.startsWith("defaults."));
  const ready = flows.length > 0 && name.trim() !== "" && versionTag.trim() !== "" && (accessLevel === "global" || projects.length > 0);

  return (
    <Modal wide title="Add New Flow" onClose={onClose} description="Publish flows exported from the Langflow editor as a new bundle, or as a new version of an existing one.">
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        <div className={`field${fileError || messageFor(errors, "flows") ? " field-invalid" : ""}`}>
          <label htmlFor={fileId}>Langflow flow files <span className="required" aria-hidden="true">*</span></label>
          <div className="dropzone">
            {/* The real input covers the zone (transparent): click, keyboard and file drops all reach it. */}
            <input id={fileId} className="file-input" type="file" accept=".json,application/json" multiple aria-describedby={`${fileId}-msg`} onChange={(e) => void pick(e.target.files)} />
            <Icon name="upload" size={22} />
            <span aria-hidden="true">{flows.length ? `${flows.length} file${flows.length === 1 ? "" : "s"} selected: choose again to replace` : "Choose or drop .json exports (one or more)"}</span>
          </div>
          <p id={`${fileId}-msg`} className={fileError || messageFor(errors, "flows") ? "field-error" : "field-hint"} role={fileError ? "alert" : undefined}>
            {fileError ?? messageFor(errors, "flows") ?? "Up to 50 flows per bundle. Secrets must be bound to global variables, never typed into a field."}
          </p>
          {flows.length > 0 && (
            <ul className="file-list">
              {flows.map((f) => <li key={f.fileName}><strong>{f.name}</strong> <span className="muted">({f.fileName})</span></li>)}
            </ul>
          )}
        </div>

        <div className="grid-2">
          <TextField label="Name" required value={name} onChange={(e) => { setName(e.target.value); edited("name"); }} error={messageFor(errors, "name")} hint="Up to 64 characters; it cannot change later." maxLength={64} />
          <TextField label="Version tag" required value={versionTag} onChange={(e) => { setVersionTag(e.target.value); edited("versionTag"); }} error={messageFor(errors, "versionTag")} hint={<>Any text except <code>latest</code>.</>} />
        </div>
        <TextAreaField label="Description" rows={2} value={description} onChange={(e) => setDescription(e.target.value)} error={messageFor(errors, "description")} />

        <RadioGroup
          legend="Access level"
          name="accessLevel"
          value={accessLevel}
          onChange={setAccessLevel}
          error={messageFor(errors, "accessLevel")}
          options={[
            { value: "project", label: "Project", hint: "Only the projects you choose can see and deploy it." },
            { value: "global", label: "Global", hint: "Everyone in the organisation can see and deploy it." },
          ]}
        />
        {accessLevel === "project" && (
          <fieldset className={`field${messageFor(errors, "allowedProjects") ? " field-invalid" : ""}`}>
            <legend>Shared with</legend>
            {shareable.length === 0 && <p className="muted">You have the editor role in no project.</p>}
            <div className="checks">
              {shareable.map((p) => (
                <label key={p.id} className="check">
                  <input type="checkbox" checked={projects.includes(p.id)} onChange={(e) => setProjects((xs) => (e.target.checked ? [...xs, p.id] : xs.filter((x) => x !== p.id)))} />
                  {p.name}
                </label>
              ))}
            </div>
            {messageFor(errors, "allowedProjects") && <p className="field-error" role="alert">{messageFor(errors, "allowedProjects")}</p>}
          </fieldset>
        )}

        {parameters.length > 0 && (
          <fieldset className="field">
            <legend>Parameters found in the flows</legend>
            <div className="param-table">
              {parameters.map((p) => p.kind === "credential" ? (
                <div key={p.name} className="param-row">
                  <span className="param-name"><Icon name="lock" size={12} /> {p.name}</span>
                  <span className="muted">Credential: no default, a value is given at deploy time.</span>
                </div>
              ) : (
                <div key={p.name} className="param-row">
                  <TextField label={<>Default for <code>{p.name}</code></>} value={defaults[p.name] ?? ""} onChange={(e) => setDefaults((d) => ({ ...d, [p.name]: e.target.value }))} error={messageFor(errors, `defaults.${p.name}`)} placeholder="(no default)" />
                </div>
              ))}
            </div>
          </fieldset>
        )}

        {[...unplaced.map((x) => (x.field ? `${x.field}: ${x.message}` : x.message)), ...(formError ? [formError] : [])].map((m) => (
          <p key={m} className="notice notice-error" role="alert">{m}</p>
        ))}

        <div className="form-actions">
          <button type="button" className="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="button button-primary" disabled={busy || !ready}>{busy ? "Publishing…" : "Publish"}</button>
        </div>
      </form>
    </Modal>
  );
}
