import { randomUUID } from "node:crypto";
import {
  ConflictError,
  LATEST,
  canonicalJson,
  changedCredentialNames,
  changedFields,
  diffRevisions,
  revisionSpecOf,
  trafficAfterChange,
  NotFoundError,
  ValidationError,
  checkDraftAgainstVersion,
  checkEngine,
  checkResources,
  checkValues,
  credentialNamesFor,
  deploymentPatchSchema,
  deriveResourceName,
  effectiveParameters,
  errorsForStep,
  heldAfterEdit,
  hasRole,
  initialStatus,
  parseDeployDraft,
  plainNamesAmong,
  randomId,
  redactManifests,
  renderManifests,
  requireRole,
  reservedKeyErrors,
  runtimeSpec,
  runsOf,
  totalValueErrors,
  valueErrors,
  resolveResources,
  resolveRuntime,
  visibleProjects,
  type BundleVersion,
  type Deployment,
  type DeploymentEvent,
  type DeployStep,
  type FieldError,
  type K8sObject,
  type Page,
  type PageRequest,
  type Principal,
} from "@flowplane/core";
import { disableRequestSchema } from "@flowplane/core/api";
import type { ServiceDeps } from "./context.js";
import { parse } from "./identity.js";
import { RevisionService, unsharedChange } from "./revisions.js";
import { TrafficService, liveRevisionsView, type LiveRevisionView } from "./traffic.js";

/** What a deployment pins of a version: its name, tag and content digest. */
const pinOf = (v: BundleVersion): Deployment["bundle"] => ({ name: v.name, version: v.versionTag, digest: v.digest });

export interface DryRunResult {
  valid: boolean;
  errors: FieldError[];
}

const MASK = "********";

/** A deployment as the API answers it: credentials masked, endpoints absolute. */
export interface DeploymentView extends Omit<Deployment, "credentialNames" | "parameterOverrides" | "appId" | "routes" | "disabled" | "sleeping" | "traffic"> {
  appId: string;
  liveRevisions: LiveRevisionView[];
  disabled: NonNullable<Deployment["disabled"]> | null;
  credentials: Record<string, string>;
  endpoints: { http: string; mcp: string };
}

/** Deployment records: the desired state. Making them run is the reconciler's work. */
export class DeploymentService {
  /** Revisions and rollback (their own service, over the same collaborators). */
  readonly revisions: RevisionService;
  /** The canary's share, promote and abort. */
  readonly traffic: TrafficService;

  constructor(private readonly deps: ServiceDeps) {
    this.revisions = new RevisionService(deps, this);
    this.traffic = new TrafficService(deps, this, this.revisions);
  }

  view(d: Deployment): DeploymentView {
    // `sleeping` shows as the phase (Idle) and its events.
    const { credentialNames, parameterOverrides: _o, routes, sleeping: _s, traffic: _t, ...rest } = d;
    const base = d.networkAccess === "public" ? this.deps.urls.public : this.deps.urls.private;
    const route = (id: string) => `${base}/projects/${d.projectId}/apps/${d.appId}/routes/${id}`;
    return {
      ...rest,
      // Records stored before rate limits existed read as having none.
      runtime: resolveRuntime(undefined, d.runtime),
      disabled: d.disabled ?? null,
      credentials: Object.fromEntries(credentialNames.map((n) => [n, MASK])),
      // The MCP route answers bare and at `<route>/mcp`; the `/mcp` form is the one shown (DESIGN 11),
      // as some MCP clients rewrite any other URL to the origin's `/mcp`.
      endpoints: { http: route(routes.http), mcp: `${route(routes.mcp)}/mcp` },
      liveRevisions: liveRevisionsView(d, this.deps.now()),
    };
  }

