import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Makes `res` emit `close` when its connection closes, even before Node gave it the connection.
 *
 * A request pipelined behind an answer still going out has no socket yet: Node gives its answer
 * the connection when the one before ends, and when the connection closes first it never emits
 * that answer's `close`. Whatever waits for that `close` to let go of what the request holds (the
 * gateway's concurrency slots, scale-to-zero activity and in-flight counts; the body budget's
 * room) then held it for the life of the process: a caller who pipelined requests behind a slow
 * one and hung up kept it for good. The connection's close now ends such an answer as it ends the
 * answer under way: destroyed (whatever writes it stops), then `close`. An answer that already
 * has its connection is left to Node, which emits its `close` itself.
 */
export function closeWithConnection(req: IncomingMessage, res: ServerResponse): void {
  if (res.socket) return;
  const socket = req.socket;
  const gone = () => {
    res.destroy();
    res.emit("close");
  };
  socket.once("close", gone);
  res.once("socket", () => socket.off("close", gone));
}
