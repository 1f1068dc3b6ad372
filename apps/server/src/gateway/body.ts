import type { IncomingMessage } from "node:http";

/**
 * The request body, read whole before forwarding and bounded by the body limit: that makes the
 * limit exact (413 before a byte goes upstream) and lets a request whose connection was refused
 * be sent again to another replica. Answers, which can be long streams, are never buffered.
 */
export type BodyRead = Buffer | null | "too_large" | "aborted";

/** Whether the request declares a body at all (a length above 0, or chunked framing). */
export function hasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  return h["transfer-encoding"] !== undefined || (h["content-length"] !== undefined && h["content-length"] !== "0");
}

/** A declared length over the limit: refused on the headers, before `100 Continue` and before any byte is read. */
export function declaredTooLarge(req: IncomingMessage, limit: number): boolean {
  const declared = Number(req.headers["content-length"] ?? 0);
  return Number.isFinite(declared) && declared > limit;
}

/** Reads the body up to `limit` bytes: the bytes, null for none, `too_large` past the limit, `aborted` if the client left. */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyRead> | null {
  if (!hasBody(req)) return null;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        done("too_large");
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => done(size === 0 ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onAborted = () => done("aborted");
    const done = (r: BodyRead) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAborted);
      req.off("close", onAborted);
      resolve(r);
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onAborted);
    req.once("close", onAborted);
  });
}
