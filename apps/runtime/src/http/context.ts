import { DomainError, FlowRunError, MAX_SPANS_PER_TRACE, NotFoundError, ValidationError, sumTokens, type ComponentSpan, type EngineRunRequest, type EngineRunResult, type Flow, type FlowEngine, type IOCapture, type LoadedFlow, type StreamSink } from "@flowplane/core/replica";
import type { ServerResponse } from "node:http";
import type { RuntimeConfig } from "../config.js";
import type { Logger } from "@flowplane/core/replica";
import { send, type RuntimeRequest } from "./routing.js";
import { LazyRunCancel } from "./run-cancel.js";
import { secretNames } from "./secret-holders.js";
import { tweakProblems, tweakSizeProblems } from "./tweak-guard.js";
import { refuseProtectedTweaks } from "./protected-tweaks.js";
import type { RunDeadlines } from "./deadlines.js";
import type { RunCaller, TraceShipper } from "../traces.js";
import { keptSpan, keptTrace } from "../trace-text.js";

/** What the HTTP and MCP layers share: the loaded flows, the engine, readiness. One per process. */
export interface RuntimeState {
  ready: boolean;
  draining: boolean;
  /** Why the engine stopped serving (lfx died); the replica is then not ready and exits. */
  failed: string | null;
  engine: FlowEngine | null;
  flows: LoadedFlow[];
  bundle: { name: string; versionTag: string; digest: string } | null;
  inFlight: number;
}

export interface HostContext {
  config: RuntimeConfig;
  log: Logger;
  state: RuntimeState;
  /** Where runs' traces go (traces.ts); null: runs are not traced. */
  traces?: TraceShipper | null;
  /** Inputs and outputs kept with traces (the deployment's runtime.io), redacted and cut; null: none kept. */
  io?: IOCapture | null;
  /** The request timeout of the runs in flight. */
  deadlines: RunDeadlines;
}

/** An HTTP answer other than 2xx, in the product's one error shape. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const statusOf: Record<string, number> = { validation_failed: 400, not_found: 404, payload_too_large: 413, unprocessable_flow: 422, conflict: 409 };

/** Every error to `{status, body}`: the one place where errors become HTTP statuses. */
export function toHttp(err: unknown): { status: number; body: { error: { code: string; message: string; details: unknown } } } {
  const body = (code: string, message: string, details: unknown = null) => ({ error: { code, message, details } });
  if (err instanceof HttpError) return { status: err.status, body: body(err.code, err.message, err.details ?? null) };
  if (err instanceof DomainError) return { status: statusOf[err.code] ?? 400, body: body(err.code, err.message, err.details ?? null) };
  if (err instanceof FlowRunError) return { status: 500, body: body("run_failed", err.message, err.componentId ? { component_id: err.componentId } : null) };
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.statusCode === 413) return { status: 413, body: body("payload_too_large", "the request body is larger than allowed") };
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) return { status: e.statusCode, body: body("bad_request", e.message ?? "bad request") };
  return { status: 500, body: body("internal", "internal error") };
}

export function sendError(res: ServerResponse, err: unknown): void {
  const { status, body } = toHttp(err);
  send(res, status, body);
}

/** A flow by id, or (for Langflow's run API) by endpoint name. */
export function findFlow(state: RuntimeState, key: string, byEndpoint: boolean): LoadedFlow {
  if (!state.ready || !state.engine) throw new HttpError(503, "not_ready", "the runtime is still loading its flows");
  const flow = state.flows.find((f) => f.flow.id === key) ?? (byEndpoint ? state.flows.find((f) => f.flow.endpointName === key) : undefined);
  if (!flow) throw new NotFoundError(`no flow "${key}" in this deployment`);
  return flow;
}

/** Who asks for a run: the request, by its id. */
export const caller = (req: RuntimeRequest): RunCaller => ({ requestId: req.id, fromGateway: req.fromGateway });

/**
 * What cancels a run besides its timeout: a signal (a stream's, the MCP SDK's), or the response
 * its caller waits on, cancelled when that closes unfinished (the client left; the gateway aborts
 * its request to the replica when its own caller leaves). The response is watched as it is, with
 * one `close` listener: an AbortController and an EventTarget listener per run cost a short
 * flow's run several µs (issue #16). Without it, an answer nobody would read kept its run going
 * (an LLM's tokens, up to the request timeout) after the gateway had counted the request done,
 * so a caller who left at once had as many runs going as it liked, past any concurrency limit.
 */
export type RunCanceller = AbortSignal | ServerResponse;

/**
 * The checks a run's tweaks pass before anything else, on every route and either engine: their
 * size (the checks after it and the engines walk every name they hold), then Langflow's rules
 * (protected-tweaks.ts: the deployment's tweaks policy, and the protected fields under any
 * policy: code, and what decides which code or query runs), which refuse the whole request. Streaming routes call it before their stream opens, so the refusal is an answer.
 */
export function refuseTweaks(ctx: HostContext, flow: Flow | undefined, tweaks: EngineRunRequest["tweaks"]): void {
  if (!tweaks) return;
  const tooMany = tweakSizeProblems(tweaks);
  if (tooMany.length > 0) throw new ValidationError(tooMany, `invalid tweaks: ${tooMany.map((e) => `${e.field} ${e.message}`).join("; ")}`);
  if (flow) refuseProtectedTweaks(flow, tweaks, ctx.config.tweaksPolicy);
}

/**
 * Runs a flow under the request timeout; a client that goes away cancels its run. The run leaves
 * the deadlines when it ends: `AbortSignal.timeout` would keep every finished request's closures
 * alive for the whole timeout (5 minutes by default), hundreds of MiB under load.
 */
