/**
 * Langflow's streamed run (`POST /api/v1/run/<flow>?stream=true`), as the playground reads it:
 * JSON events separated by a blank line (`{"event": "token", "data": {"chunk": ...}}`, then
 * `add_message`, `end` with the whole run response, or `error`). Pure functions, so the
 * reading of the wire format is one place.
 */
export interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Splits what has arrived so far into whole events and the unfinished rest. Lines that are not JSON are skipped. */
export function takeEvents(buffer: string): { events: StreamEvent[]; rest: string } {
  const parts = buffer.split("\n\n");
  const rest = parts.pop() ?? "";
  const events: StreamEvent[] = [];
  for (const p of parts) {
    const text = p.trim();
    if (!text) continue;
    try {
      const e = JSON.parse(text) as Partial<StreamEvent>;
      if (typeof e.event === "string") events.push({ event: e.event, data: (e.data ?? {}) as Record<string, unknown> });
    } catch {
      // not an event (a proxy's keep-alive comment, say): nothing to show
    }
  }
  return { events, rest };
}

/** The answer as it builds up: streamed tokens, then the final message text when the run ends. */
export interface Answer {
  text: string;
  done: boolean;
  error?: string;
}

/** The text of the first chat output in a Langflow run response (`outputs[0].outputs[0].results.message.text`). */
export function resultText(result: unknown): string | undefined {
  const r = result as { outputs?: { outputs?: { results?: { message?: { text?: unknown } }; messages?: { message?: unknown }[] }[] }[] } | undefined;
  for (const block of r?.outputs ?? []) {
    for (const o of block.outputs ?? []) {
      const t = o.results?.message?.text ?? o.messages?.[0]?.message;
      if (typeof t === "string") return t;
    }
  }
  return undefined;
}

export function applyEvent(a: Answer, e: StreamEvent): Answer {
  switch (e.event) {
    case "token":
      return typeof e.data.chunk === "string" ? { ...a, text: a.text + e.data.chunk } : a;
    case "end": {
      const final = resultText(e.data.result);
      return { ...a, text: final ?? a.text, done: true };
    }
    case "error":
      return { ...a, done: true, error: typeof e.data.error === "string" ? e.data.error : "the run failed" };
    default:
      return a;
  }
}

/** The message of an error answer: Langflow's `{detail}` (string or validation list), or flowplane's `{error: {message}}`. */
export function errorMessage(status: number, body: string): string {
  try {
    const j = JSON.parse(body) as { detail?: unknown; error?: { message?: unknown } };
    if (typeof j.detail === "string") return j.detail;
    if (Array.isArray(j.detail)) return j.detail.map((d: { msg?: string }) => d.msg ?? "").filter(Boolean).join("; ") || `HTTP ${status}`;
    if (j.detail && typeof (j.detail as { message?: unknown }).message === "string") return (j.detail as { message: string }).message;
    if (typeof j.error?.message === "string") return j.error.message;
  } catch {
    // not JSON
  }
  return `HTTP ${status}`;
}
