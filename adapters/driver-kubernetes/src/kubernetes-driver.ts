import { createHash } from "node:crypto";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  NetworkingV1Api,
  PatchStrategy,
  makeInformer,
  type KubernetesObject,
  type V1Deployment,
  type V1NetworkPolicy,
  type V1Pod,
  type V1PodSpec,
} from "@kubernetes/client-node";
import pLimit, { type LimitFunction } from "p-limit";
import {
  PARAMETERS_SECRET_LABEL,
  RUNTIME_PORT,
  REVISION_LABEL,
  installationLabels,
  partitionParameters,
  renderManifests,
  renderRevisionDeployment,
  renderRevisionService,
  revisionObjectName,
  type K8sObject,
  type LogRead,
  type Logger,
  type ManifestOptions,
  type ReplicaLogChunk,
  type ReplicaUsageReading,
  type ObservedFailure,
  type ObservedRuntime,
  type RuntimeDriver,
  type RuntimeSpec,
  type RuntimeIsolation,
} from "@flowplane/core";
import { readPodLogs } from "./pod-logs.js";
import { PodMetricsReader } from "./pod-metrics.js";
import { ofCurrentDeployment, refusedPods, replicaOf } from "./pods.js";
import { TokenBucket } from "./rate-limit.js";
import { withApplyOwnership } from "./ownership.js";
import { statusOf } from "./status.js";

export interface KubernetesDriverOptions extends ManifestOptions {
  kubeConfig: KubeConfig;
  /** Server-side apply field manager. */
  fieldManager?: string;
  /** How long `delete` waits for the namespace to go before it reports a stuck finalizer. */
  deleteTimeoutMs?: number;
  /** Cluster DNS suffix for the Service URLs the gateway uses. */
  clusterDomain?: string;
  /**
   * How long an applied object is trusted to be as applied (default 10 minutes): an apply of the
   * same content within that time sends nothing; after it, the object is applied again, which
   * puts back whatever someone else changed in it.
   */
  reapplyAfterMs?: number;
  /** Where the driver logs; a line about a deployment carries its `deploymentId`. */
  log?: Logger;
  /**
   * Client-side limit on the requests the driver sends (applies, deletes, lists; the informers'
   * watches aside): `qps` a second on average (default 200), `burst` at once (default 400).
   */
  qps?: number;
  burst?: number;
  /**
   * The most requests the driver has in flight at once (default 64; the informers' watches
   * aside). Bounded here, never by the HTTP agent (kube-config.ts says why).
   */
  maxInFlight?: number;
}

type Informer<T extends KubernetesObject> = ReturnType<typeof makeInformer<T>>;


/**
 * The clock of the durations this driver bounds (the apply cache's age, refusals' retry times,
 * waits): monotonic, so a step of the wall clock neither stretches them (stepped back an hour, no
 * object was applied again for that hour) nor cuts them. Pod timestamps are wall-clock (Date.now).
 */
const clock = (): number => performance.now();
/** The account pods ran as before flowplane stopped making one (core's manifests; token-review.ts). */
const LEGACY_ACCOUNT = "runtime";

/**
 * One namespace per deployment, holding its default ServiceAccount, Secret, Service,
 * NetworkPolicy and Deployment (core's renderManifests), under flowplane's own field manager:
 * created with a POST when new, applied with server-side apply after (ssa). Pods and Deployments are watched through informers, so
 * `observe` reads a cache kept current by the API server's watch, and changes wake the
 * reconciler through `onChange`.
 */
