import type { Deployment } from "@flowplane/core/api";
import { formatTime } from "../pages/bundle-bits";
import { Section } from "./section";

/** The conditions behind the phase (BundleResolved, SecretsApplied, RuntimeAvailable, Routed, ...). */
export function StatusSection({ d }: { d: Deployment }) {
  const conditions = d.status.conditions;
  return (
    <Section title="Status">
      {conditions.length === 0 ? <p className="muted">No conditions reported yet.</p> : (
        <ul className="conditions">
          {conditions.map((c) => (
            <li key={c.type} className={`condition condition-${c.status.toLowerCase()}`}>
              <span className="condition-mark" aria-hidden="true">{c.status === "True" ? "✓" : c.status === "False" ? "✕" : "…"}</span>
              <div>
                <div><strong>{c.type}</strong> <span className="muted small">{c.status === "True" ? "" : c.reason}</span><span className="sr-only"> is {c.status}</span></div>
                {c.message && <div className="small muted">{c.message}</div>}
                <div className="small muted">{formatTime(c.lastTransitionTime)}</div>
              </div>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}
