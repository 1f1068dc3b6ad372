import { FLOW_RUN_ROUTES, RUN_ERROR_HEADER, type EngineRunResult } from "@flowplane/core/replica";
import type { ServerResponse } from "node:http";
import { checkBody, type Fields, type Issue } from "./body-check.js";
import { HttpError, caller, findFlow, refuseTweaks, runFlow, toHttp, type HostContext } from "./context.js";
import { RequestValidation, langflowError, parseBool, projectPayloadToV1, requestVariables, sortVariables } from "./langflow-v1.js";
import { send, type Router } from "./routing.js";
import { MAX_TWEAKED_COMPONENTS, MAX_TWEAKED_FIELDS } from "./tweak-guard.js";
import { openStream } from "./stream.js";

/**
 * Langflow's run API, `POST /api/v1/run/{flow_id_or_endpoint_name}`, as Langflow 1.13 serves it,
 * so Langflow clients work unchanged: its request (SimplifiedAPIRequest), its response
 * (RunResponse), its event stream, its `{"detail": ...}` errors and statuses.
 */
const body: Fields = {
  input_value: { type: "string", nullable: true },
  input_type: { type: "enum", values: ["chat", "text", "any"], nullable: true },
  output_type: { type: "enum", values: ["chat", "text", "any", "debug"], nullable: true },
  output_component: { type: "string", nullable: true },
  // Bounded here too (tweak-guard.ts says why), before the check copies every entry.
  tweaks: { type: "record", of: { type: "record", max: MAX_TWEAKED_FIELDS }, max: MAX_TWEAKED_COMPONENTS, nullable: true },
  session_id: { type: "string", nullable: true },
  // Langflow forwards it to tracing providers only (graph.tracing_user_id); a replica runs none.
  user_id: { type: "string", nullable: true },
};

/** What `body` lets through. */
interface RunRequestBody {
  input_value?: string | null;
  input_type?: "chat" | "text" | "any" | null;
  output_type?: "chat" | "text" | "any" | "debug" | null;
  output_component?: string | null;
  tweaks?: Record<string, Record<string, unknown>> | null;
  session_id?: string | null;
  user_id?: string | null;
}

/** The body's issues as FastAPI's 422 items (pydantic's type names and messages). */
function validationItems(issues: Issue[]): RequestValidation {
  return new RequestValidation(issues.map((i) => {
    const loc = ["body", ...i.path];
    if (i.expected === "string") return { type: "string_type", loc, msg: "Input should be a valid string" };
    if (i.expected === "object") return { type: "dict_type", loc, msg: "Input should be a valid dictionary" };
    if (i.expected === "size") return { type: "too_long", loc, msg: `Dictionary ${i.message}` };
    return { type: "literal_error", loc, msg: `Input should be ${(i.values ?? []).map((v) => `'${v}'`).join(", ").replace(/, ([^,]*)$/, " or $1")}` };
  }));
}

/** Langflow's RunResponse, content_blocks in the v1 shape. */
const response = (r: EngineRunResult) => projectPayloadToV1({ session_id: r.sessionId, outputs: [{ inputs: r.inputs, outputs: r.outputs }] });

export function registerLangflowRoutes(app: Router, ctx: HostContext): void {
  app.add({ method: "POST", path: FLOW_RUN_ROUTES.langflow, onError: (err, req, res) => {
    // Every failure on this route answers as Langflow does, parse errors of the body included.
    // As the app's own handler does: an unexpected failure is logged (its message only).
    if (toHttp(err).status >= 500) ctx.log.error({ requestId: req.id, error: err instanceof Error ? err.message : String(err) }, "request failed");
    sendDetail(res, err, req.params.flowId ?? "");
  }, handler: async (req, res) => {
    const key = req.params.flowId!;
    const { flow } = findFlow(ctx.state, key, true);
    // A parameter given twice counts by its last value, as FastAPI reads a scalar query
    // parameter (Starlette's QueryParams keeps the last); `get` would take the first.
    const stream = parseBool(new URLSearchParams(req.search).getAll("stream").at(-1));
    if (stream === null) throw new RequestValidation([{ type: "bool_parsing", loc: ["query", "stream"], msg: "Input should be a valid boolean, unable to interpret input" }]);
    const checked = checkBody(req.body ?? {}, body);
    if (!checked.ok) throw validationItems(checked.issues);
    const b = checked.value as RunRequestBody;
    const { take: vars, credential, notOverridable } = sortVariables(ctx.state.flows, requestVariables(req.headers), ctx.config.secretParameters);
    if (credential.length > 0 || notOverridable.length > 0) {
      const message = credential.length > 0
        ? `Cannot override the deployment's credentials with request variables: ${credential.join(", ")}`
        : `Request variables may set only plain parameters of this deployment's flows, on components without credentials: ${notOverridable.join(", ")}`;
      return sendDetail(res, new HttpError(400, "request_variables", message), key);
    }
    const run = {
      inputValue: b.input_value ?? null,
      inputType: b.input_type ?? "chat",
      outputType: b.output_type ?? "chat",
      ...(b.output_component ? { outputComponent: b.output_component } : {}),
      ...(b.tweaks ? { tweaks: b.tweaks } : {}),
      ...(Object.keys(vars).length > 0 ? { globalVars: vars } : {}),
      // Langflow's default session is the flow id.
      sessionId: b.session_id || flow.id,
    };
    if (!stream) return response(await runFlow(ctx, caller(req), flow.id, run, undefined, res));
    // Refused before the stream opens, so a streamed run is refused with the same 422 as one
    // answered at once (which runFlow refuses).
    refuseTweaks(ctx, flow, run.tweaks);
    const out = openStream(res);
    const send: typeof out.send = (e) => out.send(e.event === "add_message" ? { event: e.event, data: projectPayloadToV1(e.data) as Record<string, unknown> } : e);
    try {
      const result = await runFlow(ctx, caller(req), flow.id, run, send, out.closed);
      out.send({ event: "end", data: { result: response(result) } });
    } catch (err) {
      // Langflow's run_flow_generator: `{"error": str(exception)}`.
      out.send({ event: "error", data: { error: err instanceof Error ? err.message : String(err) } });
    }
    out.end();
  } });
}

function sendDetail(res: ServerResponse, err: unknown, flowKey: string): void {
  const { status, body: detail } = langflowError(err, flowKey);
  if (status === 503) res.setHeader("retry-after", "1");
  // Langflow's shape has no code: the product's one goes in a header, for the gateway's run history.
  res.setHeader(RUN_ERROR_HEADER, err instanceof RequestValidation ? "validation_failed" : toHttp(err).body.error.code);
  send(res, status, detail);
}