export class KubernetesDriver implements RuntimeDriver {
  readonly name = "kubernetes" as const;
  /** Pods are isolated by the platform: their own filesystem, non-root, no capability, a NetworkPolicy. */
  readonly isolation: RuntimeIsolation = { mode: "pod", detail: "a pod of its own namespace: non-root, read-only root filesystem, every capability dropped; the control plane's data is not in it" };
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly podMetrics: PodMetricsReader;
  private readonly pods: Informer<V1Pod>;
  private readonly deployments: Informer<V1Deployment>;
  /**
   * The NetworkPolicies, watched so that one deleted or changed by someone else is applied again
   * at once (policyChanged) instead of at the next re-apply: it is what lets only the control
   * plane's namespace reach a deployment's pods, and holds their egress to DNS, the control
   * plane, TCP 443 and 5432, and the model hosts' addresses.
   */
  private readonly policies: Informer<V1NetworkPolicy>;
  /** When the install's ClusterRole refusing the NetworkPolicy watch was last said (watchPolicies). */
  private policyWatchRefusedAt = -Infinity;
  /**
   * Per NetworkPolicy being applied now: the watch events seen for it meanwhile (a resourceVersion,
   * or null for a delete). The apply's own change and someone else's can arrive in either order
   * before its answer is read; any that is not the apply's own leaves the policy unrecorded.
   */
  private readonly policyFlights = new Map<string, (string | null)[]>();
  private readonly listeners: ((resourceName: string) => void)[] = [];
  private stopped = false;
  private readonly selector: string;
  /** `resourceName@generation` already warned about dropped parameter names. */
  private readonly warned = new Set<string>();
  /**
   * What this process last applied, per object (`namespace/kind/name`): the digest of its
   * content and when. The reconciler applies on every pass (resyncs, requeues while a rollout
   * goes on), and manifests are a pure function of the deployment's generation, so most passes
   * change nothing: those send no request. Lost on restart (the first pass applies again).
   * `version`: the resourceVersion the API server gave the object at that apply (policyChanged);
   * `own`: every one that apply gave it (a move of ownership before it, ssa).
   */
  private readonly applied = new Map<string, { digest: string; at: number; version?: string; own?: string[] }>();
  /** Per namespace, the parameters Secret this process's last applied Deployment names. */
  private readonly secretNames = new Map<string, string>();
  /**
   * Per namespace, the parameters Secret its Deployment named before the last change of it: kept
   * until the next change (the old pods of a rolling update started with it), whatever else
   * prunes meanwhile (a past revision collected).
   */
  private readonly previousSecrets = new Map<string, string>();
  /**
   * Per namespace, Services of revisions no longer live kept while a pod of theirs is there, ready
   * or not: the gateway's fallback during a rolling update (endpoints), removed with the last of
   * those pods (collectRevisions).
   */
  private readonly lingering = new Map<string, Set<number>>();
  /** Per namespace, what the last change notification showed (seenChanged). */
  private readonly notified = new Map<string, string>();
  /** Every request the driver sends takes a token first (KubernetesDriverOptions.qps). */
  private readonly limit: TokenBucket;
  private readonly inFlight: LimitFunction;
  /**
   * Per namespace, how many times forget() ran: an apply still in flight when its namespace is
   * forgotten (a failed pass, a Deployment deleted behind our back) must not record itself after.
   */
  private readonly epochs = new Map<string, number>();
  /**
   * Namespaces this process created (a POST that made them): everything in one is new too, until
   * forget() (isNew). Only such objects are created with a POST; any other goes by apply.
   */
  private readonly created = new Set<string>();
  /** Objects (keyOf) known to hold no create's fields under flowplane's Update entry: no look before their applies (takeOwnership). */
  private readonly owned = new Set<string>();
  /** Until when the ServiceAccount is not sent: the install's ClusterRole refused it (applyAccount). */
  private accountRefusedUntil = 0;

  private constructor(private readonly o: KubernetesDriverOptions) {
    this.limit = new TokenBucket(o.qps ?? 200, o.burst ?? 400);
    this.inFlight = pLimit(o.maxInFlight ?? 64);
    this.selector = Object.entries(installationLabels(o.installation)).map(([k, v]) => `${k}=${v}`).join(",");
    const SELECTOR = this.selector;
    this.objects = KubernetesObjectApi.makeApiClient(o.kubeConfig);
    this.core = o.kubeConfig.makeApiClient(CoreV1Api);
    this.apps = o.kubeConfig.makeApiClient(AppsV1Api);
    this.podMetrics = new PodMetricsReader({ api: o.kubeConfig.makeApiClient(CustomObjectsApi), labelSelector: SELECTOR, send: (r) => this.send(r) });
    this.pods = makeInformer(o.kubeConfig, "/api/v1/pods", () => this.core.listPodForAllNamespaces({ labelSelector: SELECTOR }), SELECTOR);
    this.deployments = makeInformer(o.kubeConfig, "/apis/apps/v1/deployments", () => this.apps.listDeploymentForAllNamespaces({ labelSelector: SELECTOR }), SELECTOR);
    const networking = o.kubeConfig.makeApiClient(NetworkingV1Api);
    this.policies = makeInformer(o.kubeConfig, "/apis/networking.k8s.io/v1/networkpolicies", () => networking.listNetworkPolicyForAllNamespaces({ labelSelector: SELECTOR }), SELECTOR);
  }

  static async create(o: KubernetesDriverOptions): Promise<KubernetesDriver> {
    const d = new KubernetesDriver(o);
    for (const inf of [d.pods, d.deployments] as Informer<KubernetesObject>[]) {
      const notify = (obj: KubernetesObject) => {
        const ns = obj.metadata?.namespace;
        if (ns && d.seenChanged(ns)) d.wake(ns);
      };
      inf.on("add", notify);
      inf.on("update", notify);
      inf.on("delete", notify);
      // A broken watch (API server restart, expired resource version) is re-listed and resumed.
      inf.on("error", (err: unknown) => {
        d.o.log?.warn({ error: String(err) }, "kubernetes watch failed; restarting it");
        if (!d.stopped) setTimeout(() => void inf.start().catch(() => undefined), 1000);
      });
      await inf.start();
    }
    // The current revision's Deployment deleted behind our back (its namespace removed by hand,
    // say): apply all of it again. Another revision's Deployment (`runtime-r<n>`, deleted by this
    // process when the revision is collected, or by someone else): only itself is forgotten, so
    // that a live one is applied again; what this process knows of the namespace (its Secrets,
    // current and previous, kept from pruning) stays.
    d.deployments.on("delete", (obj) => {
      const ns = obj.metadata?.namespace;
      if (!ns) return;
      if (obj.metadata?.name === "runtime") d.forget(ns);
      else d.applied.delete(`${ns}/Deployment/${obj.metadata?.name ?? ""}`);
    });
    await d.watchPolicies();
    return d;
  }

