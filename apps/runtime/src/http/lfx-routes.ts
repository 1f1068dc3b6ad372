import { FLOW_RUN_ROUTES, FlowRunError, ValidationError, type EngineRunResult } from "@flowplane/core/replica";
import { checkBody, type Fields } from "./body-check.js";
import { caller, findFlow, refuseTweaks, runFlow, sendError, toHttp, type HostContext } from "./context.js";
import { sortVariables } from "./langflow-v1.js";
import { send, type Router } from "./routing.js";
import { MAX_TWEAKED_COMPONENTS } from "./tweak-guard.js";
import { openStream } from "./stream.js";

/**
 * The routes of Langflow's own executor, `lfx serve`: /flows, /flows/{id}/info, /flows/{id}/run
 * and /flows/{id}/stream, with its request and response shapes.
 */
const runBody: Fields = {
  input_value: { type: "string" },
  inputs: { type: "object", fields: { input_value: { type: "string", required: true } } },
  input_type: { type: "enum", values: ["chat", "text", "any"] },
  output_type: { type: "enum", values: ["chat", "text", "any", "debug"] },
  output_component: { type: "string", nullable: true },
  session_id: { type: "string", nullable: true },
  // Bounded here too (tweak-guard.ts says why); a component's fields in runFlow, as a value that is no object is the engines' own 400.
  tweaks: { type: "record", max: MAX_TWEAKED_COMPONENTS, nullable: true },
  // As many as request variables could be: a name per parameter of the flows (a header each on /api/v1/run).
  global_vars: { type: "record", of: { type: "string" }, max: 1_000, nullable: true },
};

/** What runBody lets through. */
interface RunBody {
  input_value?: string;
  inputs?: { input_value: string };
  input_type?: "chat" | "text" | "any";
  output_type?: "chat" | "text" | "any" | "debug";
  output_component?: string | null;
  session_id?: string | null;
  tweaks?: Record<string, unknown> | null;
  global_vars?: Record<string, string> | null;
}

function parseRunBody(body: unknown): RunBody {
  const checked = checkBody(body ?? {}, runBody);
  if (!checked.ok) throw new ValidationError(checked.issues.map((i) => ({ field: i.path.join("."), message: i.message })));
  return checked.value as RunBody;
}

function request(body: RunBody, flows: HostContext["state"]["flows"], secretParameters: readonly string[]) {
  const input = body.input_value ?? body.inputs?.input_value;
  if (input === undefined) throw new ValidationError([{ field: "input_value", message: "required (or inputs.input_value)" }]);
  // The same rule as Langflow's request variables: no credential replaced or redirected.
  const vars = body.global_vars ? sortVariables(flows, body.global_vars, secretParameters) : null;
  if (vars && (vars.credential.length > 0 || vars.notOverridable.length > 0)) {
    throw new ValidationError([
      ...vars.credential.map((n) => ({ field: `global_vars.${n}`, message: "a credential of the deployment cannot be set by a request" })),
      ...vars.notOverridable.map((n) => ({ field: `global_vars.${n}`, message: "only plain parameters of the flows, on components without credentials, can be set by a request" })),
    ]);
  }
  return {
    inputValue: input,
    inputType: body.input_type ?? "chat",
    outputType: body.output_type ?? "chat",
    ...(body.output_component ? { outputComponent: body.output_component } : {}),
    ...(body.session_id ? { sessionId: body.session_id } : {}),
    ...(body.tweaks ? { tweaks: body.tweaks as Record<string, Record<string, unknown>> } : {}),
    ...(vars ? { globalVars: vars.take } : {}),
  };
}

/** lfx's result_data: the first Chat Output's text, or "No response generated". */
function resultData(result: EngineRunResult) {
  if (!result.chat) return { result: "No response generated", type: "error", component: "", success: false, logs: "" };
  return { result: result.chat.text, type: "message", component: result.chat.componentDisplayName, component_id: result.chat.componentId, success: true, logs: "" };
}

export function registerLfxRoutes(app: Router, ctx: HostContext): void {
  app.add({ method: "GET", path: "/flows", handler: () =>
    ctx.state.flows.map(({ flow }) => ({ id: flow.id, name: flow.name, description: flow.description, endpoint_name: flow.endpointName })),
  });

  app.add({ method: "GET", path: "/flows/:id/info", handler: (req) => {
    const { flow, inputComponents, outputComponents } = findFlow(ctx.state, req.params.id!, false);
    return {
      id: flow.id,
      name: flow.name,
      title: flow.name,
      description: flow.description,
      endpoint_name: flow.endpointName,
      engine: ctx.state.engine?.name ?? null,
      input_components: inputComponents,
      output_components: outputComponents,
      components: flow.nodes.filter((n) => !n.isNote).map((n) => ({ id: n.id, type: n.type, display_name: n.displayName })),
      input_schema: {
        type: "object",
        properties: {
          input_value: { type: "string", description: "Input value passed to the flow" },
          session_id: { type: "string", description: "Session ID for conversation state (defaults to the flow id)" },
          global_vars: { type: "object", additionalProperties: { type: "string" }, description: "Per-request global variables" },
        },
        required: ["input_value"],
      },
    };
  } });

  app.add({ method: "POST", path: FLOW_RUN_ROUTES.run, handler: async (req, res) => {
    const { flow } = findFlow(ctx.state, req.params.id!, false);
    const run = request(parseRunBody(req.body), ctx.state.flows, ctx.config.secretParameters);
    try {
      const data = resultData(await runFlow(ctx, caller(req), flow.id, run, undefined, res));
      const { success, ...rest } = data;
      send(res, success ? 200 : 500, { result: rest.result, success, logs: rest.logs, type: rest.type, component: rest.component });
    } catch (err) {
      if (!(err instanceof FlowRunError)) throw err;
      const message = `Flow execution failed: ${err.message}`;
      send(res, 500, { result: message, success: false, logs: `ERROR: ${message}`, type: "error", component: err.componentDisplayName ?? "" });
    }
  } });

  app.add({ method: "POST", path: FLOW_RUN_ROUTES.stream, handler: async (req, res) => {
    try {
      const { flow } = findFlow(ctx.state, req.params.id!, false);
      const run = request(parseRunBody(req.body), ctx.state.flows, ctx.config.secretParameters);
      // Refused with an error answer before the stream opens (runFlow checks again).
      refuseTweaks(ctx, flow, run.tweaks);
      const stream = openStream(res);
      try {
        const result = await runFlow(ctx, caller(req), flow.id, run, stream.send, stream.closed);
        stream.send({ event: "end", data: { result: resultData(result) } });
      } catch (err) {
        stream.send({ event: "error", data: { error: toHttp(err).body.error.message } });
      }
      stream.end();
    } catch (err) {
      sendError(res, err);
    }
  } });
}
