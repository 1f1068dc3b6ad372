import type { BundleVersion, Parameter } from "@flowplane/core/api";
import { hasInvisible, writtenOut } from "../lib/lookalike";
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

/**
 * Under a bundle name that can pass for another in the same list (`like`, from lookalikes), or
 * that holds an invisible character: a warning, the name written out, and who publishes it, so
 * a deployer can tell the bundle they mean from one named to be mistaken for it.
 */
export function LookalikeNote({ v, like, inline }: { v: BundleVersion; like: readonly string[] | undefined; inline?: boolean }) {
  const s = useSession();
  // Inside a button (the Add Flow picker) only phrasing content is allowed: a span, not a div.
  const Box = inline ? "span" : "div";
  if (!like?.length && !hasInvisible(v.name)) return null;
  const publisher = v.projectId === null ? "an organisation owner" : (s.projects.find((p) => p.id === v.projectId)?.name ?? "a project you are not in");
  const why = [
    like?.length ? `This name looks like ${like.map((n) => `"${writtenOut(n)}"`).join(", ")}: another bundle` : "This name holds characters that show nothing or pass for others",
    `written out it is "${writtenOut(v.name)}", published by ${publisher}`,
  ].join("; ");
  return (
    <Box className="cell-sub" data-lookalike={writtenOut(v.name)}>
      <span className="badge badge-warn" title={why} aria-hidden="true">Look-alike name</span>{" "}
      <code>{writtenOut(v.name)}</code> · published by {publisher}
      <span className="sr-only">. {why}.</span>
    </Box>
  );
}

export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, "").slice(0, 12);
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