  /**
   * Starts the NetworkPolicy watch. An install whose ClusterRole predates it (no `list`, `watch`
   * on networkpolicies) refuses it: said once per reapplyAfterMs and asked again as often, and
   * meanwhile a policy someone else removed comes back at the next re-apply, as before.
   */
  private async watchPolicies(): Promise<void> {
    this.policies.on("update", (obj) => this.policyChanged(obj, false));
    this.policies.on("delete", (obj) => this.policyChanged(obj, true));
    this.policies.on("error", (err: unknown) => {
      if (this.stopped) return;
      const refused = statusOf(err) === 403;
      const retryMs = refused ? Math.max(1000, Math.min(this.o.reapplyAfterMs ?? 600_000, 600_000)) : 1000;
      if (!refused) this.o.log?.warn({ error: String(err) }, "kubernetes watch failed; restarting it");
      else if (clock() - this.policyWatchRefusedAt >= retryMs) {
        this.policyWatchRefusedAt = clock();
        this.o.log?.warn({}, "the install's ClusterRole does not grant list and watch on NetworkPolicies (deploy/kubernetes/flowplane.yaml): one removed by someone else comes back only at the next re-apply");
      }
      setTimeout(() => { if (!this.stopped) void this.policies.start().catch(() => undefined); }, retryMs).unref();
    });
    await this.policies.start();
  }

  /**
   * A NetworkPolicy this process applied was deleted (or lost its labels) or changed, in any
   * field, by someone else: forgotten, so the deployment's next pass, woken now, applies it
   * again (the apply sends nothing new to the cluster when the change left flowplane's fields
   * alone). Its own apply's change is told apart by the resourceVersion that apply returned; an
   * event during an apply waits for its answer (policyFlights). A namespace deleted outside this
   * process (by hand, or by another control plane's undeploy) shows as a delete too: the woken
   * pass finds out which.
   */
  private policyChanged(obj: V1NetworkPolicy, deleted: boolean): void {
    const ns = obj.metadata?.namespace;
    const key = `${ns ?? ""}/NetworkPolicy/${obj.metadata?.name ?? ""}`;
    const flight = this.policyFlights.get(key);
    if (flight) return void flight.push(deleted ? null : obj.metadata?.resourceVersion ?? "");
    const mine = this.applied.get(key);
    const rv = obj.metadata?.resourceVersion;
    if (!ns || !mine || (!deleted && (rv === mine.version || (rv !== undefined && mine.own?.includes(rv))))) return;
    this.applied.delete(key);
    this.o.log?.warn({ resourceName: ns, name: obj.metadata?.name, change: deleted ? "deleted" : "modified" }, "a deployment's NetworkPolicy was changed outside this process; applying it again");
    this.wake(ns);
  }

  /** Tells the reconciler to look at this deployment (onChange). */
  private wake(resourceName: string): void {
    for (const l of this.listeners) l(resourceName);
  }

  async apply(spec: RuntimeSpec): Promise<void> {
    this.warnDropped(spec);
    const [namespace, ...rest] = renderManifests(spec, this.o);
    const others = spec.others ?? [];
    // The other live revisions (docs/revisions.md): a Secret, a Deployment and a Service
    // `runtime-r<runs>` each (the current revision's Service is among renderManifests' objects).
    const extra = others.flatMap((o) => renderRevisionDeployment(o, this.o));
    const services = others.map((s) => renderRevisionService(s, this.o));
    try {
      await this.applyIfChanged(namespace!);
      const deployment = this.keepLegacyAccount(rest.pop()!);
      const extraDeployments = extra.filter((x) => x.kind === "Deployment").map((obj) => this.keepLegacyAccount(obj));
      // A Deployment about to be sent that names another Secret than the one it runs with now may
      // name one this process applied before and someone else deleted since (another control
      // plane's prune, on a shared database; a rollback to earlier values brings such a name
      // back): that Secret is sent again with it. (A Deployment sent again as it was, its
      // replicas put back say, costs no Secret.)
      for (const d of [deployment, ...extraDeployments]) {
        if (!this.wouldSend(d)) continue;
        const running = secretsNamedBy(this.deployments.get(d.metadata?.name ?? "", spec.resourceName));
        for (const name of secretsNamedBy(d)) if (!running.includes(name)) this.applied.delete(`${spec.resourceName}/Secret/${name}`);
      }
      // The Secrets must exist before the first pod starts; the Deployments go last.
      await Promise.all([...rest, ...services, ...extra.filter((x) => x.kind === "Secret")].map((obj) => (obj.kind === "ServiceAccount" ? this.applyAccount(obj) : this.applyIfChanged(obj))));
      const extraSent = await Promise.all(extraDeployments.map((obj) => this.applyIfChanged(obj)));
      // The Secret the running pods were started with, before it changes: as the watch shows the
      // Deployment, and as this process last applied it (the watch may not have seen that yet).
      const live = this.deployments.get("runtime", spec.resourceName)?.spec?.template.spec?.containers[0]?.envFrom?.[0]?.secretRef?.name;
      const current = rest.find((o) => o.kind === "Secret")!.metadata.name;
      // Nothing of an earlier revision can be there to collect when neither the watch nor this
      // process knew a Deployment here before this apply (a first create): no list is spent then.
      const existed = this.secretNames.has(spec.resourceName) || this.deployments.list(spec.resourceName).length > 0;
      const sent = await this.applyIfChanged(deployment);
      // A new pod template may name a new parameters Secret: prune the older ones then, and only
      // then (one deletecollection per change of what runs, none on the passes that change
      // nothing). (A first apply has nothing to prune: no request is spent on it.) The other live
      // revisions' Secrets are kept while they are live.
      const before = [live, this.secretNames.get(spec.resourceName)];
      const extraSecrets = extra.filter((x) => x.kind === "Secret").map((x) => x.metadata.name);
      const previous = before.find((n) => n !== undefined && n !== current);
      if (sent && previous !== undefined) {
        this.previousSecrets.set(spec.resourceName, previous);
        await this.pruneOrWarn(spec.resourceName, [current, ...before, ...extraSecrets]);
      }
      this.secretNames.set(spec.resourceName, current);
      await this.collectRevisions(spec, new Set(others.map((o) => o.revision!)), extraSecrets, existed && (sent || extraSent.some(Boolean)));
      // Its objects are made: anything sent there from now on may exist, and is applied (isNew).
      this.created.delete(spec.resourceName);
    } catch (e) {
      // What succeeded may be gone already (a namespace deleted by hand accepts the Namespace's
      // apply while it terminates, refuses the rest, then vanishes): the next pass sends it all.
      this.forget(spec.resourceName);
      throw e;
    }
  }

