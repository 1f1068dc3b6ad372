import { Suspense, lazy, useCallback, useMemo, useState } from "react";
import type { DeploymentMetrics } from "@flowplane/core/api";
import { errorText } from "../api/client";
import { usePoll } from "../lib/poll";
import { useSession } from "../lib/session";
import type { ChartSeries } from "../ui/time-chart";
import { Section } from "./section";
import type { DeploymentRef } from "./use-patch";

// uPlot comes with this section, not with every page (like React Flow with the flow's graph).
const TimeChart = lazy(() => import("../ui/time-chart").then((m) => ({ default: m.TimeChart })));

/** How often the charts refresh while the page is visible (the sampler's period). */
const METRICS_POLL_MS = 10_000;

/**
 * The windows the section shows:
 * - `1h`: the last hour, 30-second points;
 * - `24h`: the last day, 10-minute points.
 */
type Window = "1h" | "24h";

const COLORS = { primary: "#4f46e5", bad: "#b42318", warn: "#8a4b00", ok: "#11703d", neutral: "#485164" };
const REPLICA_COLORS = ["#4f46e5", "#11703d", "#8a4b00", "#2446b5", "#b42318", "#485164"];

const perSecond = (step: number) => (xs: number[]) => xs.map((x) => x / step);
const num = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 0.01 || v === 0 ? v.toFixed(2) : "<0.01");
const ms = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(0)} s` : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(0)} ms`);
const mib = (v: number) => (v >= 2 ** 30 ? `${(v / 2 ** 30).toFixed(1)} GiB` : `${(v / 2 ** 20).toFixed(0)} MiB`);
const cores = (v: number) => `${(v * 1000).toFixed(0)}m`;
const lastOf = (xs: (number | null)[]) => [...xs].reverse().find((x) => x !== null) ?? null;

/** One chart with its title, a sentence of its figures for screen readers and everyone, and its canvas. */
function Chart({ title, summary, times, series, format }: { title: string; summary: string; times: number[]; series: ChartSeries[]; format: (v: number) => string }) {
  return (
    <figure className="metric-chart" aria-label={`${title}: ${summary}`}>
      <figcaption><strong>{title}</strong> <span className="muted small">{summary}</span></figcaption>
      <Suspense fallback={<div className="time-chart muted small">Loading the chart…</div>}>
        <TimeChart times={times} series={series} format={format} />
      </Suspense>
    </figure>
  );
}

function Unavailable({ title, reason }: { title: string; reason: string }) {
  return (
    <figure className="metric-chart">
      <figcaption><strong>{title}</strong></figcaption>
      <p className="muted small" data-unavailable>Not available: {reason}</p>
    </figure>
  );
}

/**
 * The deployment's metrics (issue #19 item 4) over the last hour or day: requests and errors,
 * latency percentiles (from the run history, per revision in the table), in-flight requests and
 * ready replicas, CPU and memory per replica (sampled by the driver's process). A series the
 * server cannot measure says so, with the reason.
 */
