/**
 * A deployment's phase, as DESIGN section 4 defines it:
 * - `Provisioning`: the deployment is accepted; its resources are being created.
 * - `Starting`: runtime replicas exist; they are downloading the bundle or loading flows.
 * - `Ready`: as many ready replicas as asked; HTTP and MCP endpoints are live.
 * - `Updating`: a rolling change is in progress; the old replicas keep serving.
 * - `Degraded`: serving, but with fewer ready replicas than asked (e.g. a crash loop).
 * - `Failed`: nothing can serve; the `RuntimeAvailable` condition's reason and message say why.
 * - `Deleting`: undeploy in progress; then the runtime is gone and the record stays for audit.
 */
export type Phase = "Provisioning" | "Starting" | "Ready" | "Updating" | "Degraded" | "Failed" | "Deleting";

export const PHASES: readonly Phase[] = ["Provisioning", "Starting", "Ready", "Updating", "Degraded", "Failed", "Deleting"];

export type ConditionStatus = "True" | "False" | "Unknown";

/** Kubernetes-style condition (BundleResolved, SecretsApplied, RuntimeAvailable, Routed, ...). */
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface DeploymentStatus {
  phase: Phase;
  observedGeneration: number;
  readyReplicas: number;
  conditions: Condition[];
}

/** `Normal` for progress, `Warning` for trouble, as Kubernetes events. */
export type EventType = "Normal" | "Warning";

export interface DeploymentEvent {
  time: string;
  type: EventType;
  reason: string;
  message: string;
}

export function initialStatus(): DeploymentStatus {
  return { phase: "Provisioning", observedGeneration: 0, readyReplicas: 0, conditions: [] };
}
