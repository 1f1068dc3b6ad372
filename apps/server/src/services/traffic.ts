import { ConflictError, NotFoundError, liveRevisions, requireRole, type Deployment, type DeploymentEvent, type Principal } from "@flowplane/core";
import { canaryRequestSchema, type LiveRevisionRole } from "@flowplane/core/api";
import type { ServiceDeps } from "./context.js";
import { parse } from "./identity.js";
import { unsharedChange, type RevisionService } from "./revisions.js";

/** One live revision as the API answers it (`Deployment.liveRevisions`). */
export interface LiveRevisionView {
  revision: number;
  role: LiveRevisionRole;
  percent: number;
  runs: number;
  warmUntil: string | null;
}

/** The live revisions of a deployment with their roles, current first. */
export function liveRevisionsView(d: Deployment, now: Date): LiveRevisionView[] {
  return liveRevisions(d, now).map((l, i) => {
    const role: LiveRevisionRole = i === 0 ? "current" : l.revision === d.traffic?.canary?.stable.revision ? "stable" : "warm";
    return { ...l, role, warmUntil: role === "warm" ? d.traffic?.warm?.until ?? null : null };
  });
}

/**
 * The canary's actions (docs/revisions.md): a new share, promote, abort. A canary starts with an
 * edit (`PATCH` with `canary`). Promote changes no revision: the current one takes every call and
 * the stable one stays warm for the grace period. Abort is a rollback to the stable revision,
 * whose replicas (all of them kept through the canary) take every call at once.
 */
export class TrafficService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly deployments: { get(p: Principal, projectId: string, id: string): Promise<Deployment> },
    private readonly revisions: RevisionService,
  ) {}

  async setPercent(p: Principal, projectId: string, id: string, input: unknown): Promise<Deployment> {
    // The body is checked before the canary's state: a bad share is a 400 naming `percent`
    // whether or not a canary is under way (it was a 409 "no canary" for any body).
    let percent = 0;
    const d = await this.canaryOf(p, projectId, id, "changing a canary's share", () => (percent = parse(canaryRequestSchema, input).percent));
    const canary = d.traffic!.canary!;
    if (canary.percent === percent) return d;
    if (percent > canary.percent) await this.stillShared(projectId, d, "given a larger share");
    return this.update(d, (cur, now) => ({
      traffic: { ...cur.traffic!, canary: { ...canary, percent } },
      event: `canary of revision ${cur.revision} set to ${percent}% by ${p.name} (was ${canary.percent}%); revision ${canary.stable.revision} keeps ${100 - percent}%`,
      reason: "CanaryShare", now,
    }));
  }

  async promote(p: Principal, projectId: string, id: string): Promise<Deployment> {
    const d = await this.canaryOf(p, projectId, id, "promoting a canary");
    const stable = d.traffic!.canary!.stable;
    await this.stillShared(projectId, d, "promoted");
    return this.update(d, (cur, now) => {
      const seconds = this.deps.warmRevisionSeconds;
      const warm = seconds > 0 ? { ...stable, until: new Date(now.getTime() + seconds * 1000).toISOString() } : null;
      return {
        traffic: { runs: cur.traffic!.runs, canary: null, warm },
        event: `revision ${cur.revision} promoted by ${p.name}: it takes every call; revision ${stable.revision} ${warm ? `kept warm until ${warm.until}` : "stops"}`,
        reason: "CanaryPromoted", now,
      };
    });
  }

  async abort(p: Principal, projectId: string, id: string): Promise<Deployment> {
    const d = await this.canaryOf(p, projectId, id, "aborting a canary");
    return this.revisions.rollback(p, projectId, id, undefined, { stable: d.traffic!.canary!.stable.revision });
  }

  /**
   * A canary of another version than its stable revision's takes more calls only while the project
   * is still allowed that version (as a change of version, revisions.ts rollback): a publisher who
   * stopped sharing it mid-canary has it kept at its share. Aborting stays allowed.
   */
  private async stillShared(projectId: string, d: Deployment, what: string): Promise<void> {
    const stable = await this.deps.store.getRevision(d.id, d.traffic!.canary!.stable.revision);
    if (await unsharedChange(this.deps.store, projectId, stable?.bundle ?? null, d.bundle)) {
      throw new ConflictError(`revision ${d.revision} runs ${d.bundle.name}@${d.bundle.version}, which is no longer shared with this project: it cannot be ${what}; abort the canary`);
    }
  }

  /** The deployment with its canary; `check` (the body's) runs after the role check and before the state's. */
  private async canaryOf(p: Principal, projectId: string, id: string, what: string, check?: () => unknown): Promise<Deployment> {
    const d = await this.deployments.get(p, projectId, id);
    requireRole(p, projectId, "editor", what);
    check?.();
    if (d.deletionRequestedAt) throw new ConflictError(`deployment ${id} is being undeployed`);
    if (!d.traffic?.canary) throw new ConflictError(`deployment ${id} has no canary under way`);
    return d;
  }

  /** A change of the traffic alone: no new revision, no new generation, nothing restarts. */
  private async update(d: Deployment, change: (cur: Deployment, now: Date) => { traffic: NonNullable<Deployment["traffic"]>; event: string; reason: string; now: Date }): Promise<Deployment> {
    const at = this.deps.now();
    const updated = await this.deps.store.updateDeployment(d.id, (cur) => {
      if (cur.revision !== d.revision || cur.deletionRequestedAt || JSON.stringify(cur.traffic ?? null) !== JSON.stringify(d.traffic ?? null)) {
        throw new ConflictError("the deployment changed meanwhile: reload and try again");
      }
      const c = change(cur, at);
      const e: DeploymentEvent = { time: at.toISOString(), type: "Normal", reason: c.reason, message: c.event };
      return { deployment: { ...cur, traffic: c.traffic, updatedAt: at.toISOString() }, events: [e] };
    });
    if (!updated) throw new NotFoundError(`deployment ${d.id} not found`);
    this.deps.notify?.(d.id);
    return updated;
  }
}
