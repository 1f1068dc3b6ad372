import { useCallback, useState } from "react";
import type { Deployment, Run } from "@flowplane/core/api";
import { errorText } from "../api/client";
import { usePoll } from "../lib/poll";
import { useSession } from "../lib/session";
import { Section } from "./section";
import { TracePanel } from "./trace-panel";
import type { DeploymentRef } from "./use-patch";

/** How often the run list refreshes while the page is visible. */
const RUNS_POLL_MS = 3000;

/** A status as a colored badge: green 2xx, amber 4xx (the caller's mistake), red 5xx and 499 (the deployment's, or a client that gave up). */
function StatusBadge({ status }: { status: number }) {
  const kind = status >= 500 || status === 499 ? "bad" : status >= 400 ? "warn" : status >= 300 ? "info" : "ok";
  return <span className={`badge badge-${kind}`} data-status={status}>{status}</span>;
}

const time = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const routeOf = (r: Run) => (r.route === "mcp" ? `MCP${r.tool ? ` · ${r.tool}` : ""}` : r.flowId ? `HTTP · ${r.flowId}` : "HTTP");

/**
 * The deployment's recent runs (issue #19): every call through the gateway, newest first, with
 * its status, latency, caller (user and key id, never the key), session and error code.
 * Refreshed every few seconds; "errors only" narrows it to 4xx and 5xx. "Trace" opens a run's
 * trace under the table: its components as a waterfall and on the flow's graph.
 */
export function RunsSection({ base, bundle }: { base: DeploymentRef; bundle: Deployment["bundle"] }) {
  const s = useSession();
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [selected, setSelected] = useState<Run | null>(null);
  const [errorsOnly, setErrorsOnly] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const refresh = useCallback(async () => {
    try {
      const page = await s.api("listRuns", { params: base, query: { limit: 25, ...(errorsOnly ? { status: "error" } : {}) } });
      setRuns(page.items);
      setFailure(null);
    } catch (e) {
      setFailure(errorText(e));
    }
  }, [s.api, base, errorsOnly]);
  usePoll(refresh, RUNS_POLL_MS, [refresh]);

  const action = (
    <label className="section-action small">
      <input type="checkbox" checked={errorsOnly} onChange={(e) => setErrorsOnly(e.target.checked)} /> Errors only
    </label>
  );
  return (
    <Section title="Runs" action={action} className="runs-section">
      {failure && <p className="notice notice-warn" role="alert">{failure}</p>}
      {runs === null ? <p className="muted">Loading runs…</p> : runs.length === 0 ? (
        <p className="muted">{errorsOnly ? "No failed runs." : "No runs yet: calls through the gateway appear here within a few seconds."}</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Recent runs (scrolls sideways)">
          <table className="table table-compact" aria-label="Recent runs, newest first">
            <thead>
              <tr><th>Time</th><th>Status</th><th>Latency</th><th>Route</th><th>Caller</th><th>Session</th><th>Error</th><th><span className="sr-only">Trace</span></th></tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.id} data-run={r.id} title={`request id ${r.requestId}`} className={selected?.id === r.id ? "row-selected" : undefined}>
                  <td><time dateTime={r.time}>{time(r.time)}</time></td>
                  <td><StatusBadge status={r.status} /></td>
                  <td className="mono">{Math.round(r.latencyMs)} ms</td>
                  <td>{routeOf(r)}</td>
                  <td className="mono small" title={`user ${r.caller.userId ?? "-"}, key ${r.caller.keyId ?? "-"}`}>{(r.caller.keyId ?? r.caller.userId ?? "-").slice(0, 8)}</td>
                  <td className="mono small">{r.sessionId ?? "–"}</td>
                  <td className="mono small">{r.error?.code ?? ""}</td>
                  <td>
                    {r.flowId !== null && (
                      <button type="button" className="button button-small" aria-pressed={selected?.id === r.id}
                        aria-label={`Trace of the run at ${time(r.time)}`} onClick={() => setSelected(selected?.id === r.id ? null : r)}>Trace</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {selected && <TracePanel base={base} bundle={bundle} run={selected} />}
    </Section>
  );
}
