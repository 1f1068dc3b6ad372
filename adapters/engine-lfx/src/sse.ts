/**
 * Server-sent events as lfx serve's v2 workflow stream frames them: `id: <n>` and `data: <json>`
 * lines, a blank line between events. Each `data` payload is Langflow's `{event, data}` object.
 */
export interface LfxEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Parses one frame (the text between blank lines); null for frames without data (comments, keep-alives). */
export function parseFrame(frame: string): LfxEvent | null {
  const data = frame
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).replace(/^ /, ""))
    .join("\n");
  if (data.length === 0) return null;
  const parsed = JSON.parse(data) as unknown;
  if (typeof parsed !== "object" || parsed === null || typeof (parsed as { event?: unknown }).event !== "string") {
    throw new Error("lfx sent a stream event without an event name");
  }
  const { event, data: payload } = parsed as { event: string; data?: unknown };
  return { event, data: typeof payload === "object" && payload !== null ? (payload as Record<string, unknown>) : {} };
}

/** Reads events as they arrive, so tokens reach the caller while the model is still answering. */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<LfxEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, "\n");
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = parseFrame(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) yield event;
      end = buffer.indexOf("\n\n");
    }
  }
  const rest = parseFrame((buffer + decoder.decode()).trim());
  if (rest) yield rest;
}
