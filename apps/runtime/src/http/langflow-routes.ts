import type { EngineRunResult } from "@flowplane/core";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { findFlow, runFlow, toHttp, type HostContext } from "./context.js";
import { parseBody } from "./lfx-routes.js";
import { openStream } from "./stream.js";

/** Langflow's run API, `POST /api/v1/run/{flow_id_or_endpoint_name}`, so Langflow clients work unchanged. */
const body = z.object({
  input_value: z.string().nullish(),
  input_type: z.enum(["chat", "text", "any"]).nullish(),
  output_type: z.enum(["chat", "text", "any", "debug"]).nullish(),
  output_component: z.string().nullish(),
  tweaks: z.record(z.string(), z.unknown()).nullish(),
  session_id: z.string().nullish(),
});

/** Langflow's RunResponse. */
const response = (r: EngineRunResult) => ({ session_id: r.sessionId, outputs: [{ inputs: r.inputs, outputs: r.outputs }] });

export function registerLangflowRoutes(app: FastifyInstance, ctx: HostContext): void {
  app.post<{ Params: { flowId: string }; Querystring: { stream?: string } }>("/api/v1/run/:flowId", async (req, reply) => {
    const { flow } = findFlow(ctx.state, req.params.flowId, true);
    const b = parseBody(body, req.body);
    const run = {
      inputValue: b.input_value ?? null,
      inputType: b.input_type ?? "chat",
      outputType: b.output_type ?? "chat",
      ...(b.output_component ? { outputComponent: b.output_component } : {}),
      ...(b.tweaks ? { tweaks: b.tweaks as Record<string, Record<string, unknown>> } : {}),
      // Langflow's default session is the flow id.
      sessionId: b.session_id || flow.id,
    };
    if (String(req.query.stream).toLowerCase() !== "true") return response(await runFlow(ctx, flow.id, run));
    const stream = openStream(reply);
    try {
      const result = await runFlow(ctx, flow.id, run, stream.send, stream.closed);
      stream.send({ event: "end", data: { result: response(result) } });
    } catch (err) {
      stream.send({ event: "error", data: { error: toHttp(err).body.error.message } });
    }
    stream.end();
    return reply;
  });
}
