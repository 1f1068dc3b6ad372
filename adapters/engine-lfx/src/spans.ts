import { MAX_SPAN_ERROR, tokensOfUsage, type Flow, type RunTokens, type SpanIO, type SpanSink } from "@flowplane/core/replica";

/**
 * A run's spans from Langflow's own vertex build events (lfx's EventManager, as its v2 workflow
 * stream relays them): `build_start {id}` when a vertex starts building, `end_vertex
 * {build_data: {id, data: ResultData}}` when it is built (ResultData.timedelta is lfx's own
 * measure of the build, in seconds), and `error` naming the failed vertex in
 * `properties.source`. One span per vertex, reported as it ends.
 *
 * Inputs and outputs (when the deployment keeps them, `sink.io`): a vertex's outputs are its
 * ResultData's `outputs` (`{name: {message, type}}`), as lfx reports them; its inputs are what
 * lfx built it with as far as the stream shows: each field an edge feeds, the upstream vertex's
 * output that edge names, and its other fields' values as the flow sets them (a global
 * variable by its name, as in the flow). The replica redacts and cuts them (io-capture.ts).
 */
export class LfxSpans {
  private readonly started = new Map<string, number>();
  private readonly ended = new Set<string>();
  /** Each ended vertex's outputs by name, for the inputs of the vertices its edges feed. */
  private readonly outputs = new Map<string, Record<string, unknown>>();

  constructor(
    private readonly flow: Flow,
    private readonly sink: SpanSink,
    private readonly redact: (t: string) => string,
    private readonly now: () => number = () => performance.timeOrigin + performance.now(),
  ) {}

  buildStart(id: unknown): void {
    if (typeof id === "string" && !this.started.has(id)) this.started.set(id, this.now());
  }

  endVertex(id: string, data: unknown): void {
    const r = (typeof data === "object" && data !== null ? data : {}) as { timedelta?: unknown; token_usage?: unknown };
    const own = typeof r.timedelta === "number" && Number.isFinite(r.timedelta) && r.timedelta >= 0 ? r.timedelta * 1000 : null;
    if (this.sink.io) this.outputs.set(id, outputsOf(data));
    this.report(id, own, null, tokensOfUsage(r.token_usage) ?? this.usageIn(id, data));
  }

  /** The vertex lfx named as the failure's source, or the one still building when the run failed. */
  failed(id: string | undefined, message: string): void {
    const target = id ?? [...this.started.keys()].reverse().find((v) => !this.ended.has(v));
    if (target) this.report(target, null, this.redact(message.replace(/\s*\n\s*/g, " ").trim()).slice(0, MAX_SPAN_ERROR), null);
  }

  private report(id: string, ownMs: number | null, error: string | null, tokens: RunTokens | null): void {
    if (this.ended.has(id)) return;
    this.ended.add(id);
    const now = this.now();
    const durationMs = ownMs ?? now - (this.started.get(id) ?? now);
    const start = this.started.get(id) ?? now - durationMs;
    const node = this.flow.nodes.find((n) => n.id === id);
    try {
      this.sink.span({
        componentId: id,
        componentType: node?.type ?? "unknown",
        name: node?.displayName ?? id,
        start: new Date(start).toISOString(),
        durationMs: Math.round(durationMs * 100) / 100,
        status: error === null ? "ok" : "error",
        error,
        tokens,
      }, this.sink.io ? this.io(id) : undefined);
    } catch {
      // a trace is never worth failing the run for
    }
  }

  private io(id: string): SpanIO {
    const inputs: Record<string, unknown> = {};
    const node = this.flow.nodes.find((n) => n.id === id);
    for (const [field, f] of Object.entries(node?.template ?? {})) {
      if (field === "code" || field.startsWith("_")) continue;
      const v = (f as { value?: unknown }).value;
      if (v !== undefined && v !== null && v !== "" && typeof v !== "object") inputs[field] = v;
    }
    for (const e of this.flow.edges) {
      if (e.target !== id || !e.targetHandle.fieldName) continue;
      const v = this.outputs.get(e.source)?.[e.sourceHandle.name];
      if (v !== undefined) inputs[e.targetHandle.fieldName] = v;
    }
    return { inputs, outputs: this.outputs.get(id) ?? {} };
  }

  /**
   * The usage lfx's model components stamp on their answer (`properties.usage`, Langflow 1.13),
   * counted only on a message this vertex made (`properties.source.id`), so a Chat Output
   * passing the model's message on does not count it again.
   */
  private usageIn(id: string, data: unknown, depth = 0): RunTokens | null {
    if (depth > 8 || typeof data !== "object" || data === null) return null;
    if (Array.isArray(data)) {
      for (const v of data) {
        const t = this.usageIn(id, v, depth + 1);
        if (t) return t;
      }
      return null;
    }
    const props = (data as { properties?: { usage?: unknown; source?: { id?: unknown } } }).properties;
    if (props && typeof props === "object" && props.usage && props.source?.id === id) {
      const t = tokensOfUsage(props.usage);
      if (t) return t;
    }
    for (const v of Object.values(data)) {
      const t = this.usageIn(id, v, depth + 1);
      if (t) return t;
    }
    return null;
  }
}

/** ResultData's `outputs` (`{name: {message, type}}`) as values by output name. */
function outputsOf(data: unknown): Record<string, unknown> {
  const outs = (typeof data === "object" && data !== null ? (data as { outputs?: unknown }).outputs : undefined);
  if (typeof outs !== "object" || outs === null) return {};
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(outs as Record<string, unknown>)) {
    out[name] = typeof v === "object" && v !== null && "message" in v ? (v as { message: unknown }).message : v;
  }
  return out;
}
