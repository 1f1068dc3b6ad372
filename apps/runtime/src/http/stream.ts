import type { StreamEvent } from "@flowplane/core/replica";
import type { ServerResponse } from "node:http";

/**
 * Langflow's event framing: each event a bare JSON object followed by a blank line, sent as it
 * happens (no buffering), under `text/event-stream` as Langflow declares it.
 */
export function openStream(res: ServerResponse): { send(e: StreamEvent): void; end(): void; closed: AbortSignal } {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
  const closed = clientLeft(res);
  return {
    send(e) {
      if (!res.writableEnded) res.write(`${JSON.stringify(e)}\n\n`);
    },
    end() {
      if (!res.writableEnded) res.end();
    },
    closed,
  };
}

/** Aborted when the client goes before its answer is finished: a stream's runs are cancelled by it (context.ts RunCanceller). */
function clientLeft(res: ServerResponse): AbortSignal {
  const gone = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) gone.abort();
  });
  return gone.signal;
}
