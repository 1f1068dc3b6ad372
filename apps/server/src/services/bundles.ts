import {
  ForbiddenError,
  LATEST,
  NotFoundError,
  ValidationError,
  applyVersionPatch,
  canManageVersion,
  prepareVersion,
  visibleProjects,
  type BundleSummary,
  type BundleVersion,
  type Page,
  type PageRequest,
  type Principal,
} from "@flowplane/core";
import type { ServiceDeps } from "./context.js";

/** The Asset Library: published bundles and their immutable versions. */
export class BundleService {
  constructor(private readonly deps: ServiceDeps) {}

  async publish(p: Principal, input: unknown): Promise<BundleVersion> {
    // Everything is checked before anything is written: a refused publish leaves no trace.
    const version = prepareVersion(input, p.userId);
    await this.checkProjectsExist(version.allowedProjects);
    if (!canManageVersion(p, version)) {
      throw new ForbiddenError(version.accessLevel === "global"
        ? "publishing a global bundle needs the editor role in at least one project"
        : "publishing needs the editor role in every project the bundle is shared with");
    }
    return this.deps.store.insertVersion(version);
  }

  list(p: Principal, page: PageRequest): Promise<Page<BundleSummary>> {
    return this.deps.store.listBundles(visibleProjects(p), page);
  }

  async get(p: Principal, name: string): Promise<{ name: string; versions: BundleVersion[] }> {
    const versions = await this.deps.store.listVersions(name, visibleProjects(p));
    if (versions.length === 0) throw new NotFoundError(`bundle ${name} not found`);
    return { name, versions };
  }

  /** `tag` may be `latest`: the newest version the caller can see. */
  async getVersion(p: Principal, name: string, tag: string): Promise<BundleVersion> {
    const vis = visibleProjects(p);
    const v = tag === LATEST ? await this.deps.store.latestVersion(name, vis) : await this.deps.store.getVersion(name, tag, vis);
    if (!v) throw new NotFoundError(tag === LATEST ? `bundle ${name} not found` : `version ${tag} of bundle ${name} not found`);
    return v;
  }

  async patchVersion(p: Principal, name: string, tag: string, input: unknown): Promise<BundleVersion> {
    const current = await this.getVersion(p, name, tag);
    if (!canManageVersion(p, current)) throw new ForbiddenError(`editing ${name}@${current.versionTag} needs the editor role where it is shared`);
    const next = applyVersionPatch(current, input);
    await this.checkProjectsExist(next.allowedProjects);
    if (!canManageVersion(p, next)) throw new ForbiddenError("you may only share a version with projects where you hold the editor role");
    return this.deps.store.updateVersion(next);
  }

  async deleteVersion(p: Principal, name: string, tag: string): Promise<void> {
    const current = await this.getVersion(p, name, tag);
    if (!canManageVersion(p, current)) throw new ForbiddenError(`deleting ${name}@${current.versionTag} needs the editor role where it is shared`);
    await this.deps.store.deleteVersion(name, current.versionTag);
  }

  private async checkProjectsExist(ids: string[]): Promise<void> {
    const missing: string[] = [];
    for (const id of ids) if (!(await this.deps.store.getProject(id))) missing.push(id);
    if (missing.length) {
      throw new ValidationError(missing.map((id) => ({ field: "allowedProjects", message: `project ${id} does not exist` })));
    }
  }
}
