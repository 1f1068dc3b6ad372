import type { StreamEvent } from "@flowplane/core";
import type { FastifyReply } from "fastify";

/**
 * Langflow's event framing: each event a bare JSON object followed by a blank line, sent as it
 * happens (no buffering), under `text/event-stream` as Langflow declares it.
 */
export function openStream(reply: FastifyReply): { send(e: StreamEvent): void; end(): void; closed: AbortSignal } {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
  const gone = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) gone.abort();
  });
  return {
    send(e) {
      if (!res.writableEnded) res.write(`${JSON.stringify(e)}\n\n`);
    },
    end() {
      if (!res.writableEnded) res.end();
    },
    closed: gone.signal,
  };
}
