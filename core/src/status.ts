// Phases are part of the API contract (./api/deployments.ts), documented there.
export { PHASES, type Phase } from "./api/deployments.js";
import type { Phase } from "./api/deployments.js";

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
