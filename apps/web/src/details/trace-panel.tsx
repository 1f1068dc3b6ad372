import { useEffect, useState } from "react";
import type { Deployment, Run, Trace } from "@flowplane/core/api";
import { errorText } from "../api/client";
import { useSession } from "../lib/session";
import { FlowGraphPanel } from "../ui/flow-graph-panel";
import type { DeploymentRef } from "./use-patch";

/** How often a run's trace is asked for while the replica has not sent it yet, and for how long. */
const TRACE_RETRY_MS = 1000;
const TRACE_RETRIES = 10;

const ms = (v: number) => (v < 10 ? `${v.toFixed(1)} ms` : v < 10_000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`);
const tokensText = (t: Trace["tokens"]) => (t ? `${t.input ?? "–"} in / ${t.output ?? "–"} out` : null);

/**
 * One run's trace (issue #19 item 2): a waterfall of its components (each bar placed at its
 * start within the run, as long as it took; the failed one red, with its error), and the flow's
 * graph with the same run overlaid. The trace comes from the replica shortly after the answer,
 * so a run just made may need a moment: asked again every second for a few seconds.
 */
export function TracePanel({ base, bundle, run }: { base: DeploymentRef; bundle: Deployment["bundle"]; run: Run }) {
  const s = useSession();
  const [trace, setTrace] = useState<Trace | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setTrace(null);
    setFailure(null);
    const load = (left: number) => {
      s.api("getRunTrace", { params: { ...base, runId: run.id } }).then((t) => live && setTrace(t), (e: unknown) => {
        if (!live) return;
        if (left > 0 && (e as { status?: number }).status === 404) timer = setTimeout(() => load(left - 1), TRACE_RETRY_MS);
        else setFailure(errorText(e));
      });
    };
    load(TRACE_RETRIES);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [s.api, base, run.id]);

  if (failure) return <p className="notice" role="status">No trace for this run: {failure}</p>;
  if (!trace) return <p className="muted" role="status"><span className="spinner small" aria-hidden="true" /> Loading the trace…</p>;
  const t0 = Date.parse(trace.start);
  const total = Math.max(trace.durationMs, ...trace.spans.map((sp) => Date.parse(sp.start) - t0 + sp.durationMs), 1);
  const spans = [...trace.spans].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const failed = spans.find((sp) => sp.status === "error");
  return (
    <div className="trace" data-trace-run={run.id}>
      <p className="trace-summary">
        <span className={`badge badge-${trace.status === "ok" ? "ok" : "bad"}`}>{trace.status === "ok" ? "completed" : "failed"}</span>{" "}
        {ms(trace.durationMs)} in the flow · {trace.spans.length} components · {trace.engine} engine
        {trace.revision !== null ? ` · revision ${trace.revision}` : ""}{tokensText(trace.tokens) ? ` · tokens ${tokensText(trace.tokens)}` : ""}
      </p>
      {failed && <p className="notice notice-error" role="alert">Failed in <strong>{failed.name}</strong> ({failed.componentType}): {failed.error}</p>}
      <ol className="waterfall" aria-label={`Trace of run ${run.id}: components by start time`}>
        {spans.map((sp) => {
          const left = ((Date.parse(sp.start) - t0) / total) * 100;
          const width = Math.max(0.8, (sp.durationMs / total) * 100);
          return (
            <li key={sp.componentId} className={`waterfall-row${sp.status === "error" ? " waterfall-error" : ""}`} data-component={sp.componentId} data-status={sp.status}>
              <span className="waterfall-name" title={sp.componentType}>{sp.name}</span>
              <span className="waterfall-track" aria-hidden="true">
                <span className="waterfall-bar" style={{ left: `${Math.min(left, 99)}%`, width: `${Math.min(width, 100 - Math.min(left, 99))}%` }} />
              </span>
              <span className="waterfall-time mono small">{ms(sp.durationMs)}{sp.tokens ? ` · ${tokensText(sp.tokens)}` : ""}</span>
            </li>
          );
        })}
      </ol>
      <TraceIO trace={trace} spans={spans} />
      <FlowGraphPanel name={bundle.name} tag={bundle.version} flowId={trace.flowId} trace={trace} />
    </div>
  );
}

/** A recorded value, as kept (already redacted and cut by the replica). */
function Value({ v }: { v: string | null | undefined }) {
  return v === null || v === undefined ? <span className="muted">none</span> : <pre className="io-value mono small">{v}</pre>;
}

/**
 * The run's input and answer and each component's inputs and outputs, when the deployment keeps
 * them (runtime.io); otherwise a line saying they are not kept and where to turn them on.
 */
function TraceIO({ trace, spans }: { trace: Trace; spans: Trace["spans"] }) {
  if (trace.input === undefined && trace.output === undefined) {
    return <p className="muted small">Inputs and outputs are not kept for this deployment (runtime setting "Keep inputs and outputs").</p>;
  }
  return (
    <section className="trace-io" aria-label="Inputs and outputs of this run">
      <h4>Inputs and outputs</h4>
      <p className="muted small">Credential values and access keys read [redacted]; long values are cut.</p>
      <dl className="io-run">
        <dt>Input</dt><dd><Value v={trace.input} /></dd>
        <dt>Output</dt><dd><Value v={trace.output} /></dd>
      </dl>
      {spans.filter((sp) => sp.inputs || sp.outputs).map((sp) => (
        <details key={sp.componentId} className="io-span" data-component={sp.componentId}>
          <summary>{sp.name} <span className="muted small">{sp.componentType}</span></summary>
          <dl>
            {Object.entries(sp.inputs ?? {}).map(([k, v]) => <div key={`in-${k}`} className="io-field"><dt>in · {k}</dt><dd><Value v={v} /></dd></div>)}
            {Object.entries(sp.outputs ?? {}).map(([k, v]) => <div key={`out-${k}`} className="io-field"><dt>out · {k}</dt><dd><Value v={v} /></dd></div>)}
          </dl>
        </details>
      ))}
    </section>
  );
}
