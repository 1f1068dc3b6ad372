import { createServer } from "node:net";

/**
 * Waits until `port` can be bound on `host` (binding it and letting it go at once), retrying
 * every 100 ms for up to `timeoutMs`; then rejects with the last error (EADDRINUSE).
 *
 * Why here, in the control plane, and not as a retry in each worker: a worker's `listen` goes
 * through node:cluster, which names each listen attempt by a per-process counter; a worker that
 * retried would ask for a different shared handle than its siblings', and the control plane
 * would then bind the port a second time, against itself: EADDRINUSE for ever. So the workers
 * listen exactly once, after this check, and all share one handle. What can hold the port for
 * a moment: the workers of a control plane killed just before (they leave when their channel
 * closes, or when they find themselves orphaned: worker.ts), still on their way out.
 */
export async function waitUntilBindable(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      await new Promise<void>((resolve, reject) => {
        const s = createServer();
        s.once("error", reject);
        s.listen({ host, port, exclusive: true }, () => s.close(() => resolve()));
      });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || performance.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
