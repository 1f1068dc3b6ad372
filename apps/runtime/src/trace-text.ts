import { MAX_SPAN_ERROR, cutText, storableText, type ComponentSpan, type IOCapture, type RunTrace, type SpanIO } from "@flowplane/core/replica";

/**
 * A trace's text as the replica buffers it: every string a caller or a flow gave it (run inputs
 * and answers, components' inputs and outputs and their names, error messages, component ids,
 * types and names, the flow id) passes here before the trace is buffered.
 *
 * Why: a caller's input "bad\u0000" (or a flow's output, or a name) made the control plane refuse
 * the replica's whole batch of traces, other callers' included (core io-capture.ts
 * storableText says why). Values kept with `runtime.io` go through core's IOCapture (redacted,
 * storable, cut between characters); errors, ids and names are made storable here, and names
 * held to the contract's lengths (core api/runs.ts traceSchema): nothing a caller or a flow
 * writes can make a batch fail.
 */

/** The contract's bounds on a trace's names (core api/runs.ts: traceSchema, spanSchema). */
const MAX_ID = 200;
const MAX_TYPE = 200;
const MAX_NAME = 500;

/** An id or a name from the flow: well-formed, within `max`, never empty (the contract wants one). */
function name(s: string, max: number): string {
  return cutText(storableText(s), max) || "unknown";
}

/**
 * A span as its trace keeps it: the engine's, its strings clean (its error redacted when the
 * deployment keeps inputs and outputs), with the component's inputs and outputs when `io` is set
 * and the engine gave them. Ids and names are the flow's, never redacted: they join the span to
 * the flow's graph.
 */
export function keptSpan(io: IOCapture | null, s: ComponentSpan, values?: SpanIO): ComponentSpan {
  return {
    componentId: name(s.componentId, MAX_ID),
    componentType: name(s.componentType, MAX_TYPE),
    name: name(s.name, MAX_NAME),
    start: s.start,
    durationMs: s.durationMs,
    status: s.status,
    error: s.error === null ? null : cutText(io ? io.clean(s.error) : storableText(s.error), MAX_SPAN_ERROR),
    tokens: s.tokens,
    ...(io && values ? { inputs: io.record(values.inputs), outputs: io.record(values.outputs) } : {}),
  };
}

/**
 * A run's trace as it is buffered: its spans already kept (keptSpan), its flow id and error
 * clean, and with `io` (and the run's `values`) its input and answer as text.
 */
export function keptTrace(io: IOCapture | null, t: RunTrace, values?: { input: unknown; output: unknown }): RunTrace {
  return {
    ...t,
    requestId: name(t.requestId, MAX_ID),
    flowId: name(t.flowId, MAX_ID),
    error: t.error === null ? null : cutText(io ? io.clean(t.error) : storableText(t.error), MAX_SPAN_ERROR),
    ...(io && values ? { input: io.text(values.input), output: io.text(values.output) } : {}),
  };
}
