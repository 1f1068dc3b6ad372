import type { Api } from "../api/client";
import type { DeploymentRef } from "./use-patch";
import type { DeploymentEvent } from "@flowplane/core/api";
import { formatTime } from "../pages/bundle-bits";
import { Section } from "./section";

/** The event list is oldest first, a JSON array; X-Next-Cursor says more follow (at most 1,000 are read). */
export async function fetchEvents(api: Api, ref: DeploymentRef): Promise<DeploymentEvent[]> {
  const out: DeploymentEvent[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 5; i++) {
    let next: string | null = null;
    const page = await api("listDeploymentEvents", { params: ref, query: { limit: 200, cursor: cursor ?? undefined } }, (h) => (next = h.get("x-next-cursor")));
    out.push(...page);
    cursor = next;
    if (!cursor) break;
  }
  return out;
}

/** Newest first, warnings marked. */
export function EventsSection({ events }: { events: DeploymentEvent[] }) {
  const list = [...events].reverse();
  return (
    <Section title="Events">
      {list.length === 0 ? <p className="muted">No events yet.</p> : (
        <ol className="timeline" aria-label="Events, newest first" tabIndex={0}>
          {list.map((e, i) => (
            <li key={`${e.time}-${i}`} className={`timeline-item${e.type === "Warning" ? " warning" : ""}`}>
              <span className="timeline-dot" aria-hidden="true" />
              <div>
                <div className="timeline-head">
                  <strong>{e.reason}</strong>
                  {e.type === "Warning" && <span className="badge badge-warn">Warning</span>}
                  <time className="muted small" dateTime={e.time}>{formatTime(e.time)}</time>
                </div>
                <p className="timeline-msg">{e.message}</p>
              </div>
            </li>
          ))}
        </ol>
      )}
    </Section>
  );
}