export async function runFlow(ctx: HostContext, caller: RunCaller, flowId: string, request: EngineRunRequest, sink?: StreamSink, cancel?: RunCanceller): Promise<EngineRunResult> {
  // Every route's tweaks pass here, for either engine: none may touch a credential (tweak-guard.ts).
  const flow = request.tweaks ? ctx.state.flows.find((f) => f.flow.id === flowId)?.flow : undefined;
  // Fail closed: tweaks for a flow not loaded are never passed on unchecked.
  if (request.tweaks && !flow) throw new NotFoundError(`no flow "${flowId}" in this deployment`);
  refuseTweaks(ctx, flow, request.tweaks);
  const refused = flow && request.tweaks ? tweakProblems(flow, request.tweaks, secretNames(ctx.state.flows, ctx.config.secretParameters), ctx.config.parameters) : [];
  if (refused.length > 0) throw new ValidationError(refused, `invalid tweaks: ${refused.map((e) => `${e.field} ${e.message}`).join("; ")}`);
  const engine = ctx.state.engine as FlowEngine;
  const signal = cancel instanceof AbortSignal ? cancel : undefined;
  const res = cancel instanceof AbortSignal ? undefined : cancel;
  const started = Date.now();
  // A run called through the gateway is traced under its request id: one span per component.
  const scope = ctx.traces ? caller : undefined;
  const spans: ComponentSpan[] = [];
  // When the run started, by performance.now(): its request timeout counts from here (untilSettled).
  const runStarted = performance.now();
  const startedAt = performance.timeOrigin + runStarted;
  // Inputs and outputs only when the deployment keeps them: redacted and cut here, before the
  // span is buffered, so no raw value is ever held for sending. Every string the trace carries
  // is made storable there too (trace-text.ts), io or not.
  const io = scope?.fromGateway ? (ctx.io ?? null) : null;
  if (scope?.fromGateway) {
    request = {
      ...request,
      trace: {
        io: io !== null,
        span: (s, values) => {
          if (spans.length >= MAX_SPANS_PER_TRACE) return;
          spans.push(keptSpan(io, s, values));
        },
      },
    };
  }
  const runCancel = new LazyRunCancel();
  let failure: unknown = undefined;
  let result: EngineRunResult | undefined;
  try {
    // A caller gone before the run starts: nothing runs.
    if (callerGone(signal, res)) throw new FlowRunError("the run was cancelled");
    const run = engine.start ? engine.start(flowId, request, sink, runCancel) : sink ? engine.stream(flowId, request, sink, runCancel) : engine.run(flowId, request, runCancel);
    // Done without waiting (FlowEngine.start): there was nothing to time out or cancel.
    result = run instanceof Promise ? await untilSettled(ctx, run, runCancel, signal, res, runStarted) : run;
    return result;
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    if (scope?.fromGateway && ctx.traces) {
      const error = failure === undefined ? null : toHttp(failure).body.error.message;
      ctx.traces.add(keptTrace(io, {
        requestId: scope.requestId, flowId, revision: ctx.config.revision, engine: engine.name,
        start: new Date(startedAt).toISOString(),
        durationMs: Math.round((performance.timeOrigin + performance.now() - startedAt) * 100) / 100,
        status: failure === undefined ? "ok" : "error",
        error,
        tokens: sumTokens(spans.map((s) => s.tokens)),
        spans,
      }, io ? { input: request.inputValue ?? undefined, output: result ? answerOf(result) : undefined } : undefined));
    }
    ctx.log.debug({ flowId, ms: Date.now() - started }, "flow run");
  }
}

/**
 * A run that waits, under the request timeout (counted from `started`, when the run started: its
 * synchronous part counts, and one that alone outlasted the timeout is cut as soon as the run
 * waits) and its caller's
 * cancellation: its answer loses the race to either, which cancels the engine's run and rejects
 * at once. The timer and listeners are gone when it settles.
 */
async function untilSettled(ctx: HostContext, run: Promise<EngineRunResult>, runCancel: LazyRunCancel, signal: AbortSignal | undefined, res: ServerResponse | undefined, started: number): Promise<EngineRunResult> {
  let stop: (reason: Error) => void = () => undefined;
  const abort = new Promise<never>((_, reject) => (stop = reject));
  const end = (reason: Error) => {
    if (runCancel.abort()) stop(reason);
  };
  const ended = ctx.deadlines.start(() => end(new HttpError(504, "timeout", `the flow did not finish within ${ctx.config.requestTimeoutMs} ms`)), started);
  const onCancel = () => end(new FlowRunError("the run was cancelled"));
  const onClose = () => {
    if (!res!.writableFinished) onCancel();
  };
  signal?.addEventListener("abort", onCancel, { once: true });
  res?.once("close", onClose);
  // The caller may have left while the run's synchronous part ran.
  if (callerGone(signal, res)) onCancel();
  try {
    return await Promise.race([run, abort]);
  } finally {
    ended();
    signal?.removeEventListener("abort", onCancel);
    res?.off("close", onClose);
  }
}

/** The caller has left: its signal aborted, or its response closed unfinished. */
const callerGone = (signal: AbortSignal | undefined, res: ServerResponse | undefined): boolean => signal?.aborted === true || (res?.destroyed === true && !res.writableFinished);

/** A run's answer as the trace keeps it: the chat message, else the reported components' results. */
function answerOf(result: EngineRunResult): unknown {
  if (result.chat) return result.chat.text;
  const reported = result.outputs.map((o) => o.results);
  return reported.length === 1 ? reported[0] : reported;
}
