import {
  ConflictError,
  NotFoundError,
  ValidationError,
  changedCredentialNames,
  changedFields,
  checkEngine,
  diffRevisions,
  liveRevisions,
  trafficAfterChange,
  replicaRuntime,
  resolveRuntime,
  requireRole,
  revisionSpecOf,
  type Deployment,
  type DeploymentEvent,
  type DeploymentRevision,
  type Page,
  type PageRequest,
  type Principal,
  type RevisionDiff,
} from "@flowplane/core";
import { revisionDiffQuerySchema, revisionParamSchema, rollbackRequestSchema, type Revision } from "@flowplane/core/api";
import type { ServiceDeps } from "./context.js";
import { parse } from "./identity.js";

const MASK = "********";

/**
 * A deployment's revisions (DESIGN 11): listing, one revision, the difference of two, and
 * rollback. Viewers read them; rollback needs the role an edit needs (editor). Credential
 * values are opened here only to compare them and to reseal them for a rollback: no answer,
 * event or error carries one.
 */
/**
 * True when `to` is another version than `from` (tag or content) that the project is no longer
 * allowed: moving calls to it is a change of version, which needs the version shared with the
 * project (or global), as deploying it would (rollback here, a canary's share and promotion in
 * traffic.ts). `from` null (a revision record gone): another version.
 */
export async function unsharedChange(store: ServiceDeps["store"], projectId: string, from: Revision["bundle"] | null, to: Revision["bundle"]): Promise<boolean> {
  const other = !from || from.version !== to.version || from.digest !== to.digest;
  return other && !(await store.getVersion(to.name, to.version, [projectId]));
}

export class RevisionService {
  /**
   * `get` is DeploymentService.get: the deployment, after the caller's access to its project is
   * checked (a project they have no role in is not found).
   */
  constructor(private readonly deps: ServiceDeps, private readonly deployments: { get(p: Principal, projectId: string, id: string): Promise<Deployment> }) {}

  /** A revision as the API answers it: credential names masked. */
  view(r: DeploymentRevision): Revision {
    const { deploymentId: _d, parameterOverrides: _o, credentialNames, ...rest } = r;
    // A revision stored before a runtime setting existed shows the default it ran with.
    return { ...rest, runtime: resolveRuntime(undefined, rest.runtime), credentials: Object.fromEntries(credentialNames.map((n) => [n, MASK])) };
  }

  async list(p: Principal, projectId: string, id: string, page: PageRequest): Promise<Page<DeploymentRevision>> {
    await this.deployments.get(p, projectId, id);
    return this.deps.store.listRevisions(id, page);
  }

  async get(p: Principal, projectId: string, id: string, revision: string): Promise<DeploymentRevision> {
    await this.deployments.get(p, projectId, id);
    return this.find(id, parse(revisionParamSchema, { revision }).revision);
  }

  async diff(p: Principal, projectId: string, id: string, query: unknown): Promise<RevisionDiff> {
    await this.deployments.get(p, projectId, id);
    const q = parse(revisionDiffQuerySchema, query);
    const [from, to] = [await this.find(id, q.from), await this.find(id, q.to)];
    const [a, b] = [await this.credentialsOf(id, q.from), await this.credentialsOf(id, q.to)];
    return diffRevisions(from, to, changedCredentialNames(a, b));
  }

