import type { BundleVersion, Parameter } from "../api/types";
import { useSession } from "../lib/session";
import { Icon } from "../ui/icons";

/** Small views of a bundle version shared by the library table and the dialogs. */
export function ParameterChips({ parameters, inline }: { parameters: Parameter[]; inline?: boolean }) {
  if (parameters.length === 0) return <span className="muted">No parameters</span>;
  // Inside a button (the Add Flow picker) only phrasing content is allowed: spans, not a list.
  const List = inline ? "span" : "ul";
  const Item = inline ? "span" : "li";
  return (
    <List className="chips">
      {parameters.map((p) => (
        <Item key={p.name} className={`chip${p.kind === "credential" ? " chip-credential" : ""}`} title={p.kind === "credential" ? "Credential: a value is required at deploy time" : p.default !== undefined ? `Default: ${p.default}` : "Plain parameter"}>
          {p.kind === "credential" && <Icon name="lock" size={12} />}
          {p.name}
          {p.kind === "credential" && <span className="sr-only"> (credential)</span>}
        </Item>
      ))}
    </List>
  );
}

export function EngineBadge({ v }: { v: BundleVersion }) {
  const native = v.compatibility.native;
  const lfx = v.compatibility.lfx;
  if (!native.supported && !lfx.supported) {
    const why = (lfx.missing ?? []).map((m) => `${m.nodeId} (${m.type}): ${m.detail}`).join("\n");
    return <span className="badge badge-bad" title={`Neither engine can run it.\n${why}`}>no engine</span>;
  }
  if (native.supported) {
    return <span className="badge badge-ok" title="The native engine runs every component; lfx runs it too">native · lfx</span>;
  }
  const missing = [...new Set(native.missing.map((m) => m.type))].join(", ");
  return <span className="badge badge-neutral" title={`Native engine missing: ${missing}`}>lfx only</span>;
}

/** Publish warnings (no model selected, a secret left unbound...): a count, every message in the title and for screen readers. */
export function WarningsBadge({ v }: { v: BundleVersion }) {
  const warnings = v.warnings ?? [];
  if (warnings.length === 0) return null;
  const text = warnings.map((w) => w.message).join("\n");
  return (
    <span className="badge badge-warn" title={text}>
      {warnings.length} warning{warnings.length === 1 ? "" : "s"}
      <span className="sr-only">: {text}</span>
    </span>
  );
}

export function AccessBadge({ v }: { v: BundleVersion }) {
  const s = useSession();
  if (v.accessLevel === "global") return <span className="badge badge-info">Global</span>;
  const names = v.allowedProjects.map((id) => s.projects.find((p) => p.id === id)?.name ?? "another project");
  return <span className="badge badge-neutral" title={`Shared with: ${names.join(", ")}`}>Project · {names.length === 1 ? names[0] : `${names.length} projects`}</span>;
}

export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, "").slice(0, 12);
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