  async create(p: Principal, projectId: string, input: unknown, opts: { dryRun?: boolean; step?: DeployStep } = {}): Promise<Deployment | DryRunResult> {
    await this.requireProject(p, projectId);
    requireRole(p, projectId, "editor", "deploying");
    const { draft, errors } = parseDeployDraft(input);
    let version: BundleVersion | null = null;
    if (draft.bundle) {
      const r = await this.resolveVersion(p, projectId, draft.bundle.name, draft.bundle.version, "bundle");
      version = r.version;
      errors.push(...r.errors);
    }
    if (version) errors.push(...checkDraftAgainstVersion(draft, version));
    if (opts.dryRun) {
      const shown = errorsForStep(errors, opts.step ?? "review");
      return { valid: shown.length === 0, errors: shown };
    }
    if (errors.length > 0 || !version || !draft.displayName || !draft.networkAccess) throw new ValidationError(errors);

    const now = this.deps.now().toISOString();
    const id = randomUUID();
    // Plain parameters given under credentials are kept secret (api/secret-parameters.ts).
    const held = plainNamesAmong(version.parameters, Object.keys(draft.credentials));
    const parameters = effectiveParameters(version, draft.parameters, held);
    const credentialNames = credentialNamesFor(version, parameters, held);
    const d: Deployment = {
      id,
      projectId,
      displayName: draft.displayName,
      resourceName: deriveResourceName(draft.displayName),
      appId: randomId(),
      routes: { http: randomId(), mcp: randomId() },
      // `latest` is resolved here and pinned: nothing upgrades a deployment silently.
      bundle: pinOf(version),
      networkAccess: draft.networkAccess,
      runtime: draft.runtime,
      parameters,
      parameterOverrides: draft.parameters,
      credentialNames,
      resources: draft.resources,
      generation: 1,
      revision: 1,
      status: initialStatus(),
      createdAt: now,
      updatedAt: now,
      createdBy: p.userId,
      deletionRequestedAt: null,
      deletedAt: null,
    };
    const sealed = this.deps.credentials.seal(id, pick(draft.credentials, credentialNames));
    const created = await this.deps.store.createDeployment(d, sealed, this.event("Normal", "Created",
      `revision 1 (generation 1) created by ${p.name}: ${version.name}@${version.versionTag}, ${d.resources.replicas} replica(s), ${d.networkAccess}`));
    this.deps.notify?.(id);
    return created;
  }

  /**
   * A deployment row proves its project exists (deployments.project_id references projects), so
   * the project is read only when the page is empty or the store refuses the request: the
   * answers are those of checking the project first, one query fewer on the common path.
   */
  async list(p: Principal, projectId: string, page: PageRequest): Promise<Page<Deployment>> {
    this.requireViewer(p, projectId);
    let out: Page<Deployment>;
    try {
      out = await this.deps.store.listDeployments(projectId, page);
    } catch (e) {
      await this.requireProject(p, projectId); // an unknown project is a 404 before a bad cursor's 400
      throw e;
    }
    if (out.items.length === 0) await this.requireProject(p, projectId);
    return out;
  }

  /** As list: the project is read only when the deployment is not found in it (to say which is missing). */
  async get(p: Principal, projectId: string, id: string): Promise<Deployment> {
    this.requireViewer(p, projectId);
    const d = await this.deps.store.getDeployment(id);
    if (!d || d.projectId !== projectId) {
      await this.requireProject(p, projectId);
      throw new NotFoundError(`deployment ${id} not found in project ${projectId}`);
    }
    return d;
  }

  async events(p: Principal, projectId: string, id: string, page: PageRequest): Promise<Page<DeploymentEvent>> {
    await this.get(p, projectId, id);
    return this.deps.store.listEvents(id, page);
  }