  /**
   * Restores revision `n`'s version, parameters (the effective values it ran with), credentials,
   * runtime and CPU/memory as a new revision and a new generation: the driver rolls to it with
   * the old replicas serving until the new ones are ready. The replica count stays (scaling is
   * not part of a revision). Checked again under the row lock, as an edit is.
   */
  async rollback(p: Principal, projectId: string, id: string, input: unknown, abort?: { stable: number }): Promise<Deployment> {
    const d = await this.deployments.get(p, projectId, id);
    requireRole(p, projectId, "editor", abort ? "aborting a canary" : "rolling back a deployment");
    const n = abort ? abort.stable : parse(rollbackRequestSchema, input).revision;
    if (d.deletionRequestedAt) throw new ConflictError(`deployment ${id} is being undeployed`);
    if (abort && d.traffic?.canary?.stable.revision !== n) throw new ConflictError("the canary changed meanwhile: reload and try again");
    if (!abort && d.traffic?.canary) throw new ConflictError(`a canary of revision ${d.revision} is under way: promote or abort it first`);
    const target = await this.deps.store.getRevision(id, n);
    if (!target) throw new ValidationError([{ field: "revision", message: `deployment ${id} has no revision ${n} (its revisions are 1 to ${d.revision})` }]);
    if (n === d.revision) throw new ConflictError(`revision ${n} is already the current revision`);
    const version = await this.deps.store.getVersion(target.bundle.name, target.bundle.version, null);
    if (!version || version.digest !== target.bundle.digest) {
      throw new ConflictError(`revision ${n} runs ${target.bundle.name}@${target.bundle.version}, which no longer exists: it cannot be restored`);
    }
    // A rollback that changes the version deploys it again, so the project must still be allowed
    // it, as for any change of version: a publisher who stopped sharing a version (a leaked key in
    // its flows, a bug) has it kept out of the projects it was taken from. Aborting a canary goes
    // back to the version the stable replicas serve right now, whatever its sharing: it is the
    // way out of a canary, never refused for that.
    if (!abort && (await unsharedChange(this.deps.store, projectId, d.bundle, target.bundle))) {
      throw new ConflictError(`revision ${n} runs ${target.bundle.name}@${target.bundle.version}, which is no longer shared with this project: it cannot be restored`);
    }
    const engine = checkEngine(target.runtime, version);
    if (engine.length) throw new ConflictError(`revision ${n} can no longer run: ${engine.map((e) => e.message).join("; ")}`);
    const sealed = await this.deps.store.getRevisionCredentials(id, n);
    if (!sealed && target.credentialNames.length > 0) throw new ConflictError(`the credentials of revision ${n} are gone: it cannot be restored`);
    const restored = this.deps.credentials.open(id, sealed);
    const current = this.deps.credentials.open(id, await this.deps.store.getSealedCredentials(id));
    const diff = diffRevisions({ revision: d.revision, ...revisionSpecOf(d) }, target, changedCredentialNames(current, restored));
    const changes = changedFields(diff);
    if (changes.length === 0) throw new ConflictError(`revision ${n} is identical to the current revision ${d.revision}: nothing to roll back`);
    // The replicas of the rollback are those of the revision whose content it restores: when they
    // are still up (the warm revision, a canary's stable one), they take the calls at once.
    const runs = await this.originOf(id, target);
    const at = this.deps.now();
    const instant = liveRevisions(d, at).some((l) => l.runs === runs);

    const now = at.toISOString();
    const updated = await this.deps.store.updateDeployment(id, (cur) => {
      if (cur.generation !== d.generation || cur.revision !== d.revision || cur.deletionRequestedAt || JSON.stringify(cur.traffic ?? null) !== JSON.stringify(d.traffic ?? null)) {
        throw new ConflictError(`the deployment changed while this ${abort ? "abort" : "rollback"} was applied: reload and try again`);
      }
      const revision = cur.revision + 1;
      const how = instant ? `revision ${runs}'s replicas serve it at once` : "a rolling update";
      const message = abort
        ? `revision ${revision} (generation ${cur.generation + 1}) by ${p.name}: canary of revision ${cur.revision} aborted; back to revision ${n} (${how}); revision ${cur.revision} kept warm`
        : `revision ${revision} (generation ${cur.generation + 1}) by ${p.name}: rolled back to revision ${n} (${how}); changed ${changes.join(", ")}`;
      return {
        deployment: {
          ...cur,
          bundle: { ...target.bundle },
          // The replicas' settings as they were; rate limits and scale to zero stay as they are now
          // (the gateway's, never part of a revision: docs/revisions.md).
          // A revision stored before a setting existed ran with its default (resolveRuntime), not with today's value.
          runtime: { ...cur.runtime, ...replicaRuntime(resolveRuntime(undefined, target.runtime)) },
          parameters: { ...target.parameters },
          parameterOverrides: { ...target.parameterOverrides },
          credentialNames: [...target.credentialNames],
          resources: { replicas: cur.resources.replicas, cpu: { ...target.resources.cpu }, memory: { ...target.resources.memory } },
          generation: cur.generation + 1,
          revision,
          updatedAt: now,
          traffic: trafficAfterChange(cur, { revision, runs }, { now: at, warmSeconds: this.deps.warmRevisionSeconds }),
        },
        sealedCredentials: this.deps.credentials.seal(id, restored),
        revision: { createdBy: p.userId, cause: "rollback", rolledBackTo: n, changes },
        events: [event(now, abort ? "CanaryAborted" : "RolledBack", message)],
      };
    });
    if (!updated) throw new NotFoundError(`deployment ${id} not found`);
    this.deps.notify?.(id);
    return updated;
  }

  /**
   * The revision whose replicas run `r`: `r` itself, or for a rollback the revision it restored,
   * followed back (a rollback to a rollback runs the first one's replicas). Bounded by the
   * revision numbers, which only go down along the chain.
   */
  private async originOf(id: string, r: DeploymentRevision): Promise<number> {
    let cur = r;
    while (cur.cause === "rollback" && cur.rolledBackTo !== null && cur.rolledBackTo < cur.revision) {
      const next = await this.deps.store.getRevision(id, cur.rolledBackTo);
      if (!next) break;
      cur = next;
    }
    return cur.revision;
  }

  private async find(id: string, n: number): Promise<DeploymentRevision> {
    const r = await this.deps.store.getRevision(id, n);
    if (!r) throw new NotFoundError(`deployment ${id} has no revision ${n}`);
    return r;
  }

  private async credentialsOf(id: string, n: number): Promise<Record<string, string>> {
    return this.deps.credentials.open(id, await this.deps.store.getRevisionCredentials(id, n));
  }
}

const event = (time: string, reason: string, message: string): DeploymentEvent => ({ time, type: "Normal", reason, message });
