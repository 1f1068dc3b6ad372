import { randomUUID } from "node:crypto";
import { z } from "zod";
import {
  ConflictError,
  ForbiddenError,
  MAX_LIVE_KEYS,
  NotFoundError,
  UnauthenticatedError,
  ValidationError,
  fieldErrors,
  generateAccessKey,
  hashAccessKey,
  hasRole,
  requireOrgOwner,
  requireRole,
  type AccessKey,
  type Page,
  type PageRequest,
  type Principal,
  type Project,
  type User,
} from "@flowplane/core";
import { KEY_LAST_USE_GRANULARITY_SECONDS, createKeySchema, createProjectSchema, createUserSchema, setMemberSchema } from "@flowplane/core/api";
import type { ServiceDeps } from "./context.js";

export function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw new ValidationError(fieldErrors(r.error));
  return r.data;
}

/**
 * True when a use at `now` is to be recorded: none yet, or the last one recorded at least
 * KEY_LAST_USE_GRANULARITY_SECONDS before (Store.touchKey's own condition, which still decides).
 */
const lastUseIsStale = (lastUsedAt: string | null, now: Date): boolean =>
  lastUsedAt === null || Date.parse(lastUsedAt) < now.getTime() - KEY_LAST_USE_GRANULARITY_SECONDS * 1000;

/** Users, access keys, projects and roles. Every method checks the caller's rights first. */
export class IdentityService {
  constructor(private readonly deps: ServiceDeps) {}

  /**
   * Resolves an access key to the caller: one query (the key, its user, the user's roles).
   * Unknown, expired and revoked keys, and keys of a deactivated user, are one answer: 401.
   * Records the key's last use, to the minute (KEY_LAST_USE_GRANULARITY_SECONDS).
   */
  async authenticate(key: string | undefined): Promise<Principal> {
    if (!key) throw new UnauthenticatedError();
    return this.authenticateKeyHash(hashAccessKey(key));
  }

  /**
   * `authenticate` for a key known only by its sha256 (hashAccessKey), as the store keeps it:
   * HAProxy's fast path reads its keys again this way (haproxy/program.ts), never holding one.
   */
  async authenticateKeyHash(hash: string): Promise<Principal> {
    const now = this.deps.now();
    const found = await this.deps.store.findLiveKey(hash, now);
    if (!found) throw new UnauthenticatedError("the access key is unknown, expired or revoked, or its user is deactivated");
    // The lookup just read the recorded last use: when it is recent enough that the store would
    // not write (the same condition touchKey checks), no statement is sent at all, so a busy key
    // costs one write a minute and the other calls none. The recorded value is the same either way.
    if (lastUseIsStale(found.key.lastUsedAt, now)) {
      // Last use is a courtesy, not a condition of the call: a write that fails or waits (a lock
      // held by a revoke, a read-only database) must not turn an authenticated call into a 500.
      this.deps.store.touchKey(found.key.id, now, KEY_LAST_USE_GRANULARITY_SECONDS).catch(() => undefined);
    }
    return { userId: found.user.id, name: found.user.name, kind: found.user.kind, orgOwner: found.user.orgOwner, roles: found.roles, keyId: found.key.id };
  }

  async createUser(p: Principal, input: unknown): Promise<User> {
    requireOrgOwner(p, "create users");
    const body = parse(createUserSchema, input);
    return this.deps.store.createUser({ id: randomUUID(), name: body.name, kind: body.kind, orgOwner: false });
  }

  async getUser(p: Principal, userId: string): Promise<User> {
    if (!p.orgOwner && p.userId !== userId) throw new NotFoundError(`user ${userId} not found`);
    const u = await this.deps.store.getUser(userId);
    if (!u) throw new NotFoundError(`user ${userId} not found`);
    return u;
  }

  async listUsers(p: Principal, page: PageRequest): Promise<Page<User>> {
    requireOrgOwner(p, "list users");
    return this.deps.store.listUsers(page);
  }