  /**
   * Applies a change of desired state. Reads happen before the row lock is taken (the store
   * forbids I/O inside `updateDeployment`'s callback); the generation seen then is checked
   * again under the lock, so a concurrent edit is refused (409), never silently overwritten.
   */
  async patch(p: Principal, projectId: string, id: string, input: unknown): Promise<Deployment> {
    const d = await this.get(p, projectId, id);
    requireRole(p, projectId, "editor", "editing a deployment");
    const patch = parse(deploymentPatchSchema, input);
    if (d.deletionRequestedAt) throw new ConflictError(`deployment ${id} is being undeployed`);

    const errors: FieldError[] = [];
    let version = await this.deps.store.getVersion(d.bundle.name, d.bundle.version, null);
    // The pinned tag holding another content than the one pinned (deleted and published again
    // while a move to it was applied): an edit would move the deployment to that content, a
    // change of version, which needs it shared with the project as any change of version does.
    const replaced = version !== null && version.digest !== d.bundle.digest ? version : null;
    // Naming the pinned version is no change of version: it needs no sharing, as an edit that
    // names no version needs none (its publisher may have stopped sharing it since; the
    // deployment keeps running it, and its editors keep editing it until they move off it).
    if (patch.bundle && (patch.bundle.version !== d.bundle.version || replaced !== null)) {
      const r = await this.resolveVersion(p, projectId, d.bundle.name, patch.bundle.version, "bundle");
      errors.push(...r.errors);
      version = r.version ?? version;
    } else if (replaced !== null && (await unsharedChange(this.deps.store, projectId, d.bundle, pinOf(replaced)))) {
      throw new ConflictError(`${d.bundle.name}@${d.bundle.version} now holds another content, not shared with this project: change the version`);
    }
    if (!version) throw new ConflictError(`the pinned version ${d.bundle.name}@${d.bundle.version} no longer exists: change the version`);
    // The pinned version keeps the plain values the deployment runs: a version's defaults are
    // its publisher's to edit (another project's, for a global bundle), and an edit reached every
    // deployment of it on that deployment's next unrelated change (a key rotation), a base URL
    // default beside an API key then sending the key to the publisher. Edited defaults reach new
    // deployments and a change of version, chosen by the deployment's own editors.
    if (version.versionTag === d.bundle.version && version.digest === d.bundle.digest) version = pinnedDefaults(version, d.parameters);
    const current = this.deps.credentials.open(id, await this.deps.store.getSealedCredentials(id));

    const given = { credentials: patch.credentials ?? {}, parameters: patch.parameters ?? {} };
    errors.push(...reservedKeyErrors("credentials", given.credentials), ...reservedKeyErrors("parameters", given.parameters), ...valueErrors(given));
    // A plain parameter given under credentials is held secret from now on; given under
    // parameters, it is back in the clear (its held value dropped).
    const held = heldAfterEdit(version.parameters, d.credentialNames, given);
    // Model choices already made count: a patch giving only a key for the chosen provider is valid.
    const overrideNames = version.parameters.filter((x) => x.kind !== "credential" && !held.includes(x.name)).map((x) => x.name);
    const overrides = pick({ ...d.parameterOverrides, ...patch.parameters }, overrideNames);
    errors.push(...checkValues(version, given.credentials, { ...pick(d.parameterOverrides, version.parameters.filter((x) => x.kind === "model").map((x) => x.name)), ...patch.parameters }, false));
    const credentialNames = credentialNamesFor(version, effectiveParameters(version, overrides, held), held);
    const credentials = pick({ ...current, ...patch.credentials }, credentialNames);
    for (const name of credentialNames) {
      if (!credentials[name] && patch.credentials?.[name] === undefined) {
        errors.push({ field: `credentials.${name}`, message: `${version.versionTag} needs credential ${name}: give a value` });
      }
    }
    errors.push(...totalValueErrors({ credentials, parameters: overrides }));
    const runtime = resolveRuntime(patch.runtime, d.runtime);
    const resources = resolveResources(patch.resources, d.resources);
    errors.push(...checkEngine(runtime, version), ...checkResources(resources));
    if (errors.length) throw new ValidationError(errors);

    const parameters = effectiveParameters(version, overrides, held);
    const changes = describeChanges(d, version, current, credentials, parameters, runtime, resources);
    if (changes.length === 0 && !patch.canary) return d;
    const bundle = pinOf(version);
    // What runs, field by field: empty for a scale, a rate-limit or a scale-to-zero change, which
    // make no revision and no new generation: the driver adds or stops replicas and restarts none,
    // and the gateway and the idle sweep read their settings from the deployment.
    const fields = changedFields(diffRevisions({ revision: d.revision, ...revisionSpecOf(d) },
      { revision: d.revision + 1, ...revisionSpecOf({ bundle, runtime, parameters, parameterOverrides: overrides, credentialNames, resources }) },
      changedCredentialNames(current, credentials)));
    if (patch.canary && fields.length === 0) throw new ValidationError([{ field: "canary", message: "a canary needs a change of what runs (version, parameters, credentials, runtime or CPU/memory)" }]);
    // During a canary only scaling and the gateway's settings change; a new revision waits for promote or abort.
    if (d.traffic?.canary && fields.length > 0) throw new ConflictError(`a canary of revision ${d.revision} is under way: promote or abort it before another change of what runs`);
    const at = this.deps.now();
    const now = at.toISOString();
    const updated = await this.deps.store.updateDeployment(id, (cur) => {
      // A scale and the gateway's settings (rate limits, scale to zero) are no new generation,
      // yet this edit writes the replica count and the runtime it computed from `d`: one made
      // meanwhile would be undone without a word, so it is a conflict too.
      if (cur.generation !== d.generation || cur.revision !== d.revision || cur.deletionRequestedAt || JSON.stringify(cur.traffic ?? null) !== JSON.stringify(d.traffic ?? null)
        || canonicalJson(cur.runtime) !== canonicalJson(d.runtime) || canonicalJson(cur.resources) !== canonicalJson(d.resources)) {
        throw new ConflictError("the deployment changed while this edit was applied: reload and try again");
      }
      // Asleep with scale to zero turned off: nothing would ever put it back to sleep, so it is
      // woken now, not left without a replica (phase Idle) until a request pays for the start.
      const woken = cur.sleeping && runtime.scaleToZero.idleMinutes === null
        ? [this.event("Normal", "Woken", `scale to zero turned off by ${p.name}: starting ${resources.replicas} replica(s)`)] : [];
      const awake = woken.length > 0 ? { sleeping: null } : {};
      if (fields.length === 0) {
        const settings = changes.includes(RUNTIME_CHANGED);
        return {
          deployment: { ...cur, runtime, resources: { ...cur.resources, replicas: resources.replicas }, updatedAt: now, ...awake },
          events: [settings
            ? this.event("Normal", "SettingsChanged", `by ${p.name}: ${changes.join("; ")} (rate limits or scale to zero; revision ${cur.revision} stays, nothing restarts)`)
            : this.event("Normal", "Scaled", `scaled by ${p.name}: ${changes.join("; ")} (revision ${cur.revision} stays; nothing restarts)`), ...woken],
        };
      }
      const revision = cur.revision + 1;
      return {
        deployment: {
          ...cur,
          bundle,
          parameters,
          parameterOverrides: overrides,
          credentialNames,
          runtime,
          resources,
          generation: cur.generation + 1,
          revision,
          updatedAt: now,
          ...awake,
          traffic: trafficAfterChange(cur, { revision, runs: revision }, { now: at, warmSeconds: this.deps.warmRevisionSeconds, ...(patch.canary ? { canaryPercent: patch.canary.percent } : {}) }),
        },
        sealedCredentials: this.deps.credentials.seal(id, credentials),
        revision: { createdBy: p.userId, cause: "edit", rolledBackTo: null, changes: fields },
        events: [this.event("Normal", patch.canary ? "CanaryStarted" : "SpecChanged", `revision ${revision} (generation ${cur.generation + 1}) by ${p.name}: ${changes.join("; ")}${patch.canary ? `; a canary: ${patch.canary.percent}% of the calls, revision ${cur.revision} keeps ${100 - patch.canary.percent}%` : ""}`), ...woken],
      };
    });
    if (!updated) throw new NotFoundError(`deployment ${id} not found`);
    this.deps.notify?.(id);
    return updated;
  }

