import { MAX_SPAN_ERROR, REDACTED, isSecretField, tokensOfUsage, type ComponentSpan, type FlowEdge, type FlowNode, type RunTokens, type SpanIO, type SpanSink } from "@flowplane/core/replica";
import { Message } from "./values.js";

/**
 * The native executor's tracing hook (issue #19 item 2): FlowRun calls `componentSpan` once per
 * node when it ends, successful or not, and nothing else in the engine knows about traces.
 * Components stay unaware of it: the tokens come from the usage an LLM component stamps on its
 * answer's properties (as lfx's LCModelComponent does), counted only on the component that
 * made the message: not one it received, nor one naming another component as its source, so a
 * Chat Output passing the model's answer on does not count it twice.
 */
export function reportSpan(sink: SpanSink | undefined, node: FlowNode, startedAt: number, outputs: Iterable<unknown>, error: unknown, inputs: Iterable<unknown> = [], io?: SpanIO): void {
  if (!sink) return;
  const span: ComponentSpan = {
    componentId: node.id,
    componentType: node.type,
    name: node.displayName,
    start: new Date(startedAt).toISOString(),
    durationMs: Math.max(0, performance.timeOrigin + performance.now() - startedAt),
    status: error === undefined ? "ok" : "error",
    error: error === undefined ? null : (error instanceof Error ? error.message : String(error)).slice(0, MAX_SPAN_ERROR),
    tokens: error === undefined ? tokensOf(node, outputs, new Set(inputs)) : null,
  };
  try {
    sink.span(span, io);
  } catch {
    // a trace is never worth failing the run for
  }
}

/**
 * A component's inputs for its span, when the deployment keeps inputs and outputs: each field
 * it was built with (its own value, or what the edges into it carried), as its methods read them
 * (global variables resolved: the replica redacts credential values). Its code is left out, and
 * a secret field (an API key, a password) reads REDACTED whatever its value: the replica knows
 * only its own credentials, and a caller's key given as a tweak (Langflow's starters export
 * none) was kept in clear for every viewer of the project and the OTLP collector.
 */
export function spanInputs(node: FlowNode, own: Record<string, unknown>, incoming: readonly FlowEdge[], valueOf: (field: string) => unknown): Record<string, unknown> {
  const fields = new Set([...Object.keys(own), ...incoming.map((e) => e.targetHandle.fieldName)]);
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (f === "code" || f.startsWith("_")) continue;
    const v = valueOf(f);
    const field = node.template[f];
    if (v !== undefined && v !== null && v !== "") out[f] = field && isSecretField(field) ? REDACTED : v;
  }
  return out;
}

/** A precise "now" on the same clock as Date.now(), for span starts. */
export const spanClock = (): number => performance.timeOrigin + performance.now();

function tokensOf(node: FlowNode, outputs: Iterable<unknown>, inputs: Set<unknown>): RunTokens | null {
  for (const v of outputs) {
    if (v instanceof Message && !inputs.has(v) && (v.properties.source.id ?? node.id) === node.id) {
      const t = tokensOfUsage(v.properties.usage);
      if (t) return t;
    }
  }
  return null;
}
