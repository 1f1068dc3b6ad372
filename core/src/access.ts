import type { AccessLevel } from "./bundle.js";
import type { Role, UserKind } from "./api/identity.js";
import { ForbiddenError } from "./errors.js";

// Roles and user kinds are part of the API contract (./api/identity.ts).
export { MAX_LIVE_KEYS, ROLES, type Role, type UserKind } from "./api/identity.js";

const RANK: Record<Role, number> = { viewer: 1, editor: 2, owner: 3 };

/** Who is calling, as resolved from an access key. */
export interface Principal {
  userId: string;
  name: string;
  kind: UserKind;
  orgOwner: boolean;
  /** projectId → role */
  roles: ReadonlyMap<string, Role>;
  /** The id of the access key that authenticated the call (recorded in the run history; never the key). */
  keyId?: string;
}

export function hasRole(p: Principal, projectId: string, atLeast: Role): boolean {
  if (p.orgOwner) return true;
  const r = p.roles.get(projectId);
  return r !== undefined && RANK[r] >= RANK[atLeast];
}

/** The projects whose bundles and deployments the principal sees; null means all (org owner). */
export function visibleProjects(p: Principal): string[] | null {
  return p.orgOwner ? null : [...p.roles.keys()];
}

export function canSeeVersion(p: Principal, v: { accessLevel: AccessLevel; allowedProjects: string[] }): boolean {
  return p.orgOwner || v.accessLevel === "global" || v.allowedProjects.some((id) => p.roles.has(id));
}

/**
 * Sharing a version with projects (at publish, or when an edit adds them) needs the editor
 * role in each of them: nobody places a bundle in a project they cannot deploy into.
 */
export function canShareWith(p: Principal, projectIds: readonly string[]): boolean {
  return projectIds.every((id) => hasRole(p, id, "editor"));
}

/**
 * Editing a published version's access, description or defaults: an org owner, or an owner
 * or editor of the project that published it (`projectId`). Seeing a version, being an editor
 * elsewhere, or the version being `global` grants nothing: a global bundle other teams pin
 * stays under its publisher's control. A version with no publishing project is org-managed.
 */
export function canEditVersion(p: Principal, v: { projectId: string | null }): boolean {
  return p.orgOwner || (v.projectId !== null && hasRole(p, v.projectId, "editor"));
}

/** Deleting a version removes it for every project that may pin it: org owners only. */
export function canDeleteVersion(p: Principal): boolean {
  return p.orgOwner;
}

/** A version may be deployed into a project it is shared with. */
export function versionAvailableIn(v: { accessLevel: AccessLevel; allowedProjects: string[] }, projectId: string): boolean {
  return v.accessLevel === "global" || v.allowedProjects.includes(projectId);
}

export function requireOrgOwner(p: Principal, action: string): void {
  if (!p.orgOwner) throw new ForbiddenError(`only an organisation owner may ${action}`);
}

export function requireRole(p: Principal, projectId: string, atLeast: Role, action: string): void {
  if (!hasRole(p, projectId, atLeast)) {
    throw new ForbiddenError(`${action} needs the ${atLeast} role${atLeast === "owner" ? "" : " or higher"} in project ${projectId}`);
  }
}
