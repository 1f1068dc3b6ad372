import type { EngineChoice } from "./compatibility.js";
import type { LogLevel, NetworkAccess, Resources } from "./deployment.js";
import type { TweaksPolicy } from "./api/tweaks-policy.js";

/**
 * What a driver must make run for one deployment: a pure function of the deployment record,
 * its pinned version and its decrypted values (see `runtimeSpec`). `env` holds credential
 * values: drivers keep it in memory, in 0600 files or in a Kubernetes Secret, never in logs.
 */
export interface RuntimeSpec {
  deploymentId: string;
  projectId: string;
  /** DNS-1123 label: namespace (Kubernetes) or folder (local) of the deployment. */
  resourceName: string;
  generation: number;
  /**
   * The deployment's revision this generation runs (docs/revisions.md): replicas carry it (the
   * `flowplane.io/revision` pod label; the local driver's replica record). Absent: not known.
   */
  revision?: number;
  /**
   * The other live revisions (docs/revisions.md): a canary's stable revision, the warm one kept
   * after a change. Each is a spec of its own with its `revision` set (its replicas carry it) and
   * its replica count; it never has `others`. Replicas of a revision named here are kept, not
   * rolled away; a revision no longer named goes. Absent: only this spec's revision runs.
   */
  others?: RuntimeSpec[];
  bundle: { name: string; version: string; digest: string };
  /** Where replicas download the pinned bundle (the control plane's internal endpoint). */
  bundleUrl: string;
  /**
   * The deployment's identity for that download when the platform gives none of its own
   * (local driver). The Kubernetes driver ignores it: pods use a projected ServiceAccount token.
   */
  identityToken: string;
  /**
   * The secret the gateway sends with every request it forwards to this deployment
   * (`createGatewaySecrets`); replicas refuse requests without it, probes apart.
   */
  gatewaySecret: string;
  engine: EngineChoice;
  logLevel: LogLevel;
  requestTimeoutSeconds: number;
  networkAccess: NetworkAccess;
  resources: Resources;
  /** Parameters and credentials by global-variable name. */
  env: Record<string, string>;
  /**
   * When the deployment keeps runs' inputs and outputs (runtime.io.record): the cut of each
   * value, and which of `env` are credentials, whose values the replica redacts from anything it
   * records (FLOWPLANE_IO_MAX_CHARS, FLOWPLANE_CREDENTIAL_NAMES: names only). Absent: nothing is
   * kept, and the replica's environment is what it was before this setting existed.
   */
  recordIO?: { maxChars: number; credentialNames: string[] };
  /** Which fields run requests may tweak (TWEAKS_POLICY_ENV); absent: permissive. */
  tweaksPolicy?: TweaksPolicy;
  /**
   * The plain parameters among `env` the deployment keeps secret (held as credentials), names
   * only (FLOWPLANE_SECRET_PARAMETER_NAMES): the replica guards them as credentials. Absent: none.
   */
  secretParameters?: string[];
  /**
   * The largest request body a replica accepts (FLOWPLANE_MAX_BODY_BYTES). It is the same
   * setting as the gateway's body limit (FLOWPLANE_BODY_LIMIT_BYTES), so the gateway answers
   * 413 for anything larger and never forwards a body the replica would refuse mid-upload.
   * Absent: DEFAULT_BODY_LIMIT_BYTES.
   */
  maxBodyBytes?: number;
}

/** The default of FLOWPLANE_BODY_LIMIT_BYTES: the API's, the gateway's and the replicas' body limit. */
export const DEFAULT_BODY_LIMIT_BYTES = 10 * 1024 * 1024;

/**
 * One replica as the driver sees it:
 * - `starting`: the process or pod exists, `/ready` does not answer 200 yet.
 * - `ready`: `/ready` answers 200; the gateway may route to it.
 * - `draining`: being replaced or scaled away; no new traffic, in-flight requests finish.
 * - `crashed`: it exited and waits for its back-off before a restart.
 */
export type ReplicaState = "starting" | "ready" | "draining" | "crashed";

export interface ObservedReplica {
  id: string;
  generation: number;
  /** The revision the replica was started for, when the driver knows it. */
  revision?: number;
  state: ReplicaState;
  restarts: number;
  /** The last exit or failure, in words (never a credential value). */
  lastError?: string;
}

/**
 * Why nothing can serve and waiting will not help, Kubernetes-style reasons:
 * BundleDownloadFailed, DigestMismatch, FlowLoadFailed, CrashLoopBackOff, ImagePullBackOff,
 * Unschedulable, PodsRefused (Kubernetes: the cluster refuses to create them), StartTimeout;
 * OOMKilled (the local driver's memory limit, after its restarts);
 * OOMScoreLowered (local driver: a replica lowered its OOM score adjustment, after its restarts);
 * ResourcesExhausted (local driver: the machine was short of open files, processes, memory,
 * socket buffers, disk space or loopback ports at each start, after as many restarts as a crash loop);
 * SandboxFailed (local driver: bubblewrap could not set up the sandbox or apply its seccomp filter).
 */