  /**
   * Garbage collection of revisions no longer live: their Deployment `runtime-r<runs>`, Service
   * and Secret. A revision that became current again (a rollback to the warm one) keeps its
   * Deployment until the current Deployment has its own ready pods of it, so the calls it takes at
   * once are never sent back to the revision before. A revision's Service stays while a pod of
   * it is there (the old pods of a rolling update): it is the only way to them, and the gateway
   * falls back to it until the new revision has a ready pod (endpoints).
   */
  private async collectRevisions(spec: RuntimeSpec, others: Set<number>, keepSecrets: string[], changed: boolean): Promise<void> {
    const ns = spec.resourceName;
    const runs = spec.revision;
    const ownReady = this.pods.list(ns).filter((p) => ofCurrentDeployment(p) && p.metadata?.labels?.[REVISION_LABEL] === String(runs) && replicaOf(p).state === "ready").length;
    const stale = this.deployments.list(ns).filter((d) => {
      const name = d.metadata?.name ?? "";
      const rev = Number(d.metadata?.labels?.[REVISION_LABEL]);
      if (!name.startsWith("runtime-r") || others.has(rev)) return false;
      return !(rev === runs && ownReady < spec.resources.replicas);
    });
    for (const d of stale) {
      try {
        await this.send(() => this.apps.deleteNamespacedDeployment({ namespace: ns, name: d.metadata!.name! }));
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
      this.applied.delete(`${ns}/Deployment/${d.metadata!.name!}`);
    }
    const live = new Set([...others, ...(runs !== undefined ? [runs] : [])]);
    // Revisions no longer live whose pods are still there, ready or not (the old pods of a rolling
    // update, one stuck behind a new revision that never gets ready included): their Service is
    // applied (again, when it went: a pass while no pod of it was there) and kept, so that whenever
    // one of those pods is ready, the URL endpoints() gives names a Service that exists.
    const lingering = new Set<number>();
    for (const label of this.revisionsOf(ns, false)) {
      const rev = Number(label);
      if (label === "" || live.has(rev)) continue;
      await this.applyIfChanged(renderRevisionService({ ...spec, revision: rev }, this.o));
      lingering.add(rev);
    }
    // The Services to remove: of a revision neither live nor running. Without a change, only those
    // this process kept before are looked at again (no list).
    const candidates = changed || stale.length > 0
      ? (await this.send(() => this.core.listNamespacedService({ namespace: ns }))).items.map((s) => /^runtime-r(\d+)$/.exec(s.metadata?.name ?? "")).filter((m) => m !== null).map((m) => Number(m[1]))
      : [...(this.lingering.get(ns) ?? [])];
    for (const rev of candidates) {
      if (live.has(rev) || lingering.has(rev)) continue;
      const name = revisionObjectName(rev);
      try {
        await this.send(() => this.core.deleteNamespacedService({ namespace: ns, name }));
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
      this.applied.delete(`${ns}/Service/${name}`);
    }
    if (lingering.size > 0) this.lingering.set(ns, lingering);
    else this.lingering.delete(ns);
    if (stale.length > 0) {
      // (The Deployments that stay keep theirs through secretsInUse.)
      await this.pruneOrWarn(ns, [this.secretNames.get(ns), this.previousSecrets.get(ns), ...keepSecrets], new Set(stale.map((d) => d.metadata?.name ?? "")));
    }
  }

  /**
   * A Deployment an earlier flowplane made runs its pods as the account it made, `runtime`: the
   * account is kept until the Deployment changes anyway (another generation), so an upgrade does
   * not roll every deployment's pods at once (the TokenReview takes both accounts meanwhile).
   */
  private keepLegacyAccount(obj: K8sObject): K8sObject {
    const live = this.deployments.get(obj.metadata.name, obj.metadata.namespace);
    const want = obj as unknown as V1Deployment;
    const template = want.spec?.template;
    if (!template?.spec || live?.spec?.template.spec?.serviceAccountName !== LEGACY_ACCOUNT) return obj;
    if (live.metadata?.annotations?.["flowplane.io/generation"] !== want.metadata?.annotations?.["flowplane.io/generation"]) return obj;
    return { ...obj, spec: { ...want.spec, template: { ...template, spec: { ...template.spec, serviceAccountName: LEGACY_ACCOUNT } } } } as K8sObject;
  }

  /** Whether applyIfChanged would send `obj`: not applied by this process as it is now, lately, and as the watch shows it. */
  private wouldSend(obj: KubernetesObject, digest = digestOf(obj)): boolean {
    const last = this.applied.get(keyOf(obj));
    return !(last && last.digest === digest && clock() - last.at < (this.o.reapplyAfterMs ?? 600_000) && this.liveAgrees(obj));
  }

  /** True when the object was sent (it changed, or its cache entry expired). */
  private async applyIfChanged(obj: KubernetesObject): Promise<boolean> {
    const key = keyOf(obj);
    const digest = digestOf(obj);
    if (!this.wouldSend(obj, digest)) return false;
    const last = this.applied.get(key);
    this.applied.delete(key); // a failed apply leaves the object unknown
    const scope = obj.metadata?.namespace || obj.metadata?.name || "";
    const epoch = this.epochs.get(scope) ?? 0;
    const policy = obj.kind === "NetworkPolicy";
    const seen: (string | null)[] = [];
    if (policy) this.policyFlights.set(key, seen);
    let version: string | undefined;
    const own: string[] = [];
    try {
      // The same content as this process last applied: no field to remove, so a create's
      // ownership (ownership.ts) can wait for a change.
      version = await this.ssa(obj, { create: last === undefined && this.isNew(obj), settle: last?.digest !== digest }, own);
    } finally {
      if (policy) this.policyFlights.delete(key);
    }
    // A change of the policy seen while this apply was under way that is not the apply's own may
    // have come after it: not recorded, and the deployment's pass woken to apply it again.
    if (seen.some((v) => v !== version && !own.includes(v ?? ""))) {
      this.wake(scope);
      return true;
    }
    // Forgotten meanwhile (another apply of the pass failed): what this one did may not last.
    if ((this.epochs.get(scope) ?? 0) === epoch) this.applied.set(key, { digest, at: clock(), ...(version !== undefined ? { version } : {}), ...(own.length > 1 ? { own } : {}) });
    return true;
  }

  /**
   * The namespace's `default` ServiceAccount spares the pods' admission a wait for the
   * ServiceAccount controller; it is not needed otherwise. An install whose ClusterRole predates
   * it (no `serviceaccounts`) refuses it: said once per reapplyAfterMs, and the pass goes on (a
   * terminating namespace's refusal, also a 403, still fails the pass).
   */
  private async applyAccount(obj: K8sObject): Promise<void> {
    if (clock() < this.accountRefusedUntil) return;
    try {
      await this.applyIfChanged(obj);
    } catch (e) {
      if (statusOf(e) !== 403 || !/cannot (create|patch) resource \W*serviceaccounts\W/.test(e instanceof Error ? e.message : String(e))) throw e;
      this.accountRefusedUntil = clock() + (this.o.reapplyAfterMs ?? 600_000);
      this.o.log?.warn({ resourceName: obj.metadata.namespace }, "the install's ClusterRole does not grant create and patch on the default ServiceAccount (deploy/kubernetes/flowplane.yaml); Kubernetes makes it instead");
    }
  }

  /**
   * pruneSecrets, where a refusal is not the pass's failure: the install's ClusterRole grants
   * deletecollection of Secrets (deploy/kubernetes/flowplane.yaml), one from an earlier version
   * does not (it granted list and delete), and an admission policy of the cluster's may refuse
   * it. The past Secrets then stay, said here, and the pass goes on.
   */
  private async pruneOrWarn(namespace: string, keep: (string | undefined)[], collected: ReadonlySet<string> = new Set()): Promise<void> {
    await this.pruneSecrets(namespace, keep, collected).catch((e: unknown) => {
      if (statusOf(e) !== 403) throw e;
      this.o.log?.warn({ resourceName: namespace }, "cannot delete past parameters Secrets (deletecollection on secrets forbidden: a ClusterRole from an earlier version, or an admission policy); they stay");
    });
  }

  /**
   * The parameters Secrets something here still runs with, as the watches show them: every
   * pod's (the old pods of a rolling update included, whose containers may restart and need
   * theirs) and every Deployment's pod template's. Not those of the Deployments in `collected`,
   * deleted just now with their ReplicaSets and pods, which the watch may still show.
   */
  private secretsInUse(namespace: string, collected: ReadonlySet<string>): string[] {
    // A ReplicaSet is named `<its Deployment>-<pod-template-hash>`: a pod's owner names its Deployment.
    const ofCollected = (p: V1Pod) => {
      const hash = p.metadata?.labels?.["pod-template-hash"];
      return hash !== undefined && (p.metadata?.ownerReferences ?? []).some((o) => o.kind === "ReplicaSet" && o.name.endsWith(`-${hash}`) && collected.has(o.name.slice(0, -hash.length - 1)));
    };
    // A pod on its way out (deleted, or ended for good) restarts no container: its Secret is not needed.
    const running = this.pods.list(namespace).filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed" && !ofCollected(p));
    const deployments = this.deployments.list(namespace).filter((d) => !collected.has(d.metadata?.name ?? ""));
    return [...running.flatMap((p) => secretsOfPod(p.spec)), ...deployments.flatMap(secretsNamedBy)];
  }

  /**
   * Parameters Secrets are immutable and named by content (core's manifests), so each change of
   * values leaves the previous one behind. Kept: the current one, the one the Deployment named
   * before this apply, and every one a pod or a Deployment of the namespace names
   * (secretsInUse): the old pods of a rolling update were started with theirs, and a container
   * restarting there must still find its environment. Others are deleted.
   *
   * One `deletecollection`, by label and by name (`metadata.name!=` each kept one), and no list:
   * the control plane never reads a Secret, so its ClusterRole grants no `get` or `list` on
   * Secrets anywhere (deploy/kubernetes/flowplane.yaml), and the install's admission policy holds
   * its deletes to this installation's namespaces.
   */
  private async pruneSecrets(namespace: string, keep: (string | undefined)[], collected: ReadonlySet<string>): Promise<void> {
    const names = [...new Set([...keep, ...this.secretsInUse(namespace, collected)].filter((n): n is string => typeof n === "string" && n !== ""))];
    const fieldSelector = names.map((n) => `metadata.name!=${n}`).join(",") || undefined;
    await this.send(() => this.core.deleteCollectionNamespacedSecret({ namespace, labelSelector: `${PARAMETERS_SECRET_LABEL}=true`, ...(fieldSelector ? { fieldSelector } : {}) }));
    // Forget what was deleted: an apply of one of those again (a rollback to its values) is sent.
    for (const key of this.applied.keys()) {
      if (key.startsWith(`${namespace}/Secret/`) && !names.includes(key.slice(`${namespace}/Secret/`.length))) this.applied.delete(key);
    }
  }

  /**
   * For the Deployment, what this process applied is also checked against the watch's copy:
   * another control plane may have applied a different replica count or generation since (a
   * lease handed back and forth), and this cache cannot know. The NetworkPolicy is watched too
   * (policyChanged); other kinds are not, and someone else's change to them is put back at the
   * next re-apply (reapplyAfterMs).
   */
  private liveAgrees(obj: KubernetesObject): boolean {
    if (obj.kind !== "Deployment") return true;
    const want = obj as V1Deployment;
    const live = this.deployments.get(want.metadata?.name ?? "", want.metadata?.namespace);
    return live !== undefined && live.spec?.replicas === want.spec?.replicas &&
      live.metadata?.annotations?.["flowplane.io/generation"] === want.metadata?.annotations?.["flowplane.io/generation"];
  }

  /**
   * renderManifests leaves reserved parameter names out of the Secret; say so once per
   * generation, naming the names (never the values).
   */
  private warnDropped(spec: RuntimeSpec): void {
    const { dropped } = partitionParameters(spec.env);
    const key = `${spec.resourceName}@${spec.generation}`;
    if (dropped.length === 0 || this.warned.has(key)) return;
    if (this.warned.size > 10_000) this.warned.clear();
    this.warned.add(key);
    this.o.log?.warn({ deploymentId: spec.deploymentId, names: dropped }, "reserved parameter names dropped: they configure the replica's process, not the flow");
  }

  /**
   * Whether a watch event changed anything a pass acts on: the replicas as observe reads them
   * (state, generation, revision, restarts, failure) and each Deployment's replica count and
   * generation. Most events do not (a ReplicaSet's counters, a pod's IP, conditions a pass does
   * not read): at a thousand deployments starting at once, a pass per event was most of the
   * control plane's work. Someone else's change to another field is put back by the resync.
   */
  private seenChanged(namespace: string): boolean {
    const sig = JSON.stringify([
      this.pods.list(namespace).map(replicaOf),
      this.deployments.list(namespace).map((d) => [d.metadata?.name, d.spec?.replicas, d.metadata?.annotations?.["flowplane.io/generation"], d.spec?.template.spec?.containers[0]?.envFrom?.[0]?.secretRef?.name]),
    ]);
    if (this.notified.get(namespace) === sig) return false;
    this.notified.set(namespace, sig);
    return true;
  }

  async observe(resourceName: string): Promise<ObservedRuntime> {
    const dep = this.deployments.get("runtime", resourceName);
    if (!dep) return { exists: false, appliedGeneration: 0, replicas: [] };
    const appliedGeneration = Number(dep.metadata?.annotations?.["flowplane.io/generation"] ?? 0);
    const replicas = this.pods.list(resourceName).map(replicaOf);
    let failure: ObservedFailure | undefined;
    for (const r of replicas) if (r.generation === appliedGeneration && r.failure) failure ??= r.failure;
    failure ??= refusedPods(dep, replicas.filter((r) => r.generation === appliedGeneration).length, Date.now());
    return {
      exists: true,
      appliedGeneration,
      replicas: replicas.map(({ failure: _f, ...r }) => r),
      ...(failure ? { failure } : {}),
      isolation: this.isolation,
    };
  }

  private forget(resourceName: string): void {
    this.epochs.set(resourceName, (this.epochs.get(resourceName) ?? 0) + 1);
    this.secretNames.delete(resourceName);
    this.previousSecrets.delete(resourceName);
    this.lingering.delete(resourceName);
    this.notified.delete(resourceName);
    this.created.delete(resourceName);
    const mine = (key: string) => key.startsWith(`${resourceName}/`) || key === `/Namespace/${resourceName}`;
    for (const key of this.applied.keys()) if (mine(key)) this.applied.delete(key);
    for (const key of this.owned) if (mine(key)) this.owned.delete(key);
  }

  async delete(resourceName: string): Promise<void> {
    this.forget(resourceName);
    try {
      await this.send(() => this.core.deleteNamespace({ name: resourceName, propagationPolicy: "Background" }));
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
    const timeout = this.o.deleteTimeoutMs ?? 120_000;
    const deadline = clock() + timeout;
    for (;;) {
      let ns;
      try {
        ns = await this.send(() => this.core.readNamespace({ name: resourceName }));
      } catch (e) {
        if (statusOf(e) === 404) return;
        throw e;
      }
      if (clock() > deadline) {
        const stuck = (ns.status?.conditions ?? []).filter((c) => c.status === "True").map((c) => `${c.reason}: ${c.message}`).join("; ");
        throw new Error(`namespace ${resourceName} is still terminating after ${Math.round(timeout / 1000)} s${stuck ? ` (${stuck})` : ""}; a finalizer may be hanging`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async list(): Promise<string[]> {
    const out = await this.send(() => this.core.listNamespace({ labelSelector: this.selector }));
    return out.items.filter((n) => !n.metadata?.deletionTimestamp).map((n) => n.metadata!.name!).sort();
  }

  onChange(listener: (resourceName: string) => void): void {
    this.listeners.push(listener);
  }

  /**
   * With `revision`, that revision's own Service (`runtime-r<runs>`) when one of its pods is ready
   * (kube-proxy balances behind it). Without, the Service of every revision with a ready pod: the
   * deployment has no Service of all its pods (core's manifests); a pod started for no revision
   * is behind `runtime`.
   */
  endpoints(resourceName: string, revision?: number): string[] {
    const url = (name: string) => `http://${name}.${resourceName}.svc.${this.o.clusterDomain ?? "cluster.local"}:${RUNTIME_PORT}`;
    const ready = this.revisionsOf(resourceName, true);
    if (revision !== undefined) return ready.has(String(revision)) ? [url(revisionObjectName(revision))] : [];
    return [...ready].sort().map((rev) => url(rev === "" ? "runtime" : revisionObjectName(Number(rev))));
  }

  /** The revisions (`flowplane.io/revision`; "" for none) of the namespace's pods, or of its ready ones. */
  private revisionsOf(resourceName: string, readyOnly: boolean): Set<string> {
    const pods = this.pods.list(resourceName).filter((p) => !readyOnly || replicaOf(p).state === "ready");
    return new Set(pods.map((p) => p.metadata?.labels?.[REVISION_LABEL] ?? "").filter((r) => /^\d*$/.test(r)));
  }

  /** The pods' logs through the API server (pod-logs.ts): the pods the informer holds, drained ones while they last. */
  async readLogs(resourceName: string, read: LogRead): Promise<ReplicaLogChunk[]> {
    return readPodLogs(this.core, resourceName, this.pods.list(resourceName), read);
  }

  /**
   * CPU and memory of the pods the informer holds, from metrics.k8s.io when the cluster serves it:
   * one cluster-wide list every few seconds, whatever the number of deployments (pod-metrics.ts).
   */
  async usage(resourceName: string): Promise<ReplicaUsageReading> {
    const pods = new Set(this.pods.list(resourceName).map((p) => p.metadata?.name ?? ""));
    if (pods.size === 0) return { available: true, replicas: [] };
    return this.podMetrics.read(resourceName, pods);
  }

  async close(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.pods.stop(), this.deployments.stop(), this.policies.stop()]);
  }

  /**
   * Whether `obj` cannot exist yet: a Namespace that neither this process nor the Deployment
   * watch (listed in full before the first apply) knows, or an object in a namespace this process
   * created. A wrong guess costs a 409 and the apply after it, never a wrong object.
   */
  private isNew(obj: KubernetesObject): boolean {
    // The install's role grants the `default` account by name only, which a POST does not carry
    // (RBAC authorizes a create by the URL's name): always applied.
    if (obj.kind === "ServiceAccount") return false;
    const ns = obj.metadata?.namespace;
    if (ns) return this.created.has(ns);
    const name = obj.metadata?.name ?? "";
    return obj.kind === "Namespace" && !this.created.has(name) && this.deployments.list(name).length === 0;
  }

  /**
   * The object sent under flowplane's field manager; its resourceVersion after it (`own`: every
   * resourceVersion this call gave the object, for the NetworkPolicy watch to tell its own writes).
   * A new one (`create`) is created with a POST, which costs the API server about two thirds of
   * the server-side apply that sends anything else (docs/kubernetes-at-scale.md, "Created, then
   * applied"); one that exists already (409) is applied. Before an apply that may change the
   * object (`settle`: not the content this process last sent), a create's ownership is moved to
   * the apply's (takeOwnership), so what the object no longer names goes with that one apply.
   */
  private async ssa(obj: KubernetesObject, o: { create?: boolean; settle?: boolean } = {}, own: string[] = []): Promise<string | undefined> {
    const manager = this.o.fieldManager ?? "flowplane";
    if (o.create) {
      const name = obj.metadata?.name ?? "";
      const epoch = this.epochs.get(name) ?? 0;
      try {
        const made = await this.send(() => this.objects.create(obj, undefined, undefined, manager));
        const version = made?.metadata?.resourceVersion;
        if (version) own.push(version);
        // Not when the deployment was forgotten meanwhile (undeployed): its namespace is no longer new.
        if (obj.kind === "Namespace" && (this.epochs.get(name) ?? 0) === epoch) this.created.add(name);
        return version;
      } catch (e) {
        // Made meanwhile (another control plane, a retried POST whose first answer was lost): applied below.
        if (statusOf(e) !== 409) throw e;
      }
    }
    if (o.settle !== false) await this.takeOwnership(obj, manager, own);
    const out = await this.send(() => this.objects.patch(obj, undefined, undefined, manager, true, PatchStrategy.ServerSideApply));
    const version = out?.metadata?.resourceVersion;
    if (version) own.push(version);
    return version;
  }

  /**
   * Moves the fields a create (a POST, operation Update) gave flowplane's field manager to its
   * apply's entry (ownership.ts), before the apply: once per object (`owned` remembers it).
   * The object as the watch holds it (Deployment, NetworkPolicy), else as read; a merge patch of
   * the list alone (the install's role grants patch, not update) with the resourceVersion as its
   * precondition, so no other manager's entry written since is undone: on a conflict the object
   * is read again, three times at most, after which the pass fails and is tried again.
   * Immutable objects (the content-named Secrets) never change, and the `default` account is
   * never created with a POST (isNew): neither is looked at.
   */
  private async takeOwnership(obj: KubernetesObject, manager: string, own: string[]): Promise<void> {
    const key = keyOf(obj);
    if (this.owned.has(key) || obj.kind === "ServiceAccount" || (obj as { immutable?: boolean }).immutable === true) return;
    const name = obj.metadata?.name ?? "";
    const namespace = obj.metadata?.namespace;
    const metadata = { name, ...(namespace ? { namespace } : {}) };
    const read = async () => {
      try {
        return await this.send(() => this.objects.read({ apiVersion: obj.apiVersion!, kind: obj.kind!, metadata }));
      } catch (e) {
        if (statusOf(e) === 404) return undefined; // the apply creates it, under its own ownership
        throw e;
      }
    };
    const watched = obj.kind === "Deployment" ? this.deployments.get(name, namespace) : obj.kind === "NetworkPolicy" ? this.policies.get(name, namespace ?? "") : undefined;
    let live: KubernetesObject | undefined = watched ?? (await read());
    for (let attempt = 1; ; attempt++) {
      const moved = live ? withApplyOwnership(live, manager) : null;
      if (!moved) {
        if (live) this.owned.add(key);
        return;
      }
      const { resourceVersion, managedFields } = moved.metadata!;
      const patch = { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { ...metadata, resourceVersion, managedFields } };
      try {
        const out = await this.send(() => this.objects.patch(patch, undefined, undefined, manager, undefined, PatchStrategy.MergePatch));
        if (out?.metadata?.resourceVersion) own.push(out.metadata.resourceVersion);
        this.owned.add(key);
        return;
      } catch (e) {
        if (statusOf(e) !== 409) throw e;
        if (attempt >= 3) throw new Error(`the ${obj.kind} ${namespace ? `${namespace}/` : ""}${name} kept changing while its fields' ownership was moved to server-side apply; tried 3 times`);
      }
      live = await read();
    }
  }

  /**
   * One request to the API server, after the client-side rate limit lets it go. A request that
   * lost its kept-alive connection (the server closed it as it was reused: node-fetch says
   * "Premature close" or the socket was reset) is sent again, up to three times in all: every request
   * the driver sends is idempotent (server-side apply, reads, deletes that take 404 as done), or
   * safe to repeat: a create sent again finds the object made and is applied (409, ssa), the
   * ownership patch carries its resourceVersion (a repeat is refused, and the pass tries again).
   * At most `maxInFlight` are under way; the slot is held until the answer has been read.
   */
  private async send<T>(request: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      await this.limit.take();
      try {
        return await this.inFlight(request);
      } catch (e) {
        // An answer from the API server carries a numeric status; a lost connection does not.
        const lost = typeof statusOf(e) !== "number" && /Premature close|ECONNRESET|socket hang up|EPIPE/.test(e instanceof Error ? e.message : String(e));
        if (!lost || attempt === 3) throw e;
      }
    }
  }
}

/** The apply cache's key of an object: `namespace/kind/name`. */
function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.kind ?? ""}/${obj.metadata?.name ?? ""}`;
}

function digestOf(obj: KubernetesObject): string {
  return createHash("sha256").update(JSON.stringify(obj)).digest("hex");
}

/** The Secrets a pod takes its environment from. */
function secretsOfPod(spec: V1PodSpec | undefined): string[] {
  return (spec?.containers ?? []).flatMap((c) => (c.envFrom ?? []).map((e) => e.secretRef?.name)).filter((n): n is string => typeof n === "string");
}

/** The Secrets a Deployment's pods take their environment from (none when there is no Deployment). */
function secretsNamedBy(d: KubernetesObject | undefined): string[] {
  return secretsOfPod((d as V1Deployment | undefined)?.spec?.template.spec);
}