  /**
   * The kill switch on (DESIGN 11). Not a change of what runs, so the generation stays: the
   * gateway answers 503 within its route cache's second, and the replicas are kept warm (enable
   * is then instant) unless `stopReplicas`. Disabling again with the same choice changes nothing.
   */
  async disable(p: Principal, projectId: string, id: string, input: unknown): Promise<Deployment> {
    const d = await this.get(p, projectId, id);
    requireRole(p, projectId, "editor", "disabling a deployment");
    const stopReplicas = parse(disableRequestSchema, input ?? {}).stopReplicas ?? false;
    if (d.deletionRequestedAt) throw new ConflictError(`deployment ${id} is being undeployed`);
    if (d.disabled && d.disabled.stopReplicas === stopReplicas) return d;
    const now = this.deps.now().toISOString();
    const updated = await this.deps.store.updateDeployment(id, (cur) => {
      if (cur.deletionRequestedAt) throw new ConflictError(`deployment ${id} is being undeployed`);
      return {
        deployment: { ...cur, disabled: { at: now, by: p.name, stopReplicas }, status: { ...cur.status, phase: "Disabled" }, updatedAt: now },
        events: [this.event("Warning", "Disabled", `disabled by ${p.name}: the gateway answers 503; replicas ${stopReplicas ? "stopped" : "kept warm"}`)],
      };
    });
    if (!updated) throw new NotFoundError(`deployment ${id} not found`);
    this.deps.notify?.(id);
    return updated;
  }

