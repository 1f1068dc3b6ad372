import type { ServerResponse } from "node:http";

/**
 * The answers made during one pass of the event loop, written one after the other when the pass
 * is over (a `setImmediate`, the check phase right after the loop's poll for I/O).
 *
 * Why (issue #16; docs/performance.md, session 53): under load Node handles, in one pass, every
 * connection that became readable, one after the other. Each answer written as soon as it was
 * made put a system call that wakes the caller (the gateway; the benchmark's load generator)
 * between every two requests' JavaScript: each write found the caller asleep and paid the
 * kernel's whole wake-up, and each request's JavaScript then ran on caches the kernel had just
 * used. Written together at the end of the pass, the first write wakes the caller and the next
 * ones find it awake, and the requests' JavaScript runs back to back. Measured on the benchmark's
 * engine floor at c16: about a third more runs a second for a quarter less CPU a run.
 *
 * Only whole answers made by `send` (routing.ts) wait, and only for the rest of the pass they
 * were made in; streams and MCP write as they go. Invariant: an answer queued here is ended in the
 * same turn of the loop, before it waits for I/O again; it waits meanwhile for whatever JavaScript
 * the rest of that pass runs (other requests' bodies parsed, runs' synchronous parts). The
 * response's head (status, headers) is fixed when it is queued (`headersSent`), so a drain's
 * `Connection: close` treats it as an answer already given, as before; but it is not on the wire
 * yet (Node's `_headerSent`). So when bytes Node cannot parse follow a request in the same read,
 * Node's own 400 (or 431) goes in place of that request's queued answer before it closes the
 * connection; a client that sends such bytes loses its connection either way, and no other
 * connection is touched. `res.writableEnded` is false until the end: `answered(res)` says
 * whether an answer was given.
 */
export class AnswerBatch {
  /** The responses queued in this pass, each with its body under QUEUED. */
  private queued: ServerResponse[] = [];

  private readonly flush = (): void => {
    const queued = this.queued;
    this.queued = [];
    // Each on its own: an end that throws here is no longer inside its request's handler (as it
    // was in send), it would be uncaught and leave the rest of the pass's answers unended.
    for (const res of queued) endQueued(res, (res as Batched)[QUEUED]!);
  };

  /** Ends `res` (its head written with writeHead) with `body` once this pass of the loop is over. */
  end(res: ServerResponse, body: string): void {
    // Once: a second end of one response would emit ERR_STREAM_WRITE_AFTER_END on it, an 'error'
    // nobody listens to (the process would exit).
    if (answered(res)) return;
    (res as Batched)[QUEUED] = body;
    if (this.queued.push(res) === 1) setImmediate(this.flush);
  }

  /** Makes `send`'s answers on `res` wait for the end of the pass (see the class). */
  adopt(res: ServerResponse): void {
    (res as Batched)[BATCH] = this;
  }
}

const BATCH = Symbol("answerBatch");
/** The body of an answer queued in the batch; set once, so it also says the answer is given. */
const QUEUED = Symbol("answerQueued");
type Batched = ServerResponse & { [BATCH]?: AnswerBatch; [QUEUED]?: string };

/** Ends a queued answer, whatever became of its response meanwhile. */
function endQueued(res: ServerResponse, body: string): void {
  // A response whose client left meanwhile ends as any late answer does: Node drops the write.
  // One ended meanwhile by other code (which checked writableEnded instead of answered()): its head
  // went without the body its Content-Length announced, so what follows on the connection would be
  // read as that body. The connection can no longer be trusted: closed.
  if (res.writableEnded) {
    res.req.socket?.destroy();
    return;
  }
  try {
    res.end(body);
  } catch (err) {
    res.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Ends `res` with `body`: in its batch when one adopted it, else at once. */
export function endAnswer(res: ServerResponse, body: string): void {
  const batch = (res as Batched)[BATCH];
  if (batch === undefined) res.end(body);
  else batch.end(res, body);
}

/** The response's answer is given: ended, or queued to end at the end of this pass. */
export const answered = (res: ServerResponse): boolean => res.writableEnded || (res as Batched)[QUEUED] !== undefined;
