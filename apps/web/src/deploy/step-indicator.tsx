import { DEPLOY_STEPS, type DeployStep } from "@flowplane/core/api";

/**
 * The four steps as a list of buttons: the current one is marked, any step already reached
 * can be returned to (Back to any step), later ones are reached only through Next.
 */
export function StepIndicator({ current, reached, onGo, flagged }: { current: number; reached: number; onGo: (i: number) => void; flagged: Set<DeployStep> }) {
  return (
    <nav aria-label="Deploy steps">
      <ol className="steps">
        {DEPLOY_STEPS.map((s, i) => {
          const state = i === current ? "current" : i < current || i <= reached ? "done" : "todo";
          return (
            <li key={s.step} className={`step step-${state}${flagged.has(s.step) && i !== current ? " step-flagged" : ""}`}>
              <button type="button" disabled={i > reached} aria-current={i === current ? "step" : undefined} onClick={() => onGo(i)}>
                <span className="step-num" aria-hidden="true">{i + 1}</span>
                <span className="step-label">{s.title}</span>
                {flagged.has(s.step) && i !== current && <span className="sr-only"> (needs attention)</span>}
              </button>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}