  /** The kill switch off: served again at once when the replicas were kept, else once they are ready. */
  async enable(p: Principal, projectId: string, id: string): Promise<Deployment> {
    const d = await this.get(p, projectId, id);
    requireRole(p, projectId, "editor", "enabling a deployment");
    if (d.deletionRequestedAt) throw new ConflictError(`deployment ${id} is being undeployed`);
    if (!d.disabled) return d;
    const now = this.deps.now().toISOString();
    const updated = await this.deps.store.updateDeployment(id, (cur) => {
      if (cur.deletionRequestedAt) throw new ConflictError(`deployment ${id} is being undeployed`);
      // The reconciler's next pass (notified below) sets the real phase; until then, a fair guess.
      const phase = cur.disabled?.stopReplicas || cur.status.readyReplicas < cur.resources.replicas ? "Starting" : "Ready";
      return {
        deployment: { ...cur, disabled: null, status: { ...cur.status, phase }, updatedAt: now },
        events: [this.event("Normal", "Enabled", `enabled by ${p.name}`)],
      };
    });
    if (!updated) throw new NotFoundError(`deployment ${id} not found`);
    this.deps.notify?.(id);
    return updated;
  }

  /** Undeploy: records the wish; the reconciler removes what runs, then the credentials. */
  async remove(p: Principal, projectId: string, id: string): Promise<Deployment> {
    const d = await this.get(p, projectId, id);
    requireRole(p, projectId, "owner", "undeploying");
    if (d.deletionRequestedAt) return d;
    // Checked again under the row lock: two undeploys at once both passed the check above, and
    // each bumped the generation, rewrote when the undeploy was asked and added its own event.
    const updated = await this.deps.store.updateDeployment(id, (cur) => cur.deletionRequestedAt ? { deployment: cur } : ({
      deployment: {
        ...cur,
        deletionRequestedAt: this.deps.now().toISOString(),
        generation: cur.generation + 1,
        status: { ...cur.status, phase: "Deleting" },
        updatedAt: this.deps.now().toISOString(),
      },
      events: [this.event("Normal", "DeletionRequested", `undeploy requested by ${p.name}`)],
    }));
    if (!updated) throw new NotFoundError(`deployment ${id} not found`);
    this.deps.notify?.(id);
    return updated;
  }

  /**
   * The Kubernetes resources the deployment maps to, as JSON, with every parameter's value and
   * the gateway secret redacted (core's redactManifests). The Secret's name is a keyed hash of
   * its content, 48 bits of it: it tells whether two contents differ, not what they are.
   */
  async manifests(p: Principal, projectId: string, id: string): Promise<K8sObject[]> {
    const d = await this.get(p, projectId, id);
    const placeholders = Object.fromEntries(d.credentialNames.map((n) => [n, ""]));
    const version = await this.deps.store.getVersion(d.bundle.name, d.bundle.version, null);
    const plainParameters = (version?.parameters ?? []).filter((x) => x.kind === "plain").map((x) => x.name);
    // As the reconciler builds it (reconciler.ts reconcile): the revision its replicas run (a
    // rollback's is an earlier one), the body limit they are given.
    const m = this.deps.manifests;
    const spec = runtimeSpec({
      deployment: { ...d, revision: runsOf(d) }, credentials: placeholders, plainParameters, bundleUrl: m.bundleUrl(d.id), identityToken: "", gatewaySecret: m.gatewaySecret(d.id),
      ...(m.maxBodyBytes !== undefined ? { maxBodyBytes: m.maxBodyBytes } : {}),
    });
    return redactManifests(renderManifests(spec, m));
  }

