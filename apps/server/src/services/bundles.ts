import {
  ForbiddenError,
  LATEST,
  NotFoundError,
  ValidationError,
  applyVersionPatch,
  canDeleteVersion,
  canEditVersion,
  canShareWith,
  flowGraph,
  hasRole,
  parseFlow,
  visibleProjects,
  type BundleSummary,
  type BundleVersion,
  type Page,
  type PageRequest,
  type Principal,
} from "@flowplane/core";
import type { FlowGraph } from "@flowplane/core/api";
import type { ServiceDeps } from "./context.js";
import { inlinePreparer, type VersionPreparer } from "./version-preparer.js";

/** The Asset Library: published bundles and their immutable versions. */
export class BundleService {
  /** `prepare`: where a publish is parsed and checked (version-preparer.ts); default on the event loop. */
  constructor(private readonly deps: ServiceDeps, private readonly prepare: VersionPreparer = inlinePreparer) {}

  /**
   * Publishes a version on behalf of one project (`projectId`), whose owners and editors
   * manage it afterwards. Everything is checked before anything is written: a refused publish
   * leaves no trace. `bodyBytes`: the request body's size, when known (a large one is prepared off the event loop).
   */
  async publish(p: Principal, input: unknown, bodyBytes?: number): Promise<BundleVersion> {
    const version = await this.prepare(input, p.userId, bodyBytes);
    if (version.projectId === null && !p.orgOwner) version.projectId = this.onlyEditorProject(p);
    // The caller's rights before the projects' existence: asked the other way round, a project the
    // caller has no role in answered 400 "does not exist" when it did not and 403 when it did,
    // telling anyone whether an id is a project, which every other route keeps to its members.
    if (version.projectId !== null && !hasRole(p, version.projectId, "editor")) {
      throw new ForbiddenError(`publishing on behalf of project ${version.projectId} needs the editor role there`);
    }
    if (!canShareWith(p, version.allowedProjects)) {
      throw new ForbiddenError("publishing needs the editor role in every project the bundle is shared with");
    }
    await this.checkProjectsExist([...version.allowedProjects, ...(version.projectId ? [version.projectId] : [])]);
    if (version.accessLevel === "project" && version.projectId !== null && !version.allowedProjects.includes(version.projectId)) {
      throw new ValidationError([{ field: "projectId", message: `the publishing project ${version.projectId} must be one of allowedProjects` }]);
    }
    // A bundle's name belongs to the project that first published it: otherwise another team
    // could add a version under a global bundle's name, and whoever deploys `latest` of it would
    // run that team's flows. Adding a version is an edit of the bundle (same rule as editing one).
    // Checked by the store under a lock on the name, in the insert's transaction: checked before
    // it, two first publishes of one name by two projects at once both passed.
    return this.deps.store.insertVersion(version, (first) => {
      if (first && !canEditVersion(p, first)) {
        throw new ForbiddenError(`bundle ${version.name} is published by another project: adding a version needs the editor role there (or publish under another name)`);
      }
    });
  }

  /** A global publish without `projectId`: the caller's one project where they may publish. */
  private onlyEditorProject(p: Principal): string {
    const editorIn = [...p.roles.keys()].filter((id) => hasRole(p, id, "editor"));
    if (editorIn.length === 1) return editorIn[0]!;
    if (editorIn.length === 0) throw new ForbiddenError("publishing needs the editor role in a project");
    throw new ValidationError([{ field: "projectId", message: "you are an editor in several projects: name the one that publishes this bundle (projectId)" }]);
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

  /** One flow of a version as a graph, for whoever may see the version. */
  async flowGraph(p: Principal, name: string, tag: string, flowId: string): Promise<FlowGraph> {
    const v = await this.getVersion(p, name, tag);
    const notFound = new NotFoundError(`flow ${flowId} is not in ${v.name}@${v.versionTag}`);
    // The version's flow summaries are its parsed flows in order: only the one asked for is
    // parsed again. Parsing every flow before it put up to 10 MiB of parsing on the event loop
    // per call, each time anyone who may see a large version opened one of its last flows.
    const at = v.flows.findIndex((f) => f.id === flowId);
    if (at < 0) throw notFound;
    // That flow alone is read too, not the version's every raw flow (up to 10 MiB decoded per call).
    const raw = await this.deps.store.getRawFlow(v.name, v.versionTag, at);
    if (raw === null) throw notFound;
    const flow = parseFlow(raw, `flows[${at}]`);
    if (flow.id !== flowId) throw notFound;
    return flowGraph(flow);
  }

  async patchVersion(p: Principal, name: string, tag: string, input: unknown): Promise<BundleVersion> {
    const current = await this.getVersion(p, name, tag);
    if (!canEditVersion(p, current)) throw new ForbiddenError(editRule(`editing ${name}@${current.versionTag}`, current));
    const next = applyVersionPatch(current, input);
    const added = next.allowedProjects.filter((id) => !current.allowedProjects.includes(id));
    // Rights first, existence after, as in publish: else a 400 "does not exist" tells a project's existence.
    if (!canShareWith(p, added)) throw new ForbiddenError("you may only share a version with projects where you hold the editor role");
    await this.checkProjectsExist(next.allowedProjects);
    if (next.accessLevel === "project" && next.projectId !== null && !next.allowedProjects.includes(next.projectId)) {
      throw new ValidationError([{ field: "allowedProjects", message: `the publishing project ${next.projectId} must stay among allowedProjects` }]);
    }
    return this.deps.store.updateVersion(next);
  }

  async deleteVersion(p: Principal, name: string, tag: string): Promise<void> {
    const current = await this.getVersion(p, name, tag);
    if (!canDeleteVersion(p)) throw new ForbiddenError(`only an organisation owner may delete ${name}@${current.versionTag}: other projects may pin it`);
    await this.deps.store.deleteVersion(name, current.versionTag, this.deps.now());
  }

  private async checkProjectsExist(ids: string[]): Promise<void> {
    const missing: string[] = [];
    for (const id of ids) if (!(await this.deps.store.getProject(id))) missing.push(id);
    if (missing.length) {
      throw new ValidationError(missing.map((id) => ({ field: "allowedProjects", message: `project ${id} does not exist` })));
    }
  }
}

function editRule(action: string, v: BundleVersion): string {
  return v.projectId === null
    ? `${action} needs an organisation owner: no project published it`
    : `${action} needs the owner or editor role in project ${v.projectId}, which published it`;
}
