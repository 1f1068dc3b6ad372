import type { AccessKey, BundleVersion, Deployment, DeploymentEvent, DeploymentRevision, Project, Role, User, UserKind } from "@flowplane/core";
import { ValidationError, versionWarnings } from "@flowplane/core";

/** Row → domain record mappers. Timestamps leave the store as ISO strings. */
type Row = Record<string, unknown>;

export const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));
const json = <T>(v: unknown): T => (typeof v === "string" ? (JSON.parse(v) as T) : (v as T));

export function toUser(r: Row): User {
  return { id: String(r.id), name: String(r.name), kind: r.kind as UserKind, orgOwner: r.org_owner === true, createdAt: iso(r.created_at), deactivatedAt: isoOrNull(r.deactivated_at) };
}

export function toKey(r: Row): AccessKey {
  return {
    id: String(r.id),
    userId: String(r.user_id),
    prefix: String(r.prefix),
    createdAt: iso(r.created_at),
    expiresAt: iso(r.expires_at),
    revokedAt: isoOrNull(r.revoked_at),
    lastUsedAt: isoOrNull(r.last_used_at),
  };
}

export function toProject(r: Row): Project {
  return { id: String(r.id), name: String(r.name), createdAt: iso(r.created_at) };
}

export const toRole = (v: unknown): Role => v as Role;

/** A user's roles as `[[projectId, role], ...]` (json_agg of project_members rows). */
export function toRoles(v: unknown): Map<string, Role> {
  return new Map(json<[string, string][]>(v).map(([projectId, role]) => [projectId, toRole(role)]));
}

export function toVersion(r: Row): BundleVersion {
  return {
    name: String(r.name),
    versionTag: String(r.version_tag),
    description: String(r.description),
    accessLevel: r.access_level as BundleVersion["accessLevel"],
    allowedProjects: (r.allowed_projects as string[] | null) ?? [],
    digest: String(r.digest),
    parameters: json(r.parameters),
    flows: json(r.flows),
    compatibility: json(r.compatibility),
    // Kept with each flow summary (no column of their own).
    warnings: versionWarnings(json(r.flows)),
    createdAt: iso(r.created_at),
    createdBy: String(r.created_by),
    projectId: r.project_id === null || r.project_id === undefined ? null : String(r.project_id),
  };
}

export function toDeployment(r: Row): Deployment {
  return {
    id: String(r.id),
    projectId: String(r.project_id),
    displayName: String(r.display_name),
    resourceName: String(r.resource_name),
    appId: String(r.app_id),
    routes: { http: String(r.route_http), mcp: String(r.route_mcp) },
    bundle: { name: String(r.bundle_name), version: String(r.bundle_version), digest: String(r.bundle_digest) },
    networkAccess: r.network_access as Deployment["networkAccess"],
    runtime: json(r.runtime),
    parameters: json(r.parameters),
    parameterOverrides: json(r.parameter_overrides),
    credentialNames: json(r.credential_names),
    resources: json(r.resources),
    generation: Number(r.generation),
    revision: Number(r.revision ?? 1),
    status: json(r.status),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    createdBy: String(r.created_by),
    deletionRequestedAt: isoOrNull(r.deletion_requested_at),
    deletedAt: isoOrNull(r.deleted_at),
    disabled: r.disabled === null || r.disabled === undefined ? null : json(r.disabled),
    sleeping: r.sleeping === null || r.sleeping === undefined ? null : json(r.sleeping),
    traffic: r.traffic === null || r.traffic === undefined ? null : json(r.traffic),
  };
}

/** A deployment_revisions row joined with its author's name (`author_name`; the id when the user is gone). */
export function toRevision(r: Row): DeploymentRevision {
  return {
    deploymentId: String(r.deployment_id),
    revision: Number(r.revision),
    createdAt: iso(r.created_at),
    createdBy: { userId: String(r.created_by), name: String(r.author_name ?? r.created_by) },
    cause: r.cause as DeploymentRevision["cause"],
    rolledBackTo: r.rolled_back_to === null || r.rolled_back_to === undefined ? null : Number(r.rolled_back_to),
    changes: json(r.changes),
    bundle: { name: String(r.bundle_name), version: String(r.bundle_version), digest: String(r.bundle_digest) },
    runtime: json(r.runtime),
    parameters: json(r.parameters),
    parameterOverrides: json(r.parameter_overrides),
    credentialNames: json(r.credential_names),
    resources: json(r.resources),
  };
}

export function toEvent(r: Row): DeploymentEvent {
  return { time: iso(r.time), type: r.type as DeploymentEvent["type"], reason: String(r.reason), message: String(r.message) };
}

/** Cursors are opaque to clients: base64url of the last row's sort key. */
export function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify([key])).toString("base64url");
}

/**
 * What a list sorts by, so what its cursor may hold: a serial id or sequence (`integer`, digits
 * only, within bigint) or a name (`text`).
 */
export type CursorKind = "integer" | "text";

/** Digits only and at most 18 of them: always a bigint, so never a cast error in the query. */
const INTEGER_KEY = /^[0-9]{1,18}$/;
/** Longer than any name a list sorts by. */
const TEXT_KEY_MAX = 1024;

/**
 * The sort key a cursor holds, or null for none. Cursors come back from clients, who can write
 * any: one this server could not have issued for that list is a 400 here, before the key reaches
 * SQL, where a non-numeric key for a bigint column or a NUL in a text one was a database error
 * (a 500, its statement in the log).
 */
export function decodeCursor(cursor: string | undefined, kind: CursorKind): string | null {
  if (cursor === undefined || cursor === "") return null;
  let key: unknown;
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(v) && v.length === 1) key = v[0];
  } catch {
    // fall through to the validation error
  }
  if (typeof key === "string" && (kind === "integer" ? INTEGER_KEY.test(key) : key.length <= TEXT_KEY_MAX && !key.includes("\u0000"))) return key;
  throw new ValidationError([{ field: "cursor", message: "the cursor is not one this server issued" }]);
}
