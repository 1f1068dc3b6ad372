import type { Deployment, Project } from "@flowplane/core/api";
import type { ApiClient } from "./client.js";
import { CliError, Exit, usageError } from "./errors.js";
import type { Io } from "./io.js";
import { terminalPrompter, type Prompter } from "./prompts.js";
import { resolveTarget, type Target } from "./target.js";

/** Options every command accepts (declared on the program, usable before or after the command name). */
export interface GlobalOptions {
  context?: string;
  project?: string;
}

/**
 * What a command works with: the I/O edges, and (made on first use, so `--help` and
 * `completion` never read the contexts file or the network) the target, the API client, the
 * prompter, and name-to-id lookups of projects and deployments.
 */
export class Session {
  private targetP?: Promise<Target>;
  private prompterV?: Prompter;

  constructor(readonly io: Io, readonly globals: GlobalOptions) {}

  target(): Promise<Target> {
    this.targetP ??= resolveTarget(this.io, this.globals);
    return this.targetP;
  }

  async client(): Promise<ApiClient> {
    // Loaded here, not at start: the client brings the API contract (zod), which `--help` and
    // the commands that never call the server do not need.
    const { ApiClient } = await import("./client.js");
    return new ApiClient(await this.target(), this.io.env.FLOWPLANE_CHECK_ANSWERS === "1");
  }

  prompter(): Prompter {
    this.prompterV ??= terminalPrompter(this.io);
    return this.prompterV;
  }

  close(): void {
    this.prompterV?.close();
  }

  /**
   * The project to work in: --project / FLOWPLANE_PROJECT / the context's default (a name or an
   * id), else the caller's only project. Several and none chosen is a usage error listing them.
   */
  async project(ref?: string, client?: ApiClient): Promise<Project> {
    const want = ref ?? (await this.target()).project;
    const projects = await (client ?? (await this.client())).all("listProjects", {});
    if (want === undefined) {
      if (projects.length === 1) return projects[0]!;
      if (projects.length === 0) throw new CliError(Exit.notFound, "you have no project yet: create one with `flowplane projects create NAME`");
      throw usageError(`choose a project with --project (one of: ${projects.map((p) => p.name).join(", ")}), or set a default with \`flowplane context set-project NAME\``);
    }
    const found = projects.find((p) => p.id === want) ?? projects.find((p) => p.name === want);
    if (!found) throw new CliError(Exit.notFound, `no project "${want}" that you can see${projects.length ? ` (yours: ${projects.map((p) => p.name).join(", ")})` : ""}`);
    return found;
  }

  /**
   * A deployment by id, display name or resource name, among the project's live deployments.
   * A name shared by several is refused, listing their ids. An undeployed deployment is no
   * longer listed, but its record stays for audit: it is still found by its id.
   */
  async deployment(ref: string, projectRef?: string): Promise<{ project: Project; deployment: Deployment }> {
    const project = await this.project(projectRef);
    const client = await this.client();
    const all = await client.all("listDeployments", { params: { projectId: project.id } });
    const named = all.filter((d) => d.id === ref || d.displayName === ref || d.resourceName === ref);
    const live = named.filter((d) => !d.deletionRequestedAt);
    const candidates = live.length > 0 ? live : named;
    if (candidates.length === 1) return { project, deployment: candidates[0]! };
    if (candidates.length > 1) {
      throw usageError(`${candidates.length} deployments in ${project.name} are named "${ref}": give the id (${candidates.map((d) => d.id).join(", ")})`);
    }
    if (UUID.test(ref)) {
      try {
        return { project, deployment: await client.do("getDeployment", { params: { projectId: project.id, id: ref } }) };
      } catch (e) {
        if (!(e instanceof CliError && e.exitCode === Exit.notFound)) throw e;
      }
    }
    throw new CliError(Exit.notFound, `no deployment "${ref}" in project ${project.name}`);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
