import { useId, useState, type FormEvent } from "react";
import { useSession } from "../lib/session";
import { TextField } from "../ui/field";
import { Modal } from "../ui/modal";
import { useToasts } from "../ui/toasts";
import { ApiError, errorText } from "../api/client";

const NEW = "__new__";

/** The project every page works in. Org owners can create one here (a first start has none). */
export function ProjectSwitcher() {
  const s = useSession();
  const id = useId();
  const [creating, setCreating] = useState(false);
  return (
    <div className="project-switcher">
      <label htmlFor={id} className="collapse-narrow">Project</label>
      <select
        id={id}
        value={s.project?.id ?? ""}
        onChange={(e) => (e.target.value === NEW ? setCreating(true) : s.setProject(e.target.value))}
      >
        {s.projects.length === 0 && <option value="">No projects</option>}
        {s.projects.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
        {s.me.orgOwner && <option value={NEW}>+ New project…</option>}
      </select>
      {creating && <NewProjectDialog onClose={() => setCreating(false)} />}
    </div>
  );
}

export function NewProjectDialog({ onClose }: { onClose: () => void }) {
  const s = useSession();
  const toasts = useToasts();
  const [name, setName] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const p = await s.api("createProject", { body: { name: name.trim() } });
      await s.reloadProjects();
      s.setProject(p.id);
      toasts.success(`Project ${p.name} created`);
      onClose();
    } catch (err) {
      setError(err instanceof ApiError && err.details[0] ? err.details[0].message : errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title="New project" onClose={onClose} description="Deployments live in a project; members get a role in it.">
      <form onSubmit={(e) => void submit(e)} noValidate>
        <TextField label="Project name" value={name} onChange={(e) => setName(e.target.value)} error={error} required autoFocus />
        <div className="form-actions">
          <button type="button" className="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="button button-primary" disabled={busy || name.trim() === ""}>Create project</button>
        </div>
      </form>
    </Modal>
  );
}