  /** Projects the caller has no role in are not found (their existence is not leaked). */
  private async requireProject(p: Principal, projectId: string): Promise<void> {
    this.requireViewer(p, projectId);
    if (!(await this.deps.store.getProject(projectId))) throw new NotFoundError(`project ${projectId} not found`);
  }

  /** requireProject's check of the caller's role alone (no I/O), for callers that prove the project exists otherwise. */
  private requireViewer(p: Principal, projectId: string): void {
    if (!hasRole(p, projectId, "viewer")) throw new NotFoundError(`project ${projectId} not found`);
  }

  /**
   * A version is deployable into a project it is shared with (or global). `latest` is the
   * newest such version. A version the caller can see but the project cannot gets its own message.
   */
  private async resolveVersion(p: Principal, projectId: string, name: string, tag: string, field: string): Promise<{ version: BundleVersion | null; errors: FieldError[] }> {
    const store = this.deps.store;
    const inProject = tag === LATEST ? await store.latestVersion(name, [projectId]) : await store.getVersion(name, tag, [projectId]);
    if (inProject) return { version: inProject, errors: [] };
    const vis = visibleProjects(p);
    const seen = tag === LATEST ? await store.latestVersion(name, vis) : await store.getVersion(name, tag, vis);
    if (seen) return { version: null, errors: [{ field: `${field}.name`, message: `${name}@${seen.versionTag} is not shared with this project` }] };
    const anyVersion = await store.latestVersion(name, vis);
    return anyVersion
      ? { version: null, errors: [{ field: `${field}.version`, message: `bundle ${name} has no version "${tag}"` }] }
      : { version: null, errors: [{ field: `${field}.name`, message: `bundle ${name} not found` }] };
  }

  private event(type: DeploymentEvent["type"], reason: string, message: string): DeploymentEvent {
    return { time: this.deps.now().toISOString(), type, reason, message };
  }
}

/** `version` with the plain and model values a deployment of it runs (`parameters`) as its defaults. */
function pinnedDefaults(version: BundleVersion, parameters: Record<string, string>): BundleVersion {
  return {
    ...version,
    parameters: version.parameters.map((x) => (x.kind === "credential" || parameters[x.name] === undefined ? x : { ...x, default: parameters[x.name] })),
  };
}

function pick(values: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.filter((n) => values[n] !== undefined).map((n) => [n, values[n] as string]));
}

const RUNTIME_CHANGED = "runtime configuration changed";


/** What a patch changes, in words for the event list: names only, never a credential value. */
function describeChanges(d: Deployment, v: BundleVersion, oldCreds: Record<string, string>, creds: Record<string, string>,
  params: Record<string, string>, runtime: Deployment["runtime"], resources: Deployment["resources"]): string[] {
  const out: string[] = [];
  if (v.versionTag !== d.bundle.version) out.push(`version ${d.bundle.version} -> ${v.versionTag}`);
  const changedCreds = [...new Set([...Object.keys(oldCreds), ...Object.keys(creds)])].filter((n) => oldCreds[n] !== creds[n]);
  if (changedCreds.length) out.push(`credentials changed: ${changedCreds.sort().join(", ")}`);
  const changedParams = [...new Set([...Object.keys(d.parameters), ...Object.keys(params)])].filter((n) => d.parameters[n] !== params[n]);
  if (changedParams.length) out.push(`parameters changed: ${changedParams.sort().join(", ")}`);
  if (canonicalJson(runtime) !== canonicalJson(resolveRuntime(undefined, d.runtime))) out.push(RUNTIME_CHANGED);
  if (resources.replicas !== d.resources.replicas) out.push(`replicas ${d.resources.replicas} -> ${resources.replicas}`);
  if (canonicalJson([resources.cpu, resources.memory]) !== canonicalJson([d.resources.cpu, d.resources.memory])) out.push("cpu/memory changed");
  return out;
}
