import type { Deployment } from "@flowplane/core/api";

const STAGES = [
  { phase: "Provisioning", text: "Creating its resources" },
  { phase: "Starting", text: "Replicas download the bundle and load the flows" },
  { phase: "Ready", text: "HTTP and MCP endpoints are live" },
] as const;

/** A new deployment's way to Ready, stage by stage, so the wait after Deploy has a visible shape. */
export function FirstRollout({ d }: { d: Deployment }) {
  const at = STAGES.findIndex((s) => s.phase === d.status.phase);
  if (d.deletionRequestedAt || at < 0 || at === STAGES.length - 1) return null;
  return (
    <ol className="first-rollout" aria-label="Progress to Ready">
      {STAGES.map((s, i) => (
        <li key={s.phase} className={i < at ? "done" : i === at ? "current" : "todo"} aria-current={i === at ? "step" : undefined}>
          <span className="stage-mark" aria-hidden="true">{i < at ? "✓" : i === at ? <span className="spinner small" /> : i + 1}</span>
          <span>
            <strong>{s.phase}</strong>
            <span className="small muted">{s.text}</span>
          </span>
        </li>
      ))}
    </ol>
  );
}
