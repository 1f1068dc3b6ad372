import { useId, useRef, useState, type FormEvent } from "react";
import type { BundleVersion, Deployment } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { useFlowPicker } from "./flow-picker";
import { Section } from "./section";
import { applyEvent, errorMessage, takeEvents, type Answer } from "./playground-stream";

interface Turn {
  input: string;
  answer: Answer;
  /** The gateway's request id of the call: what `flowplane logs --request` and the runs list show. */
  requestId?: string;
  revision?: string;
}

/**
 * A conversation id for Langflow's `session_id`. From getRandomValues, which (unlike
 * randomUUID) also exists on a page served over plain HTTP to another machine.
 */
function newSessionId(): string {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return `playground-${Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * The path of the deployment's HTTP route, called on this page's own origin: the UI is served
 * by the listener that also serves public routes, so the call is same-origin (no CORS), whatever
 * host name the user typed.
 */
function routePath(url: string): string {
  try {
    return new URL(url).pathname.replace(/\/$/, "");
  } catch {
    return url;
  }
}

/**
 * Try the deployment from its page: pick a flow, type a message, read the answer as it streams.
 * It calls the deployment through the gateway like any client (Langflow's `/api/v1/run`, with
 * the signed-in user's key), so what works here works for callers; turns share a session id,
 * so flows with memory see the conversation.
 */
export function PlaygroundSection({ d, version }: { d: Deployment; version: BundleVersion | null }) {
  const s = useSession();
  const inputId = useId();
  const flows = version?.flows ?? [];
  const { flow, picker } = useFlowPicker(flows);
  const [input, setInput] = useState("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [busy, setBusy] = useState(false);
  const [sessionId, setSessionId] = useState(newSessionId);
  const abort = useRef<AbortController | null>(null);

  const blocked = d.networkAccess === "private"
    ? "This deployment is private: it is served only on the internal gateway listener, which this page cannot reach."
    : d.disabled ? "This deployment is disabled: calls are answered 503 until it is enabled."
      : d.deletedAt || d.deletionRequestedAt ? "This deployment is undeployed."
        : d.status.readyReplicas === 0 ? "The playground is available once the deployment has a ready replica." : undefined;

  const update = (i: number, f: (t: Turn) => Turn) => setTurns((ts) => ts.map((t, j) => (j === i ? f(t) : t)));

  async function send(e: FormEvent) {
    e.preventDefault();
    const text = input.trim();
    if (!text || !flow || busy) return;
    const index = turns.length;
    setTurns((ts) => [...ts, { input: text, answer: { text: "", done: false } }]);
    setInput("");
    setBusy(true);
    const ctl = new AbortController();
    abort.current = ctl;
    try {
      const r = await s.gatewayFetch(`${routePath(d.endpoints.http)}/api/v1/run/${encodeURIComponent(flow.id)}?stream=true`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ input_value: text, input_type: "chat", output_type: "chat", session_id: sessionId }),
        signal: ctl.signal,
      });
      const requestId = r.headers.get("x-request-id") ?? undefined;
      const revision = r.headers.get("x-flowplane-revision") ?? undefined;
      update(index, (t) => ({ ...t, ...(requestId ? { requestId } : {}), ...(revision ? { revision } : {}) }));
      if (!r.ok || !r.body) {
        const message = errorMessage(r.status, await r.text());
        update(index, (t) => ({ ...t, answer: { ...t.answer, done: true, error: message } }));
        return;
      }
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const { events, rest } = takeEvents(buffer + value);
        buffer = rest;
        if (events.length) update(index, (t) => ({ ...t, answer: events.reduce(applyEvent, t.answer) }));
      }
      update(index, (t) => (t.answer.done ? t : { ...t, answer: { ...t.answer, done: true, ...(t.answer.text ? {} : { error: "the stream ended without an answer" }) } }));
    } catch (err) {
      const message = ctl.signal.aborted ? "stopped" : `the call failed: ${err instanceof Error ? err.message : String(err)}`;
      update(index, (t) => ({ ...t, answer: { ...t.answer, done: true, error: message } }));
    } finally {
      setBusy(false);
      abort.current = null;
    }
  }

  const restart = () => {
    abort.current?.abort();
    setTurns([]);
    setSessionId(newSessionId());
  };

  return (
    <Section title="Playground" className="playground">
      <p className="muted small">
        Calls this deployment through the gateway with your key, as a client would (Langflow&apos;s <code>/api/v1/run</code>, streamed).
        The turns below share one session id, <code data-session-id>{sessionId}</code>, so flows with chat memory see the conversation.
      </p>
      {blocked && <p className="notice notice-info" role="status">{blocked}</p>}
      {turns.length > 0 && (
        <ol className="chat" aria-label="Conversation" aria-live="polite">
          {turns.map((t, i) => (
            <li key={i} className="chat-turn">
              <p className="chat-user"><span className="sr-only">You: </span>{t.input}</p>
              <div className={`chat-answer${t.answer.error ? " chat-error" : ""}`} data-answer={t.answer.done ? "done" : "streaming"}>
                <span className="sr-only">Answer: </span>
                {t.answer.text || (!t.answer.done ? <span className="muted">…</span> : null)}
                {t.answer.error && <p role="alert">{t.answer.error}</p>}
              </div>
              {(t.requestId || t.revision) && (
                <p className="muted small mono chat-meta">
                  {t.requestId && <>request {t.requestId}</>}{t.revision && <> · revision {t.revision}</>}
                </p>
              )}
            </li>
          ))}
        </ol>
      )}
      <form className="form playground-form" onSubmit={(e) => void send(e)}>
        {picker}
        <div className="field">
          <label htmlFor={inputId}>Message{flow && flows.length === 1 ? <span className="muted"> to {flow.name}</span> : null}</label>
          <textarea id={inputId} rows={2} value={input} disabled={blocked !== undefined} maxLength={20_000}
            onChange={(e) => setInput(e.target.value)}
            onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); e.currentTarget.form?.requestSubmit(); } }} />
        </div>
        <div className="form-actions">
          <button type="button" className="button" onClick={restart} disabled={turns.length === 0}>New conversation</button>
          <button type="submit" className="button button-primary" disabled={blocked !== undefined || busy || !input.trim() || !flow}>{busy ? "Running…" : "Send"}</button>
        </div>
      </form>
    </Section>
  );
}