export interface ObservedFailure {
  reason: string;
  message: string;
}

/**
 * How a driver keeps a deployment's replicas away from the control plane's data (admin key,
 * secret key, database files) and from other deployments. A flow on the lfx engine runs
 * arbitrary Python by design, so this is what stands between a flow and every credential.
 * - `sandbox`: a bubblewrap sandbox (local driver): own mount, pid and IPC namespaces; the
 *   replica sees only its runtime, read-only, and its own working folder; under a uid of its
 *   own when the control plane runs as root.
 * - `user`: a uid of its own without a sandbox (local driver, control plane as root where
 *   bubblewrap cannot run): the data folder and other deployments' folders are unreadable by
 *   their modes, but their paths are visible.
 * - `pod`: a Kubernetes pod (non-root, read-only root filesystem, every capability dropped):
 *   the control plane's data is in another pod (or outside the cluster) altogether.
 * - `none`: the control plane's own user, unsandboxed (non-root without user namespaces, or
 *   turned off): a flow can read everything the control plane can.
 */
export type IsolationMode = "sandbox" | "user" | "pod" | "none";

/** The isolation a driver applied to a deployment's replicas, with the how or the why-not in words. */
export interface RuntimeIsolation {
  mode: IsolationMode;
  detail: string;
}

export interface ObservedRuntime {
  /** False when the driver holds nothing for this deployment. */
  exists: boolean;
  /** The newest generation the driver was asked to apply. */
  appliedGeneration: number;
  replicas: ObservedReplica[];
  failure?: ObservedFailure;
  /** How the replicas are isolated; every driver reports it once the deployment exists. */
  isolation?: RuntimeIsolation;
}

/**
 * The one interface for running deployments (DESIGN 5): the local process driver and the
 * Kubernetes driver implement it, and both pass adapters' shared driver suite.
 * Every method is idempotent: the reconciler calls them again after any crash.
 */
export interface RuntimeDriver {
  readonly name: "local" | "kubernetes";
  /** The isolation this driver gives replicas (each deployment's own is in `observe`): for the start banner and logs. */
  readonly isolation: RuntimeIsolation;
  /** Moves what runs one step towards `spec` (start, roll, scale); returns without waiting for readiness. */
  apply(spec: RuntimeSpec): Promise<void>;
  observe(resourceName: string): Promise<ObservedRuntime>;
  /** Removes everything the deployment owns. Resolves once it is gone (or the driver's timeout passed: then throws). */
  delete(resourceName: string): Promise<void>;
  /** The resource names of every deployment the driver holds something for (finds orphans). */
  list(): Promise<string[]>;
  /**
   * Registers a listener called (with the resource name) when what `observe` would answer
   * changes on its own (a replica became ready, crashed, finished draining), so the
   * reconciler reacts at once instead of at its next poll.
   */
  onChange(listener: (resourceName: string) => void): void;
  /**
   * Base URLs of the ready replicas (local) or of the Service (Kubernetes), for the gateway.
   * With `revision`: only those started for that revision (the gateway's traffic split).
   */
  endpoints(resourceName: string, revision?: number): string[];
  /**
   * The listener (loopback-listeners.ts listenerId) that deployment `resourceName`'s replica at
   * `endpoint` (one of its `endpoints()`, now or before) serves on, when the driver made it on
   * this machine's loopback (local driver): a gateway checks each new connection against it
   * before writing a byte, for a dead replica's port is anyone's to bind before the gateway
   * hears of the death. `null`: the port is now another deployment's replica's (a stale URL,
   * never to be sent to). Undefined when unknown (Kubernetes: a Service or pod address no other
   * deployment can take).
   */
  replicaListener?(resourceName: string, endpoint: string): string | null | undefined;
  /**
   * Reads the replicas' logs: for each replica whose log the driver can read (running ones, and
   * recently gone ones while their log is kept), the lines after the cursor the previous read
   * answered for it, or its last `tailLines` lines when the read names no cursor for it. Calling
   * it again with the answered cursors follows the logs; a replica started meanwhile (a rolling
   * restart) simply appears in the next answer. Never throws for one unreadable replica: its
   * chunk carries `error` instead.
   */
  readLogs(resourceName: string, read: LogRead): Promise<ReplicaLogChunk[]>;
  /**
   * CPU and memory of each running replica now, for the metrics endpoint's sampler. A driver
   * that cannot measure (no metrics API in the cluster) says so and why; it never guesses.
   */
  usage(resourceName: string): Promise<ReplicaUsageReading>;
  close(): Promise<void>;
}

