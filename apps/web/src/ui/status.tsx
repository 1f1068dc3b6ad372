import type { Deployment, Phase } from "@flowplane/core/api";

/** The phase as a coloured pill; phases in motion get a pulsing dot. */
const TONE: Record<Phase | "Undeployed", string> = {
  Provisioning: "progress",
  Starting: "progress",
  Updating: "progress",
  Ready: "ok",
  Degraded: "warn",
  Failed: "bad",
  Deleting: "muted",
  Disabled: "bad",
  Idle: "muted",
  Undeployed: "muted",
};

export function phaseOf(d: Deployment): Phase | "Undeployed" {
  return d.deletedAt ? "Undeployed" : d.status.phase;
}

export function StatusPill({ phase }: { phase: Phase | "Undeployed" }) {
  const tone = TONE[phase];
  return (
    <span className={`pill pill-${tone}`} data-phase={phase}>
      <span className={`dot${tone === "progress" ? " pulse" : ""}`} aria-hidden="true" />
      {phase}
    </span>
  );
}

/** "1/2" ready replicas of the desired count. */
export function Replicas({ d }: { d: Deployment }) {
  const desired = d.deletionRequestedAt || d.disabled?.stopReplicas ? 0 : d.resources.replicas;
  return (
    <span className="replicas" aria-label={`${d.status.readyReplicas} of ${desired} replicas ready`}>
      {d.status.readyReplicas}/{desired}
    </span>
  );
}
