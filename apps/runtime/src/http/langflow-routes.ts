import { RUN_ERROR_HEADER, type EngineRunResult } from "@flowplane/core";
import type { ServerResponse } from "node:http";
import { z } from "zod";
import { HttpError, findFlow, runFlow, toHttp, type HostContext } from "./context.js";
import { RequestValidation, langflowError, parseBool, projectPayloadToV1, requestVariables, sortVariables } from "./langflow-v1.js";
import { send, type Router } from "./routing.js";
import { openStream } from "./stream.js";

/**
 * Langflow's run API, `POST /api/v1/run/{flow_id_or_endpoint_name}`, as Langflow 1.13 serves it,
 * so Langflow clients work unchanged: its request (SimplifiedAPIRequest), its response
 * (RunResponse), its event stream, its `{"detail": ...}` errors and statuses.
 */
const body = z.object({
  input_value: z.string().nullish(),
  input_type: z.enum(["chat", "text", "any"]).nullish(),
  output_type: z.enum(["chat", "text", "any", "debug"]).nullish(),
  output_component: z.string().nullish(),
  tweaks: z.record(z.string(), z.record(z.string(), z.unknown())).nullish(),
  session_id: z.string().nullish(),
  // Langflow forwards it to tracing providers only (graph.tracing_user_id); a replica runs none.
  user_id: z.string().nullish(),
});

/** zod's issues in FastAPI's 422 items (pydantic's type names where they map). */
function validationItems(issues: z.core.$ZodIssue[]): RequestValidation {
  return new RequestValidation(issues.map((i) => {
    const loc = ["body", ...i.path.map((p) => (typeof p === "number" ? p : String(p)))];
    if (i.code === "invalid_type" && i.expected === "string") return { type: "string_type", loc, msg: "Input should be a valid string" };
    if (i.code === "invalid_type" && (i.expected === "record" || i.expected === "object")) return { type: "dict_type", loc, msg: "Input should be a valid dictionary" };
    if (i.code === "invalid_value") return { type: "literal_error", loc, msg: `Input should be ${i.values.map((v) => `'${String(v)}'`).join(", ").replace(/, ([^,]*)$/, " or $1")}` };
    return { type: "value_error", loc, msg: i.message };
  }));
}

/** Langflow's RunResponse, content_blocks in the v1 shape. */
const response = (r: EngineRunResult) => projectPayloadToV1({ session_id: r.sessionId, outputs: [{ inputs: r.inputs, outputs: r.outputs }] });

export function registerLangflowRoutes(app: Router, ctx: HostContext): void {
  app.add({ method: "POST", path: "/api/v1/run/:flowId", onError: (err, req, res) => {
    // Every failure on this route answers as Langflow does, parse errors of the body included.
    // As the app's own handler does: an unexpected failure is logged (its message only).
    if (toHttp(err).status >= 500) ctx.log.error({ requestId: req.id, error: err instanceof Error ? err.message : String(err) }, "request failed");
    sendDetail(res, err, req.params.flowId ?? "");
  }, handler: async (req, res) => {
    const key = req.params.flowId!;
    const { flow } = findFlow(ctx.state, key, true);
    const stream = parseBool(req.query.get("stream") ?? undefined);
    if (stream === null) throw new RequestValidation([{ type: "bool_parsing", loc: ["query", "stream"], msg: "Input should be a valid boolean, unable to interpret input" }]);
    const parsed = body.safeParse(req.body ?? {});
    if (!parsed.success) throw validationItems(parsed.error.issues);
    const b = parsed.data;
    const { take: vars, credential, notOverridable } = sortVariables(ctx.state.flows, requestVariables(req.headers));
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
    if (!stream) return response(await runFlow(ctx, flow.id, run));
    const out = openStream(res);
    const send: typeof out.send = (e) => out.send(e.event === "add_message" ? { event: e.event, data: projectPayloadToV1(e.data) as Record<string, unknown> } : e);
    try {
      const result = await runFlow(ctx, flow.id, run, send, out.closed);
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