  /**
   * Deactivation is how a user leaves: their keys stop authenticating at once (the gateway's
   * key cache keeps a key at most 4 s), no key can be made for them again, and the record stays
   * for audit. Nobody deactivates themselves, so the organisation never locks itself out.
   */
  async deactivateUser(p: Principal, userId: string): Promise<User> {
    requireOrgOwner(p, "deactivate users");
    if (userId === p.userId) throw new ConflictError("you cannot deactivate yourself");
    const u = await this.deps.store.deactivateUser(userId, this.deps.now());
    if (!u) throw new NotFoundError(`user ${userId} not found`);
    return u;
  }

  /**
   * The key itself is in the answer here and nowhere else, ever. Only org owners make keys for
   * others; anyone else only for themselves (a user that is not theirs is not found), and never
   * beyond the 1..365 days the schema allows, whoever asks.
   */
  async createKey(p: Principal, userId: string, input: unknown): Promise<AccessKey & { key: string }> {
    const user = await this.getUser(p, userId);
    const body = parse(createKeySchema, input);
    return this.issueKey(user, body.expiresInDays);
  }

  async issueKey(user: User, days: number): Promise<AccessKey & { key: string }> {
    const { key, hash, prefix } = generateAccessKey();
    const expiresAt = new Date(this.deps.now().getTime() + days * 86_400_000);
    const rec = await this.deps.store.createKey({ id: randomUUID(), userId: user.id, hash, prefix, expiresAt }, MAX_LIVE_KEYS[user.kind]);
    return { ...rec, key };
  }

  async listKeys(p: Principal, userId: string): Promise<AccessKey[]> {
    await this.getUser(p, userId);
    return this.deps.store.listKeys(userId);
  }

  async revokeKey(p: Principal, keyId: string): Promise<AccessKey> {
    const k = await this.deps.store.getKey(keyId);
    if (!k || (!p.orgOwner && k.userId !== p.userId)) throw new NotFoundError(`access key ${keyId} not found`);
    return (await this.deps.store.revokeKey(keyId, this.deps.now()))!;
  }

  async createProject(p: Principal, input: unknown): Promise<Project> {
    requireOrgOwner(p, "create projects");
    const body = parse(createProjectSchema, input);
    return this.deps.store.createProject({ id: randomUUID(), name: body.name });
  }

  /** A project the caller has no role in is reported as not found: its existence is not leaked. */
  async getProject(p: Principal, projectId: string): Promise<Project> {
    const project = hasRole(p, projectId, "viewer") ? await this.deps.store.getProject(projectId) : null;
    if (!project) throw new NotFoundError(`project ${projectId} not found`);
    return project;
  }

  listProjects(p: Principal, page: PageRequest): Promise<Page<Project>> {
    return this.deps.store.listProjects(p.orgOwner ? null : [...p.roles.keys()], page);
  }

  async listMembers(p: Principal, projectId: string) {
    await this.getProject(p, projectId);
    return this.deps.store.listMembers(projectId);
  }

  /**
   * Project owners (and org owners) give roles. Nobody but an org owner changes their own
   * role: an owner cannot demote themselves by mistake, and no one raises their own rights.
   */
  async setMember(p: Principal, projectId: string, userId: string, input: unknown) {
    await this.getProject(p, projectId);
    requireRole(p, projectId, "owner", "managing members");
    const body = parse(setMemberSchema, input);
    if (userId === p.userId && !p.orgOwner) throw new ForbiddenError("you cannot change your own role; ask another owner of the project");
    if (!(await this.deps.store.getUser(userId))) throw new NotFoundError(`user ${userId} not found`);
    await this.deps.store.setMember(projectId, userId, body.role);
    return { projectId, userId, role: body.role };
  }

  /**
   * Removal is the last change of a role: as in setMember, nobody but an org owner removes
   * themselves (the web UI disables it for that reason; the API let it through, so a project's
   * only owner could leave it with no owner but the org owners).
   */
  async removeMember(p: Principal, projectId: string, userId: string) {
    await this.getProject(p, projectId);
    requireRole(p, projectId, "owner", "managing members");
    if (userId === p.userId && !p.orgOwner) throw new ForbiddenError("you cannot change your own role; ask another owner of the project");
    if (!(await this.deps.store.removeMember(projectId, userId))) throw new NotFoundError(`user ${userId} is not a member of project ${projectId}`);
  }
}
