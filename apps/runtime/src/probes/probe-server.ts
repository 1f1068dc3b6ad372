import { Worker } from "node:worker_threads";
import { PROBE_STATUS, type ProbeStatus, type ProbeWorkerData } from "./shared.js";

/**
 * `/health` and `/ready` on a port and a thread of their own (FLOWPLANE_PROBE_PORT). On the
 * main port they share the event loop with the flows: the native engine runs flows on that
 * thread, so under load (many in-flight runs, or one long synchronous step) a probe waited
 * behind them, past the driver's timeout, and a serving replica was marked not ready. The
 * probe thread answers from shared memory instead. The main thread publishes its status at
 * every change and ticks a heartbeat; `/health` fails only when that heartbeat stops for
 * `stallMs` (a stuck main thread, which a restart cures), never because it is busy.
 */
export interface ProbeServer {
  /** `http://host:port` of the probe listener. */
  url: string;
  publish(status: ProbeStatus, flows: number): void;
  close(): Promise<void>;
}

const TICK_MS = 250;

export async function startProbeServer(o: { host: string; port: number; stallMs: number }): Promise<ProbeServer> {
  const status = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
  const heartbeat = new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT);
  const state = new Int32Array(status);
  const beat = new BigInt64Array(heartbeat);
  const tick = () => Atomics.store(beat, 0, BigInt(Date.now()));
  tick();
  const data: ProbeWorkerData = { host: o.host, port: o.port, status, heartbeat, stallMs: o.stallMs };
  const worker = new Worker(new URL("./probe-worker.js", import.meta.url), { workerData: data });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("message", (m: { port?: number; error?: string }) => (m.port !== undefined ? resolve(m.port) : reject(new Error(`probe listener: ${m.error}`))));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`probe listener exited (${code})`)));
  });
  worker.unref();
  const timer = setInterval(tick, TICK_MS);
  timer.unref();
  const host = o.host.includes(":") ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}`,
    publish(s, flows) {
      Atomics.store(state, 0, PROBE_STATUS.indexOf(s));
      Atomics.store(state, 1, flows);
    },
    async close() {
      clearInterval(timer);
      // The worker is unref'd: ask it to stop and wait for it with a timer that keeps the loop alive.
      worker.ref();
      worker.postMessage("close");
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((r) => worker.once("exit", r)), new Promise((r) => { timeout = setTimeout(r, 1000); })]);
      clearTimeout(timeout);
      await worker.terminate();
    },
  };
}
