import type { BundleVersion, FieldError } from "@flowplane/core/api";
import { atLeast, useSession } from "../lib/session";
import { RadioGroup, SelectField, TextField } from "../ui/field";
import { fieldMessage, type Draft } from "./draft";
import { LimitsFields, ScaleToZeroFields } from "./limits-fields";
import { RecordIOFields } from "./io-fields";
import { TweaksField } from "./tweaks-field";

/** Step 1: name, project, network access and runtime configuration. */
export function ConfigureStep({ draft, set, errors, versions, version }: {
  draft: Draft;
  set: (patch: Partial<Draft>) => void;
  errors: FieldError[];
  versions: BundleVersion[];
  version: BundleVersion | null;
}) {
  const s = useSession();
  const deployable = s.projects.filter((p) => atLeast(s.roleIn(p.id), "editor"));
  const bundleError = fieldMessage(errors, "bundle.name") ?? fieldMessage(errors, "bundle.version") ?? fieldMessage(errors, "bundle");
  const recommended = version?.compatibility.recommendedEngine;
  return (
    <div className="form">
      <div className="grid-2">
        <TextField
          label="Display Name" required autoFocus value={draft.displayName} maxLength={80}
          onChange={(e) => set({ displayName: e.target.value })}
          error={fieldMessage(errors, "displayName")}
          hint="1 to 63 characters. Resource names are derived from it."
        />
        <SelectField label="Project" required value={draft.projectId} onChange={(e) => set({ projectId: e.target.value })} error={fieldMessage(errors, "projectId")} hint="Only projects where you may deploy.">
          {deployable.length === 0 && <option value="">No project where you may deploy</option>}
          {deployable.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
        </SelectField>
      </div>
      <SelectField label={<>Version of <strong>{draft.bundle}</strong></>} value={draft.version} onChange={(e) => set({ version: e.target.value })} error={bundleError}>
        {versions.length === 0 && <option value={draft.version}>{draft.version}</option>}
        {versions.map((v, i) => <option key={v.versionTag} value={v.versionTag}>{v.versionTag}{i === 0 ? " (newest)" : ""}</option>)}
      </SelectField>
      <RadioGroup
        legend="Network Access Type" name="networkAccess" value={draft.networkAccess} onChange={(v) => set({ networkAccess: v })}
        error={fieldMessage(errors, "networkAccess")}
        options={[
          { value: "public", label: "Public", hint: "Served on the public gateway listener." },
          { value: "private", label: "Private", hint: "Only on the internal listener." },
        ]}
      />
      <fieldset className="field subsection">
        <legend>Runtime Configuration</legend>
        <div className="grid-3">
          <SelectField label="Engine" value={draft.engine} onChange={(e) => set({ engine: e.target.value as Draft["engine"] })} error={fieldMessage(errors, "runtime.engine")}
            hint={recommended ? `Auto picks ${recommended} for this version.` : undefined}>
            <option value="auto">Auto</option>
            <option value="native" disabled={version ? !version.compatibility.native.supported : false}>Native (Node)</option>
            <option value="lfx">lfx (Langflow)</option>
          </SelectField>
          <SelectField label="Log level" value={draft.logLevel} onChange={(e) => set({ logLevel: e.target.value as Draft["logLevel"] })} error={fieldMessage(errors, "runtime.logLevel")}>
            {["debug", "info", "warn", "error"].map((l) => <option key={l} value={l}>{l}</option>)}
          </SelectField>
          <TextField label="Request timeout (seconds)" inputMode="numeric" value={draft.timeout} onChange={(e) => set({ timeout: e.target.value })} error={fieldMessage(errors, "runtime.requestTimeoutSeconds")} hint="1 to 3600" />
        </div>
        <TweaksField draft={draft} set={set} errors={errors} />
      </fieldset>
      <LimitsFields draft={draft} set={set} errors={errors} />
      <ScaleToZeroFields draft={draft} set={set} errors={errors} />
      <RecordIOFields draft={draft} set={set} errors={errors} />
    </div>
  );
}
