import { z } from "zod";
import { timeSchema } from "./common.js";

/**
 * A deployment's metrics over a recent window (issue #19 item 4; docs/metrics.md): requests,
 * errors and latency percentiles per revision from the run history, and what a sampler of the
 * process that runs the driver sees (in-flight requests, ready replicas, CPU and memory per
 * replica). Series are columns over the same `times`, ready for a chart.
 */

/**
 * The windows one can ask for:
 * - `5m`: the last five minutes (what `flowplane top` shows);
 * - `1h`: the last hour;
 * - `24h`: the last day.
 */
export const metricsWindowSchema = z.enum(["5m", "1h", "24h"], { error: "window must be 5m, 1h or 24h" });
export type MetricsWindow = z.infer<typeof metricsWindowSchema>;

export const METRICS_WINDOW_SECONDS: Record<MetricsWindow, number> = { "5m": 300, "1h": 3_600, "24h": 86_400 };
/** The step each window has unless the query names one: 30 to 150 points. */
export const DEFAULT_METRICS_STEP_SECONDS: Record<MetricsWindow, number> = { "5m": 10, "1h": 30, "24h": 600 };
/** The sampler's period: no step is finer. */
export const MIN_METRICS_STEP_SECONDS = 10;
/** At most this many points per series. */
export const MAX_METRICS_POINTS = 1_440;

const STEP_PATTERN = /^(\d{1,5})(s|m|h)$/;
/** A step's length in seconds (`30s`, `5m`, `1h`), or null when it is not one. */
export function stepSeconds(step: string): number | null {
  const m = STEP_PATTERN.exec(step);
  return m ? Number(m[1]) * { s: 1, m: 60, h: 3_600 }[m[2] as "s" | "m" | "h"] : null;
}

/**
 * The steps a query may name. Each (deployment, window, step) is one aggregate of the run
 * history, which the server reuses for a few seconds (a day's costs about half a second of the
 * database at the retention limit, and PGlite runs in the control plane's own process): with any
 * step allowed, a viewer asking `61s`, `62s`, `63s`... got a fresh aggregate each time, held the
 * control plane's database for every team and pushed everyone's reusable aggregates out. A
 * short list keeps them few.
 */
export const METRICS_STEPS_SECONDS: readonly number[] = [10, 15, 20, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400];
const STEPS_TEXT = "10s, 15s, 20s, 30s, 1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h, 3h, 6h, 12h or 24h";

export const metricsQuerySchema = z.object({
  window: metricsWindowSchema.optional(),
  step: z.string().refine((v) => stepSeconds(v) !== null, "step must be a duration such as 30s, 5m or 1h").optional(),
}).superRefine((q, ctx) => {
  const step = q.step === undefined ? null : stepSeconds(q.step);
  if (step === null) return;
  const window = METRICS_WINDOW_SECONDS[q.window ?? "1h"];
  if (step < MIN_METRICS_STEP_SECONDS) ctx.addIssue({ code: "custom", path: ["step"], message: `step must be at least ${MIN_METRICS_STEP_SECONDS}s` });
  else if (step > window) ctx.addIssue({ code: "custom", path: ["step"], message: "step must not be longer than the window" });
  else if (window / step > MAX_METRICS_POINTS) ctx.addIssue({ code: "custom", path: ["step"], message: `step is too short for the window: at most ${MAX_METRICS_POINTS} points` });
  else if (!METRICS_STEPS_SECONDS.includes(step)) ctx.addIssue({ code: "custom", path: ["step"], message: `step must be one of ${STEPS_TEXT}` });
});

const nullableNumbers = z.array(z.number().nullable());

/** Requests, errors and latency per bucket; a percentile is null in a bucket without requests. */
const requestSeriesShape = {
  requests: z.array(z.number().int()),
  errors: z.array(z.number().int()).meta({ description: "answered with a status from 400 up (the run history's status=error)" }),
  serverErrors: z.array(z.number().int()).meta({ description: "answered with a status from 500 up" }),
  p50: nullableNumbers.meta({ description: "median latency in ms" }),
  p95: nullableNumbers,
  p99: nullableNumbers,
};

/** What a sampler measured, or why nothing was. */
const unavailableSchema = z.strictObject({ available: z.literal(false), reason: z.string() });
const sampledSchema = z.discriminatedUnion("available", [
  z.strictObject({ available: z.literal(true), values: nullableNumbers.meta({ description: "per bucket: the mean of the samples in it; null where none was taken" }) }),
  unavailableSchema,
]);

export const deploymentMetricsSchema = z.strictObject({
  window: metricsWindowSchema,
  stepSeconds: z.number().int(),
  from: timeSchema,
  to: timeSchema,
  times: z.array(z.number().int()).meta({ description: "each bucket's start, in Unix seconds; every series has one value per time" }),
  requests: z.strictObject({
    ...requestSeriesShape,
    revisions: z.array(z.strictObject({ revision: z.number().int().nullable(), ...requestSeriesShape }))
      .meta({ description: "the same series for each revision that served a call in the window, oldest first" }),
  }).meta({ description: "from the run history (empty when it is off: FLOWPLANE_RUN_HISTORY)" }),
  inFlight: sampledSchema.meta({ description: "requests being proxied to the deployment, sampled" }),
  replicasReady: sampledSchema,
  replicas: z.discriminatedUnion("available", [
    z.strictObject({
      available: z.literal(true),
      items: z.array(z.strictObject({
        replica: z.string(),
        cpuCores: nullableNumbers.meta({ description: "CPU in cores (1 = one core busy)" }),
        memoryBytes: nullableNumbers.meta({ description: "resident memory (local: the process tree's RSS; Kubernetes: the working set)" }),
      })),
    }),
    unavailableSchema,
  ]).meta({ description: "CPU and memory per replica, sampled from the driver" }),
  summary: z.strictObject({
    requests: z.number().int(),
    requestsPerSecond: z.number(),
    errors: z.number().int(),
    serverErrors: z.number().int(),
    p50: z.number().nullable(),
    p95: z.number().nullable(),
    p99: z.number().nullable(),
    inFlight: z.number().nullable().meta({ description: "now; null when not measured" }),
    replicasReady: z.number().int().nullable(),
    replicasDesired: z.number().int(),
    cpuCores: z.number().nullable().meta({ description: "all replicas together, at the last sample" }),
    memoryBytes: z.number().nullable(),
  }).meta({ description: "the whole window (requests, errors, percentiles) and the latest samples" }),
}).meta({ id: "DeploymentMetrics" });
export type DeploymentMetrics = z.infer<typeof deploymentMetricsSchema>;
