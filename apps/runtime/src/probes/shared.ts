/** What the main thread and the probe thread share: the replica's readiness and a heartbeat. */
export interface ProbeWorkerData {
  host: string;
  port: number;
  /** Int32Array: [0] the status (index into PROBE_STATUS), [1] how many flows are loaded. */
  status: SharedArrayBuffer;
  /** BigInt64Array: [0] the main thread's last tick, in ms since the epoch. */
  heartbeat: SharedArrayBuffer;
  /** How long the main thread may stay silent before /health answers 503. */
  stallMs: number;
}

/**
 * The replica's readiness, as /ready names it:
 * - `loading`: downloading the bundle, loading flows;
 * - `ready`: serving;
 * - `draining`: SIGTERM received, finishing in-flight requests;
 * - `failed`: the engine stopped serving; the process is about to exit.
 */
export const PROBE_STATUS = ["loading", "ready", "draining", "failed"] as const;
export type ProbeStatus = (typeof PROBE_STATUS)[number];
