import { useEffect, useMemo, useState } from "react";
import { ApiError, errorText } from "../api/client";
import { DEPLOY_STEPS, type BundleVersion, type DeployStep, type FieldError } from "@flowplane/core/api";
import { useRouter } from "../lib/router";
import { atLeast, useSession } from "../lib/session";
import { Modal } from "../ui/modal";
import { Loading } from "../ui/states";
import { useToasts } from "../ui/toasts";
import { initialDraft, stepOfField, toRequest, touchedBy, visibleErrors, type Draft } from "./draft";
import { ConfigureStep } from "./step-configure";
import { CredentialsStep } from "./step-credentials";
import { ReviewStep } from "./step-review";
import { StepIndicator } from "./step-indicator";
import { TaskStep } from "./step-task";
import { useDryRun } from "./use-dry-run";

/**
 * The Deploy dialog (DESIGN 3). Each step is validated by the server alone (a dry run of that
 * step) and Next stays disabled until the server says the step is valid; its messages sit
 * beside the fields. Review validates everything; Deploy submits and opens the deployment.
 */
export function DeployDialog({ bundle, version: initialVersion, onClose }: { bundle: string; version: string; onClose: () => void }) {
  const s = useSession();
  const toasts = useToasts();
  const { navigate } = useRouter();
  const startProject = s.project && atLeast(s.roleIn(s.project.id), "editor") ? s.project.id : (s.projects.find((p) => atLeast(s.roleIn(p.id), "editor"))?.id ?? "");
  const [draft, setDraft] = useState<Draft>(() => initialDraft(bundle, initialVersion, startProject));
  const [step, setStep] = useState(0);
  const [reached, setReached] = useState(0);
  const [versions, setVersions] = useState<BundleVersion[]>([]);
  const [version, setVersion] = useState<BundleVersion | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [submitErrors, setSubmitErrors] = useState<FieldError[]>([]);
  const [submitting, setSubmitting] = useState(false);
  const [touched, setTouched] = useState<ReadonlySet<string>>(new Set());

  useEffect(() => {
    s.api("getBundle", { params: { name: bundle } }).then((b) => setVersions(b.versions), setLoadError);
  }, [s.api, bundle]);
  useEffect(() => {
    setVersion(null);
    s.api("getBundleVersion", { params: { name: bundle, tag: draft.version } }).then(setVersion, setLoadError);
  }, [s.api, bundle, draft.version]);

  const stepKey: DeployStep = DEPLOY_STEPS[step]!.step;
  const body = useMemo(() => toRequest(draft, version), [draft, version]);
  const check = useDryRun(s.api, draft.projectId, stepKey, body);
  const allErrors = [...(check.result?.errors ?? []), ...submitErrors.filter((e) => stepKey === "review" || stepOfField(e.field) === stepKey)];
  const errors = visibleErrors(allErrors, draft, touched, stepKey === "review");
  const flagged = new Set<DeployStep>(stepKey === "review" ? errors.map((e) => stepOfField(e.field)) : []);
  const set = (patch: Partial<Draft>) => {
    setSubmitErrors([]);
    setTouched((t) => new Set([...t, ...touchedBy(draft, patch)]));
    setDraft((d) => ({ ...d, ...patch }));
  };
  const go = (i: number) => {
    setStep(i);
    setReached((r) => Math.max(r, i));
  };

  const deploy = async () => {
    setSubmitting(true);
    try {
      const d = await s.api("createDeployment", { params: { projectId: draft.projectId }, body });
      if ("valid" in d) throw new Error("the server answered a dry run where a deployment was asked");
      toasts.success(`Deploying ${d.displayName}: it will be Ready in a moment`);
      if (s.project?.id !== d.projectId) s.setProject(d.projectId);
      onClose();
      navigate(`/estate/flows/${d.id}?project=${encodeURIComponent(d.projectId)}`);
    } catch (e) {
      if (e instanceof ApiError && e.details.length) setSubmitErrors(e.details);
      else toasts.error(e);
    } finally {
      setSubmitting(false);
    }
  };

  const last = step === DEPLOY_STEPS.length - 1;
  const canGo = check.valid && version !== null && !submitting;
  const status = check.failure
    ? <span className="check-status bad">{check.failure}</span>
    : check.checking
      ? <span className="check-status"><span className="spinner small" aria-hidden="true" /> Checking…</span>
      : check.valid
        ? <span className="check-status ok">{last ? "Ready to deploy" : "Looks good"}</span>
        : <span className="check-status bad">{last ? "Fix the flagged settings before deploying" : errors.length ? "Complete the highlighted fields" : "Fill in the required fields (*)"}</span>;

  return (
    <Modal wide title={<>Deploy <span className="title-accent">{bundle}</span></>} onClose={onClose}
      footer={
        <>
          <div className="footer-status" aria-live="polite">{status}</div>
          <div className="footer-buttons">
            <button type="button" className="button" onClick={step === 0 ? onClose : () => setStep(step - 1)}>{step === 0 ? "Cancel" : "Back"}</button>
            {last
              ? <button type="button" className="button button-primary" disabled={!canGo} onClick={() => void deploy()}>{submitting ? "Deploying…" : "Deploy"}</button>
              : <button type="button" className="button button-primary" disabled={!canGo} onClick={() => go(step + 1)}>Next</button>}
          </div>
        </>
      }>
      <StepIndicator current={step} reached={reached} onGo={go} flagged={flagged} />
      <h3 className="step-title">Step {step + 1} of {DEPLOY_STEPS.length}: {DEPLOY_STEPS[step]!.title}</h3>
      {loadError ? <p className="notice notice-error" role="alert">{errorText(loadError)}</p> : null}
      {!version && !loadError && <Loading what="the flow's parameters" />}
      {stepKey === "configure" && <ConfigureStep draft={draft} set={set} errors={errors} versions={versions} version={version} />}
      {version && stepKey === "credentials" && <CredentialsStep draft={draft} set={set} errors={errors} version={version} />}
      {version && stepKey === "task" && <TaskStep draft={draft} set={set} errors={errors} />}
      {version && stepKey === "review" && <ReviewStep draft={draft} version={version} errors={errors} onEdit={go} />}
      {errors.filter((e) => e.field === "").map((e) => <p key={e.message} className="notice notice-error" role="alert">{e.message}</p>)}
    </Modal>
  );
}
