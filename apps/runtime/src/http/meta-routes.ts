import type { FastifyInstance } from "fastify";
import type { HostContext } from "./context.js";
import { openApiDocument } from "./openapi.js";

/** The index, probes and API description. */
export function registerMetaRoutes(app: FastifyInstance, ctx: HostContext): void {
  app.get("/", async (_req, reply) => {
    const flows = ctx.state.flows.map(({ flow }) => `  - ${flow.name} (${flow.id})`);
    const text = [
      "Welcome to Langflow Runtime",
      "",
      ctx.state.ready ? "Flows:" : "Flows: (loading)",
      ...flows,
      "",
      "Endpoints:",
      "  GET  /flows                      list the flows",
      "  GET  /flows/{id}/info            one flow and its input schema",
      "  POST /flows/{id}/run             run a flow: {input_value, session_id?, global_vars?}",
      "  POST /flows/{id}/stream          the same run as a stream of events",
      "  POST /api/v1/run/{id_or_name}    Langflow's run API (?stream=true to stream)",
      "  POST /mcp                        Model Context Protocol (streamable HTTP), one tool per flow",
      "  GET  /health  GET /ready  GET /docs  GET /openapi.json",
      "",
    ].join("\n");
    return reply.type("text/plain; charset=utf-8").send(text);
  });
  app.get("/health", async () => ({ status: "ok" }));
  app.get("/ready", async (_req, reply) => {
    const ready = ctx.state.ready && !ctx.state.draining;
    const status = ready ? "ready" : ctx.state.failed ? "failed" : ctx.state.draining ? "draining" : "loading";
    return reply.code(ready ? 200 : 503).send({ status, flows: ctx.state.flows.length });
  });
  app.get("/openapi.json", async () => openApiDocument(ctx.state.flows.map((f) => f.flow)));
  app.get("/docs", async (_req, reply) => {
    const doc = openApiDocument(ctx.state.flows.map((f) => f.flow));
    const rows = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.entries(ops as Record<string, { summary?: string }>).map(([m, op]) => `<tr><td>${m.toUpperCase()}</td><td><code>${path}</code></td><td>${op.summary ?? ""}</td></tr>`))
      .join("\n");
    return reply
      .type("text/html; charset=utf-8")
      .send(`<!doctype html><html><head><meta charset="utf-8"><title>${doc.info.title}</title></head><body><h1>${doc.info.title}</h1><p>Machine-readable: <a href="openapi.json">openapi.json</a></p><table>${rows}</table></body></html>`);
  });
}
