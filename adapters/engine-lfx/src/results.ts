import { FlowRunError, type ComponentResult, type EngineRunRequest, type EngineRunResult, type Flow, type StreamSink } from "@flowplane/core/replica";
import type { LfxEvent } from "./sse.js";
import type { LfxSpans } from "./spans.js";
import { isOutputNode } from "./variants.js";

/**
 * Turns lfx's stream of Langflow events into the engine contract's result. lfx reports each
 * component's `ResultData` in its `end_vertex` event (the same object Langflow's /api/v1/run
 * returns per output), so results are passed through as lfx made them: lfx is the reference.
 * `token` and `add_message` events go to the caller's sink as they arrive.
 */
export class RunCollector {
  private readonly built = new Map<string, ComponentResult>();
  private ended = false;
  private error: string | null = null;
  private source: { id?: string; name?: string } = {};

  /**
   * @param lfxFlowId the id lfx ran the flow under: a tweaked variant's, or the flow's own made a
   *   UUID. Messages carry it as `flow_id`; callers only ever know the flow's id, so it is put back.
   */
  constructor(
    private readonly flow: Flow,
    private readonly sink?: StreamSink,
    private readonly lfxFlowId: string = flow.id,
    /** The run's spans, when it is traced. */
    private readonly spans?: LfxSpans,
  ) {}

  /** The value with every `flow_id` that names lfx's id for this run replaced by the flow's id. */
  private ownFlowId<T>(value: T): T {
    return this.lfxFlowId === this.flow.id ? value : (renameFlowId(value, this.lfxFlowId, this.flow.id) as T);
  }

  accept(e: LfxEvent): void {
    switch (e.event) {
      case "token":
      case "add_message":
        this.sink?.({ event: e.event, data: this.ownFlowId(e.data) });
        break;
      case "end_vertex": {
        const build = e.data.build_data as { id?: unknown; data?: unknown } | undefined;
        if (typeof build?.id === "string" && typeof build.data === "object" && build.data !== null) this.built.set(build.id, this.ownFlowId(build.data as ComponentResult));
        if (typeof build?.id === "string") this.spans?.endVertex(build.id, build.data);
        break;
      }
      case "build_start":
        this.spans?.buildStart(e.data.id);
        break;
      case "error": {
        // lfx sends the failed component's error message first, then `{error: <text>}`.
        if (typeof e.data.error === "string") this.error = e.data.error;
        const source = (e.data.properties as { source?: { id?: unknown; display_name?: unknown } } | undefined)?.source;
        if (typeof source?.id === "string") this.source = { id: source.id, ...(typeof source.display_name === "string" ? { name: source.display_name } : {}) };
        if (typeof e.data.error === "string") this.spans?.failed(this.source.id, e.data.error);
        break;
      }
      case "end":
        this.ended = true;
        break;
      default:
        // vertices_sorted, log, output: the graph's progress, not part of the contract.
        break;
    }
  }

  /** The run's result, or the FlowRunError lfx reported. Messages pass through `redact`. */
  finish(request: EngineRunRequest, sessionId: string, redact: (t: string) => string): EngineRunResult {
    if (this.error !== null || !this.ended) {
      const message = this.error ?? "lfx ended the run without a result";
      throw new FlowRunError(redact(message.replace(/\s*\n\s*/g, " ").trim()), this.source.id, this.source.name);
    }
    const nodes = this.flow.nodes.filter((n) => this.built.has(n.id));
    const reported = nodes.filter((n) => {
      if (request.outputComponent) return n.id === request.outputComponent;
      if (request.outputType === "debug") return true;
      return isOutputNode(n) && (request.outputType === "any" || n.id.toLowerCase().includes(request.outputType));
    });
    let chat: EngineRunResult["chat"] = null;
    for (const node of nodes) {
      const text = node.type === "ChatOutput" ? messageText(this.built.get(node.id)) : null;
      if (text !== null) {
        chat = { text, componentDisplayName: node.displayName, componentId: node.id };
        break;
      }
    }
    return {
      sessionId,
      inputs: { input_value: request.inputValue ?? "" },
      outputs: reported.map((n) => this.built.get(n.id) as ComponentResult),
      chat,
    };
  }
}

/** A Chat Output's message text from its ResultData (`results.message.text`). */
export function messageText(result: ComponentResult | undefined): string | null {
  const message = result?.results?.message;
  if (typeof message === "string") return message;
  if (typeof message === "object" && message !== null && typeof (message as { text?: unknown }).text === "string") return (message as { text: string }).text;
  const logged = (result?.outputs?.message as { message?: unknown } | undefined)?.message;
  return typeof logged === "string" ? logged : null;
}

/** A copy of `value` whose `flow_id` fields equal to `from` read `to`; everything else as is. */
export function renameFlowId(value: unknown, from: string, to: string): unknown {
  if (Array.isArray(value)) return value.map((v) => renameFlowId(v, from, to));
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = k === "flow_id" && v === from ? to : renameFlowId(v, from, to);
  return out;
}
