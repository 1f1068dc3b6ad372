import type { EngineName } from "./compatibility.js";
import type { Flow } from "./flow.js";
import type { SpanSink } from "./traces.js";

/**
 * The contract between the runtime host (apps/runtime) and a flow engine (native, lfx).
 * Types only, plus two pure helpers: the host speaks HTTP and MCP, an engine runs flows.
 * Results are in Langflow's own JSON vocabulary so that every engine answers the same
 * shapes and existing Langflow clients work unchanged.
 */

/** Global variables by name: the deployment's parameters (and credentials). Never logged. */
export type EnvMap = Readonly<Record<string, string | undefined>>;

/** Langflow's `input_type`: which input components receive `input_value`. */
export type InputType = "chat" | "text" | "any";
/** Langflow's `output_type`: which components' results are returned (`debug`: all). */
export type OutputType = "chat" | "text" | "any" | "debug";

/** Field overrides by node id or node display name (Langflow's "tweaks"). */
export type Tweaks = Record<string, Record<string, unknown>>;

export interface EngineRunRequest {
  /** null: the input components keep their own value. */
  inputValue: string | null;
  inputType: InputType;
  outputType: OutputType;
  /** Only this node's result (by node id), when set. */
  outputComponent?: string;
  /** Defaults to the flow id, as in Langflow. */
  sessionId?: string;
  /**
   * The session is this run's alone and never continued (an MCP tool call's): an engine that keeps
   * chat history in a bounded store of its own drops it once the run ends, so such calls never
   * push other sessions' histories out.
   */
  forgetSession?: boolean;
  tweaks?: Tweaks;
  /** Per-request global variables; they win over the deployment's (lfx serve's `global_vars`). */
  globalVars?: Record<string, string>;
  /** Where the engine reports each component's span as it ends (the run's trace); none: not traced. */
  trace?: SpanSink;
}

/** One component's result in Langflow's run response (`ResultData`). */
export interface ComponentResult {
  results: Record<string, unknown>;
  artifacts: Record<string, unknown>;
  outputs: Record<string, unknown>;
  logs: Record<string, unknown[]>;
  messages: Record<string, unknown>[];
  timedelta: number | null;
  duration: string | null;
  component_display_name: string;
  component_id: string;
  /** Langflow 1.13's ResultData: whether a frozen component's cached result was reused. */
  used_frozen_result: boolean;
  /** Langflow 1.13's ResultData: the component's token usage (lfx reports null for every component). */
  token_usage: { input_tokens: number | null; output_tokens: number | null; total_tokens: number | null } | null;
}

export interface EngineRunResult {
  sessionId: string;
  /** `{input_value}` as Langflow echoes it in `outputs[].inputs`. */
  inputs: Record<string, unknown>;
  outputs: ComponentResult[];
  /**
   * The first Chat Output's message, which `lfx serve` returns as `result`; null when the flow
   * has no Chat Output that produced one.
   */
  chat: { text: string; componentDisplayName: string; componentId: string } | null;
}

/**
 * Langflow's streaming events. `add_message` carries a stored message, `token` a chunk of an
 * LLM answer (`{chunk, id, timestamp}`), `end` the final result, `error` a failure.
 */
export type StreamEventName = "add_message" | "token" | "end" | "error";
export interface StreamEvent {
  event: StreamEventName;
  data: Record<string, unknown>;
}
export type StreamSink = (event: StreamEvent) => void;

/** A flow the engine has loaded, as the host lists and describes it. */
export interface LoadedFlow {
  flow: Flow;
  /** Component ids that receive `input_value` for input_type "chat" (for /flows/{id}/info). */
  inputComponents: string[];
  outputComponents: string[];
}

/**
 * A run's cancellation as an engine sees it: `aborted` is read between steps, and `signal` (an
 * AbortSignal, for fetch and the model SDKs) is made only when something asks for it. In Node 20
 * making an AbortController's signal costs about 3 µs, a tenth of a short flow's whole run, and
 * most runs never need one.
 */
export interface RunCancel {
  readonly aborted: boolean;
  readonly signal: AbortSignal;
}

export interface FlowEngine {
  readonly name: EngineName;
  /**
   * Prepares the flows to run. Fails (UnprocessableFlowError) naming every component or edge it
   * cannot run, so a replica never reports ready with a flow it would fail on.
   */
  load(flows: readonly Flow[], env: EnvMap): Promise<LoadedFlow[]>;
  /** Runs one flow to completion. Unknown flow: NotFoundError; bad tweaks: ValidationError; failure: FlowRunError. */
  run(flowId: string, request: EngineRunRequest, cancel?: RunCancel): Promise<EngineRunResult>;
  /** The same run, reporting Langflow events as they happen (the final `end` is the host's to send). */
  stream(flowId: string, request: EngineRunRequest, sink: StreamSink, cancel?: RunCancel): Promise<EngineRunResult>;
  /**
   * Optional: the same run (`stream` with a sink, else `run`), its result returned directly when
   * it finished without waiting for anything, a promise when it waits. It may throw where those
   * reject. A host arms a run's timeout and cancellation only once the run waits: a run that
   * finished synchronously could not have been interrupted anyway, and the arming costs a short
   * flow's run several µs of a replica's time (issue #16).
   */
  start?(flowId: string, request: EngineRunRequest, sink: StreamSink | undefined, cancel?: RunCancel): EngineRunResult | Promise<EngineRunResult>;
  close(): Promise<void>;
}

/**
 * A flow failed while running (a component raised, a variable is missing, an upstream API
 * failed). The message is shown to the caller, so it never contains a parameter value.
 */
export class FlowRunError extends Error {
  constructor(
    message: string,
    readonly componentId?: string,
    readonly componentDisplayName?: string,
  ) {
    super(message);
    this.name = "FlowRunError";
  }
}

/**
 * Langflow's message timestamp format, microseconds included as lfx 1.13 writes them:
 * `2025-03-03 17:20:18.123000 UTC` (a JavaScript date has milliseconds only).
 */
export function langflowTimestamp(date: Date): string {
  return `${date.toISOString().slice(0, 23).replace("T", " ")}000 UTC`;
}