/**
 * One replica's use of CPU and memory, as its driver measures it. CPU comes in the form the
 * platform gives: a cumulative counter (local: the process tree's CPU time, which the sampler
 * turns into a rate between two readings) or a rate already (Kubernetes' metrics API).
 */
export interface ReplicaUsage {
  replica: string;
  /** CPU seconds the replica has used since it started (the whole process tree). */
  cpuSecondsTotal?: number;
  /** CPU in cores over the platform's last measuring window. */
  cpuCores?: number;
  /** Resident memory in bytes (the process tree's, or the pod's working set). */
  memoryBytes: number;
}

/** The usage of a deployment's replicas, or why the driver cannot tell. */
export type ReplicaUsageReading =
  | { available: true; replicas: ReplicaUsage[] }
  | { available: false; reason: string };

export interface LogRead {
  /** Replica id → the cursor answered for it by the previous read (opaque to callers). */
  cursors?: Readonly<Record<string, string>>;
  /** Lines from the end for a replica without a cursor (default 100). */
  tailLines?: number;
  /** Only this replica. */
  replica?: string;
}

/** New lines of one replica's log, oldest first, without their line breaks. */
export interface ReplicaLogChunk {
  replica: string;
  lines: string[];
  /** Pass it back in the next read's `cursors` to get only what follows. */
  cursor: string;
  /** Why the log could not be read (the chunk then has no lines). */
  error?: string;
}

/** The spec for a deployment: parameters first, credentials over them (names never collide: publish keeps them apart). */
export function runtimeSpec(o: {
  deployment: { id: string; projectId: string; resourceName: string; generation: number; revision?: number; bundle: RuntimeSpec["bundle"]; networkAccess: NetworkAccess; resources: Resources; parameters: Record<string, string>;
    runtime: { engine: EngineChoice; logLevel: LogLevel; requestTimeoutSeconds: number; io?: { record: boolean; maxChars: number }; tweaksPolicy?: TweaksPolicy }; disabled?: { stopReplicas: boolean } | null; sleeping?: { since: string } | null };
  credentials: Record<string, string>;
  /**
   * The plain parameters of the bundle version this spec runs (names): those among
   * `credentials` are plain parameters the deployment keeps secret (`secretParameters`).
   */
  plainParameters: Iterable<string>;
  bundleUrl: string;
  identityToken: string;
  gatewaySecret: string;
  /** The gateway's body limit; DEFAULT_BODY_LIMIT_BYTES when not given. */
  maxBodyBytes?: number;
}): RuntimeSpec {
  const d = o.deployment;
  const plain = new Set(o.plainParameters);
  const secretParameters = Object.keys(o.credentials).filter((n) => plain.has(n)).sort();
  return {
    deploymentId: d.id,
    projectId: d.projectId,
    resourceName: d.resourceName,
    generation: d.generation,
    ...(d.revision !== undefined ? { revision: d.revision } : {}),
    bundle: d.bundle,
    bundleUrl: o.bundleUrl,
    identityToken: o.identityToken,
    gatewaySecret: o.gatewaySecret,
    engine: d.runtime.engine,
    logLevel: d.runtime.logLevel,
    requestTimeoutSeconds: d.runtime.requestTimeoutSeconds,
    networkAccess: d.networkAccess,
    // Disabled with its replicas stopped, or scaled to zero while idle: none run (neither is a new
    // generation, so scaling back is not a rolling update).
    resources: d.disabled?.stopReplicas || d.sleeping ? { ...d.resources, replicas: 0 } : d.resources,
    env: { ...d.parameters, ...o.credentials },
    ...(d.runtime.io?.record ? { recordIO: { maxChars: d.runtime.io.maxChars, credentialNames: Object.keys(o.credentials).sort() } } : {}),
    ...(secretParameters.length > 0 ? { secretParameters } : {}),
    // Records stored before the setting existed have none: permissive, as they ran.
    ...(d.runtime.tweaksPolicy && d.runtime.tweaksPolicy !== "permissive" ? { tweaksPolicy: d.runtime.tweaksPolicy } : {}),
    maxBodyBytes: o.maxBodyBytes ?? DEFAULT_BODY_LIMIT_BYTES,
  };
}

/**
 * Maps a replica's identity token to the deployment it stands for: an HMAC token (local) or a
 * projected ServiceAccount token checked by a TokenReview (Kubernetes). Null: not a valid token.
 */
export interface IdentityVerifier {
  verify(token: string): Promise<string | null>;
}
