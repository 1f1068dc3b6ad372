import { useCallback, useEffect, useRef, useState } from "react";
import type { LogLine } from "@flowplane/core/api";
import { errorText } from "../api/client";
import { usePoll } from "../lib/poll";
import { useSession } from "../lib/session";
import { Section } from "./section";
import type { DeploymentRef } from "./use-patch";

/** How often the tail is read again, and how many lines of each replica it shows. */
const LOGS_POLL_MS = 2000;
const TAIL = 200;

/**
 * A live tail of the replicas' logs (probe lines filtered out by the server), merged by time,
 * each line with its replica. It re-reads the tail every two seconds while the page is visible,
 * so the replicas of a rolling restart appear as they start; a request id narrows it to one
 * call's lines. Paused, it stops reading.
 */
export function LogsSection({ base }: { base: DeploymentRef }) {
  const s = useSession();
  const [lines, setLines] = useState<LogLine[] | null>(null);
  const [requestId, setRequestId] = useState("");
  const [paused, setPaused] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const box = useRef<HTMLPreElement>(null);
  const wanted = /^[A-Za-z0-9._:-]{1,128}$/.test(requestId.trim()) ? requestId.trim() : undefined;

  const refresh = useCallback(async () => {
    if (paused) return;
    try {
      const page = await s.api("getDeploymentLogs", { params: base, query: { tail: TAIL, ...(wanted ? { requestId: wanted } : {}) } });
      setLines(page.items);
      setFailure(null);
    } catch (e) {
      setFailure(errorText(e));
    }
  }, [s.api, base, wanted, paused]);
  usePoll(refresh, LOGS_POLL_MS, [refresh]);

  // Stay at the bottom, as a tail does, unless the reader scrolled up.
  const count = lines?.length ?? 0;
  useEffect(() => {
    const el = box.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [count]);

  const action = (
    <span className="section-action">
      <input style={{ width: 180, height: 30 }} aria-label="Filter by request id" placeholder="request id" value={requestId} onChange={(e) => setRequestId(e.target.value)} />
      <button type="button" className="button button-small" onClick={() => setPaused((p) => !p)}>{paused ? "Resume" : "Pause"}</button>
    </span>
  );
  return (
    <Section title="Logs" action={action} className="logs-section">
      {failure && <p className="notice notice-warn" role="alert">{failure}</p>}
      <div className="code-block">
        <div className="code-bar"><span>{paused ? "paused" : "live"} · last {TAIL} lines per replica{wanted ? ` · request ${wanted}` : ""}</span></div>
        <pre ref={box} style={{ maxHeight: 360, overflowY: "auto" }} aria-label="Replica logs, oldest first" tabIndex={0} data-log-lines={count}>
          {lines === null ? "Loading…" : lines.length === 0 ? "No log lines." : lines.map((l) => `[${l.replica}] ${l.text}`).join("\n")}
        </pre>
      </div>
    </Section>
  );
}
