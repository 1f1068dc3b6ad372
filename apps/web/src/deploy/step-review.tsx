import type { ReactNode } from "react";
import type { BundleVersion, FieldError } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { Icon } from "../ui/icons";
import { DEPLOY_STEPS } from "@flowplane/core/api";
import { credentialFields, LIMIT_FIELDS, secretParameters, TWEAKS_CHOICES, type Draft } from "./draft";

const MASK = "••••••••";

/** "5/s (burst 10), 3 concurrent", or "none", from the fields as typed. */
function limitsText(rate: string, burst: string, concurrent: string): string {
  const parts: string[] = [];
  if (rate.trim()) parts.push(`${rate.trim()}/s${burst.trim() ? ` (burst ${burst.trim()})` : ""}`);
  else if (burst.trim()) parts.push(`burst ${burst.trim()}`);
  if (concurrent.trim()) parts.push(`${concurrent.trim()} concurrent`);
  return parts.length ? parts.join(", ") : "none";
}

/** Step 4: every setting of steps 1..3, credentials masked and a missing one flagged; Edit returns to a step. */
export function ReviewStep({ draft, version, errors, onEdit }: { draft: Draft; version: BundleVersion | null; errors: FieldError[]; onEdit: (step: number) => void }) {
  const s = useSession();
  const project = s.projects.find((p) => p.id === draft.projectId);
  const params = version?.parameters ?? [];
  const err = (f: string) => errors.find((e) => e.field === f)?.message;
  const secret = secretParameters(draft, version);
  const plainRow = (p: (typeof params)[number]): [ReactNode, ReactNode, string?] => {
    // Kept secret: masked like a credential; left empty, the published default applies (in the clear, as any default).
    if (secret.includes(p.name) && draft.credentials[p.name]) {
      return [<><Icon name="lock" size={12} /> {p.name}</>, <span className="mono" aria-label="set, hidden">{MASK}</span>, err(`credentials.${p.name}`)];
    }
    const v = draft.parameters[p.name] ?? p.default ?? "";
    return [p.name, v === "" ? <em className="muted">empty</em> : <span className="mono">{v}</span>, err(`parameters.${p.name}`)];
  };
  const section = (i: number, rows: [ReactNode, ReactNode, string?][]) => (
    <section className="review-section" aria-labelledby={`review-${i}`}>
      <header>
        <h3 id={`review-${i}`}>{i + 1}. {DEPLOY_STEPS[i]!.title}</h3>
        <button type="button" className="button button-small button-ghost" onClick={() => onEdit(i)} aria-label={`Edit ${DEPLOY_STEPS[i]!.title}`}>Edit</button>
      </header>
      <dl className="review-list">
        {rows.map(([k, v, e], j) => (
          <div key={j} className={e ? "review-row invalid" : "review-row"}>
            <dt>{k}</dt>
            <dd>{v}{e && <span className="field-error inline">{e}</span>}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
  return (
    <div className="review">
      {section(0, [
        ["Display Name", draft.displayName || <em className="muted">not set</em>, err("displayName")],
        ["Project", project?.name ?? draft.projectId],
        ["Flow", <><strong>{draft.bundle}</strong> <span className="tag">{draft.version}</span></>, err("bundle.version") ?? err("bundle.name")],
        ["Network Access Type", draft.networkAccess === "public" ? "Public" : "Private", err("networkAccess")],
        ["Engine", draft.engine === "auto" && version ? `Auto (${version.compatibility.recommendedEngine})` : draft.engine, err("runtime.engine")],
        ["Log level", draft.logLevel, err("runtime.logLevel")],
        ["Request timeout", `${draft.timeout} s`, err("runtime.requestTimeoutSeconds")],
        ["Tweaks", TWEAKS_CHOICES[draft.tweaksPolicy].label, err("runtime.tweaksPolicy")],
        ["Rate limits (deployment)", limitsText(draft.rateLimit, draft.burst, draft.maxConcurrent), LIMIT_FIELDS.filter((f) => f.scope === "deployment").map((f) => err(`runtime.limits.deployment.${f.field}`)).find(Boolean)],
        ["Rate limits (per key)", limitsText(draft.keyRateLimit, draft.keyBurst, draft.keyMaxConcurrent), LIMIT_FIELDS.filter((f) => f.scope === "perKey").map((f) => err(`runtime.limits.perKey.${f.field}`)).find(Boolean)],
        ["Scale to zero", draft.idleMinutes.trim() ? `after ${draft.idleMinutes.trim()} min idle (wake timeout ${draft.wakeTimeout} s)` : "off",
          err("runtime.scaleToZero.idleMinutes") ?? err("runtime.scaleToZero.wakeTimeoutSeconds")],
        ["Inputs and outputs", draft.recordIO ? `kept with traces, each value cut to ${draft.ioMaxChars.trim()} characters, credentials redacted` : "not kept",
          err("runtime.io.record") ?? err("runtime.io.maxChars")],
      ])}
      {section(1, params.length === 0 ? [["Parameters", <span className="muted">none</span>]] : [
        // In the step's own order: model choices, credentials (with each chosen provider's key), plain values.
        ...params.filter((p) => p.kind === "model").map(plainRow),
        ...(version ? credentialFields(draft, version) : []).map((c): [ReactNode, ReactNode, string?] => {
          const missing = !draft.credentials[c.name];
          return [
            <><Icon name="lock" size={12} /> {c.name}</>,
            missing ? <span className="flag-missing"><Icon name="alert" size={14} /> Missing: a value is required</span> : <span className="mono" aria-label="set, hidden">{MASK}</span>,
            missing ? undefined : err(`credentials.${c.name}`),
          ];
        }),
        ...params.filter((p) => p.kind === "plain").map(plainRow),
      ])}
      {section(2, [
        ["Replicas", draft.replicas, err("resources.replicas")],
        ["CPU request / limit", `${draft.cpuRequest} / ${draft.cpuLimit}`, err("resources.cpu.request") ?? err("resources.cpu.limit")],
        ["Memory request / limit", `${draft.memoryRequest} / ${draft.memoryLimit}`, err("resources.memory.request") ?? err("resources.memory.limit")],
      ])}
    </div>
  );
}
