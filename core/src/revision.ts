import type { RevisionCause, RevisionDiff } from "./api/revisions.js";
import { replicaRuntime, resolveRuntime, type Deployment, type Resources, type RuntimeConfig } from "./deployment.js";

export type { RevisionCause, RevisionDiff } from "./api/revisions.js";

/** What a revision holds of a deployment: everything that runs, bar the replica count (scaling makes no revision). */
export interface RevisionSpec {
  bundle: Deployment["bundle"];
  runtime: RuntimeConfig;
  /** Effective plain parameter values, as they ran (a later edit of the version's defaults does not change them). */
  parameters: Record<string, string>;
  parameterOverrides: Record<string, string>;
  credentialNames: string[];
  resources: Pick<Resources, "cpu" | "memory">;
}

/**
 * One immutable revision of a deployment, as the store keeps it. Its credential values are
 * sealed beside it exactly as the deployment's own (never in this record).
 */
export interface DeploymentRevision extends RevisionSpec {
  deploymentId: string;
  revision: number;
  createdAt: string;
  createdBy: { userId: string; name: string };
  cause: RevisionCause;
  rolledBackTo: number | null;
  changes: string[];
}

/** What a change of a deployment tells the store about the revision it makes (DeploymentChange.revision). */
export interface RevisionNote {
  /** The user id of whoever made the change. */
  createdBy: string;
  cause: Exclude<RevisionCause, "deploy" | "adopted">;
  rolledBackTo: number | null;
  changes: string[];
}

/** The part of a deployment a revision records. */
export function revisionSpecOf(d: Pick<Deployment, "bundle" | "runtime" | "parameters" | "parameterOverrides" | "credentialNames" | "resources">): RevisionSpec {
  return {
    bundle: { ...d.bundle },
    runtime: { ...d.runtime },
    parameters: { ...d.parameters },
    parameterOverrides: { ...d.parameterOverrides },
    credentialNames: [...d.credentialNames],
    resources: { cpu: { ...d.resources.cpu }, memory: { ...d.resources.memory } },
  };
}

const str = (v: string | number | undefined): string | null => (v === undefined ? null : String(v));

function changedValues(a: Record<string, string | number>, b: Record<string, string | number>): RevisionDiff["parameters"] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
    .filter((n) => a[n] !== b[n])
    .map((name) => ({ name, from: str(a[name]), to: str(b[name]) }));
}

/** The replicas' settings as flat values (`io.record`, `io.maxChars`); a revision stored before `io` existed has it off. */
function flatRuntime(r: RuntimeConfig): Record<string, string | number> {
  const { io, ...rest } = replicaRuntime(resolveRuntime(undefined, r));
  return { ...rest, "io.record": String(io.record), "io.maxChars": io.maxChars };
}

const flatResources = (r: RevisionSpec["resources"]): Record<string, string> =>
  ({ "cpu.request": r.cpu.request, "cpu.limit": r.cpu.limit, "memory.request": r.memory.request, "memory.limit": r.memory.limit });

/**
 * The difference `from` → `to`. Credentials are compared by value (`changedCredentials`: the
 * names held by both whose values differ, worked out by the caller that may open them) and
 * answered by name only.
 */
export function diffRevisions(from: { revision: number } & RevisionSpec, to: { revision: number } & RevisionSpec, changedCredentials: string[]): RevisionDiff {
  const fromCreds = new Set(from.credentialNames);
  const toCreds = new Set(to.credentialNames);
  return {
    from: from.revision,
    to: to.revision,
    bundle: from.bundle.version === to.bundle.version && from.bundle.digest === to.bundle.digest ? null : { from: from.bundle.version, to: to.bundle.version },
    parameters: changedValues(from.parameters, to.parameters),
    credentials: {
      added: [...toCreds].filter((n) => !fromCreds.has(n)).sort(),
      removed: [...fromCreds].filter((n) => !toCreds.has(n)).sort(),
      changed: changedCredentials.filter((n) => fromCreds.has(n) && toCreds.has(n)).sort(),
    },
    // The replicas' settings only: rate limits and scale to zero are the gateway's, changed
    // without a revision (and objects, which this comparison of values would not see through).
    runtime: changedValues(flatRuntime(from.runtime), flatRuntime(to.runtime)),
    resources: changedValues(flatResources(from.resources), flatResources(to.resources)),
  };
}

/** The names of credentials held by both value sets whose values differ. */
export function changedCredentialNames(a: Record<string, string>, b: Record<string, string>): string[] {
  return Object.keys(a).filter((n) => b[n] !== undefined && a[n] !== b[n]).sort();
}

/** A diff as field names, the summary a revision keeps: `bundle.version`, `parameters.X`, `credentials.Y`, `runtime.engine`, `resources.cpu.limit`. */
export function changedFields(d: RevisionDiff): string[] {
  return [
    ...(d.bundle ? ["bundle.version"] : []),
    ...d.parameters.map((p) => `parameters.${p.name}`),
    ...[...d.credentials.added, ...d.credentials.removed, ...d.credentials.changed].sort().map((n) => `credentials.${n}`),
    ...d.runtime.map((r) => `runtime.${r.name}`),
    ...d.resources.map((r) => `resources.${r.name}`),
  ];
}
