import type { RunTokens } from "./runs.js";

/**
 * Traces (issue #19 item 2): what each component of a flow did during one run. The replica's
 * engine reports one span per component as it ends (native from its executor, lfx from
 * Langflow's own vertex build events); the runtime host makes them a RunTrace, keyed by the
 * gateway's request id, and sends it to the control plane off the response path, where it is
 * stored beside the run with that request id and, when configured, exported over OTLP.
 * Never a header or a parameter value: names, times, statuses, error messages (which the
 * engines already keep free of parameter values) and token counts; and inputs and outputs only
 * when the deployment opts in (runtime.io), redacted and cut by the replica (io-capture.ts).
 */

/**
 * How a span ended:
 * - `ok`: the component produced its outputs;
 * - `error`: it raised (its `error` says why); the run failed there.
 */
export type SpanStatus = "ok" | "error";

/** One component's part in a run. */
export interface ComponentSpan {
  /** The node id in the flow (what the flow graph draws). */
  componentId: string;
  /** The component type (`ChatInput`, `OpenAIModel`, ...). */
  componentType: string;
  /** Its display name in the flow. */
  name: string;
  /** When it started building (ISO 8601, milliseconds). */
  start: string;
  durationMs: number;
  status: SpanStatus;
  /** The failure's message (at most MAX_SPAN_ERROR characters), else null. */
  error: string | null;
  /** Token counts when the model this component called reported them. */
  tokens: RunTokens | null;
  /** Its inputs by field name, as text (redacted, cut): only when the deployment keeps inputs and outputs. */
  inputs?: Record<string, string>;
  /** Its outputs by output name, as text (redacted, cut): only when the deployment keeps inputs and outputs. */
  outputs?: Record<string, string>;
}

/** A component's inputs (by field) and outputs (by output name) as the engine has them, before the replica redacts and cuts them. */
export interface SpanIO {
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

/** Where an engine reports each component's span as it ends (EngineRunRequest.trace). */
export interface SpanSink {
  /** True when the deployment keeps inputs and outputs: the engine then passes each span's SpanIO (and only then gathers it). */
  readonly io?: boolean;
  span(span: ComponentSpan, io?: SpanIO): void;
}

/**
 * Which engine ran the flow:
 * - `native`: flowplane's in-process executor;
 * - `lfx`: Langflow's own executor behind the runtime host.
 */
export type TraceEngine = "native" | "lfx";

/** A run's trace as the replica sends it. */
export interface RunTrace {
  /** The gateway's `x-request-id`: the key that joins the trace to its run. */
  requestId: string;
  flowId: string;
  /** The deployment revision the replica runs; null for a replica started by hand. */
  revision: number | null;
  engine: TraceEngine;
  start: string;
  durationMs: number;
  status: SpanStatus;
  /** The run's error message when it failed, else null. */
  error: string | null;
  /** The sum of the spans' token counts; null when no component reported any. */
  tokens: RunTokens | null;
  /** In the order the components ended. */
  spans: ComponentSpan[];
  /** The run's input and its answer, as text (redacted, cut): only when the deployment keeps inputs and outputs. */
  input?: string | null;
  output?: string | null;
}

export { MAX_BODY_WAIT_MS, MAX_IO_FIELDS, MAX_SPAN_ERROR, MAX_SPANS_PER_TRACE, MAX_TRACES_PER_BATCH } from "./api/trace-bounds.js";

/** What a stored trace's row costs beside its text (times, numbers, the row's and its index entries' headers). */
const TRACE_ROW_BYTES = 200;

/**
 * What a trace counts against its deployment's byte budget (FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT):
 * its JSON in UTF-8 bytes (spans, inputs and outputs, errors: what the row holds) plus a row's
 * overhead. The store records it with the row (run_traces.bytes) and the control plane measures
 * it before the INSERT, the same function on both sides, so a trace the ingest lets through is
 * never, on its own, over the budget the store trims to.
 */
export function traceBytes(t: RunTrace): number {
  return Math.max(MIN_TRACE_BYTES, Buffer.byteLength(JSON.stringify(t), "utf8") + TRACE_ROW_BYTES);
}

/**
 * What a trace counts at least, so that a budget also bounds a deployment's rows: 65,536 at the
 * default 256 MiB. Counted at its size alone, a replica sending the smallest traces (about 350
 * bytes) kept 770,000 rows under that budget, and each trim (run_traces' sum and its window, on
 * PGlite on the control plane's own thread) read them all: about 0.3 s plus 1 s, every sixteenth
 * of the budget, from one deployment.
 */
export const MIN_TRACE_BYTES = 4096;

/** The sum of token counts; null when none was given. */
export function sumTokens(list: readonly (RunTokens | null | undefined)[]): RunTokens | null {
  let any = false;
  const out: Required<RunTokens> = { input: 0, output: 0, total: 0 };
  for (const t of list) {
    if (!t) continue;
    any = true;
    out.input += t.input ?? 0;
    out.output += t.output ?? 0;
    out.total += t.total ?? (t.input ?? 0) + (t.output ?? 0);
  }
  return any ? out : null;
}

/** Langflow's usage shape (`{input_tokens, output_tokens, total_tokens}`, any of them null) as RunTokens, or null. */
export function tokensOfUsage(usage: unknown): RunTokens | null {
  if (typeof usage !== "object" || usage === null) return null;
  const u = usage as Record<string, unknown>;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined);
  const input = n(u.input_tokens);
  const output = n(u.output_tokens);
  const total = n(u.total_tokens);
  if (input === undefined && output === undefined && total === undefined) return null;
  return { ...(input !== undefined ? { input } : {}), ...(output !== undefined ? { output } : {}), ...(total !== undefined ? { total } : {}) };
}