export function MetricsSection({ base }: { base: DeploymentRef }) {
  const s = useSession();
  const [window, setWindow] = useState<Window>("1h");
  const [m, setM] = useState<DeploymentMetrics | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const refresh = useCallback(async () => {
    try {
      setM(await s.api("getDeploymentMetrics", { params: base, query: { window } }));
      setFailure(null);
    } catch (e) {
      setFailure(errorText(e));
    }
  }, [s.api, base, window]);
  usePoll(refresh, METRICS_POLL_MS, [refresh]);

  const charts = useMemo(() => {
    if (!m) return null;
    const rate = perSecond(m.stepSeconds);
    const r = m.requests;
    const total = m.summary;
    return {
      requests: [
        { label: "requests/s", values: rate(r.requests), color: COLORS.primary },
        { label: "errors/s (4xx, 5xx)", values: rate(r.errors), color: COLORS.bad, dash: true },
      ],
      latency: [
        { label: "p50", values: r.p50, color: COLORS.ok },
        { label: "p95", values: r.p95, color: COLORS.warn },
        { label: "p99", values: r.p99, color: COLORS.bad, dash: true },
      ],
      load: [
        ...(m.inFlight.available ? [{ label: "in flight", values: m.inFlight.values, color: COLORS.primary }] : []),
        ...(m.replicasReady.available ? [{ label: "replicas ready", values: m.replicasReady.values, color: COLORS.ok, dash: true }] : []),
      ],
      cpu: m.replicas.available ? m.replicas.items.map((x, i) => ({ label: x.replica, values: x.cpuCores, color: REPLICA_COLORS[i % REPLICA_COLORS.length]! })) : [],
      memory: m.replicas.available ? m.replicas.items.map((x, i) => ({ label: x.replica, values: x.memoryBytes, color: REPLICA_COLORS[i % REPLICA_COLORS.length]! })) : [],
      summaries: {
        requests: `${total.requests} requests (${num(total.requestsPerSecond)}/s), ${total.errors} errors${total.serverErrors ? ` (${total.serverErrors} 5xx)` : ""}`,
        latency: total.p50 === null ? "no requests" : `p50 ${ms(total.p50)}, p95 ${ms(total.p95!)}, p99 ${ms(total.p99!)}`,
        load: `${total.inFlight ?? "–"} in flight, ${total.replicasReady ?? "–"} of ${total.replicasDesired} replicas ready`,
        cpu: total.cpuCores === null ? "no sample yet" : `${cores(total.cpuCores)} of a core in all, now`,
        memory: total.memoryBytes === null ? "no sample yet" : `${mib(total.memoryBytes)} in all, now`,
      },
    };
  }, [m]);

  const action = (
    <div className="section-action" role="group" aria-label="Time window">
      {(["1h", "24h"] as const).map((w) => (
        <button key={w} type="button" className={`button button-small${window === w ? " button-primary" : ""}`} aria-pressed={window === w} onClick={() => setWindow(w)}>
          {w === "1h" ? "Last hour" : "Last day"}
        </button>
      ))}
    </div>
  );

  return (
    <Section title="Metrics" action={action} className="metrics-section">
      {failure && <p className="notice notice-warn" role="alert">{failure}</p>}
      {!m || !charts ? <p className="muted">Loading metrics…</p> : (
        <>
          <div className="metric-grid">
            <Chart title="Requests" summary={charts.summaries.requests} times={m.times} series={charts.requests} format={num} />
            <Chart title="Latency" summary={charts.summaries.latency} times={m.times} series={charts.latency} format={ms} />
            {charts.load.length > 0
              ? <Chart title="In flight and replicas" summary={charts.summaries.load} times={m.times} series={charts.load} format={num} />
              : <Unavailable title="In flight and replicas" reason={m.inFlight.available ? "" : m.inFlight.reason} />}
            {m.replicas.available ? (
              <>
                <Chart title="CPU per replica" summary={charts.summaries.cpu} times={m.times} series={charts.cpu} format={cores} />
                <Chart title="Memory per replica" summary={charts.summaries.memory} times={m.times} series={charts.memory} format={mib} />
              </>
            ) : <Unavailable title="CPU and memory per replica" reason={m.replicas.reason} />}
          </div>
          {m.requests.revisions.length > 0 && (
            <div className="table-wrap" tabIndex={0} role="region" aria-label="Requests per revision (scrolls sideways)">
              <table className="table table-compact" aria-label={`Requests per revision, ${window === "1h" ? "last hour" : "last day"}`}>
                <thead><tr><th>Revision</th><th>Requests</th><th>Errors</th><th>5xx</th><th>Slowest p99 of a {m.stepSeconds >= 60 ? `${m.stepSeconds / 60}-minute` : `${m.stepSeconds}-second`} step</th></tr></thead>
                <tbody>
                  {m.requests.revisions.map((x) => {
                    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
                    const p99 = Math.max(...x.p99.filter((v): v is number => v !== null));
                    return (
                      <tr key={String(x.revision)} data-revision={x.revision ?? ""}>
                        <td>{x.revision ?? "–"}</td><td className="mono">{sum(x.requests)}</td><td className="mono">{sum(x.errors)}</td>
                        <td className="mono">{sum(x.serverErrors)}</td><td className="mono">{Number.isFinite(p99) ? ms(p99) : "–"}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          <p className="muted small">
            Requests, errors and latency come from the run history (they survive a restart); in-flight requests, replicas, CPU and memory are sampled
            every few seconds by the server and kept in its memory (a restart starts them afresh). Last point: {lastOf(m.requests.requests) ?? 0} requests in the current step.
          </p>
        </>
      )}
    </Section>
  );
}
