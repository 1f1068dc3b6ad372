import { randomUUID } from "node:crypto";
import { z } from "zod";
import {
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
import { createKeySchema, createProjectSchema, createUserSchema, setMemberSchema } from "@flowplane/core/api";
import type { ServiceDeps } from "./context.js";

export function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw new ValidationError(fieldErrors(r.error));
  return r.data;
}

/** Users, access keys, projects and roles. Every method checks the caller's rights first. */
export class IdentityService {
  constructor(private readonly deps: ServiceDeps) {}

  /** Resolves an access key to the caller. Unknown, expired and revoked keys are one answer: 401. */
  async authenticate(key: string | undefined): Promise<Principal> {
    if (!key) throw new UnauthenticatedError();
    const found = await this.deps.store.findLiveKey(hashAccessKey(key), this.deps.now());
    if (!found) throw new UnauthenticatedError("the access key is unknown, expired or revoked");
    const roles = await this.deps.store.rolesOf(found.user.id);
    return { userId: found.user.id, name: found.user.name, kind: found.user.kind, orgOwner: found.user.orgOwner, roles };
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

  /** The key itself is in the answer here and nowhere else, ever. */
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

  async setMember(p: Principal, projectId: string, userId: string, input: unknown) {
    await this.getProject(p, projectId);
    requireRole(p, projectId, "owner", "managing members");
    const body = parse(setMemberSchema, input);
    if (!(await this.deps.store.getUser(userId))) throw new NotFoundError(`user ${userId} not found`);
    await this.deps.store.setMember(projectId, userId, body.role);
    return { projectId, userId, role: body.role };
  }

  async removeMember(p: Principal, projectId: string, userId: string) {
    await this.getProject(p, projectId);
    requireRole(p, projectId, "owner", "managing members");
    if (!(await this.deps.store.removeMember(projectId, userId))) throw new NotFoundError(`user ${userId} is not a member of project ${projectId}`);
  }
}
