import type { HostContext } from "./context.js";
import { openApiDocument } from "./openapi.js";
import { send, type Router } from "./routing.js";

/** The index, probes and API description. */
export function registerMetaRoutes(app: Router, ctx: HostContext): void {
  app.add({ method: "GET", path: "/", handler: (_req, res) => {
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
    send(res, 200, text, "text/plain; charset=utf-8");
  } });
  // Answered at once, never after a body or a run: these only read the state.
  app.add({ method: "GET", path: "/health", handler: () => ({ status: "ok" }) });
  app.add({ method: "GET", path: "/ready", handler: (_req, res) => {
    const ready = ctx.state.ready && !ctx.state.draining;
    const status = ready ? "ready" : ctx.state.failed ? "failed" : ctx.state.draining ? "draining" : "loading";
    send(res, ready ? 200 : 503, { status, flows: ctx.state.flows.length });
  } });
  app.add({ method: "GET", path: "/openapi.json", handler: () => openApiDocument(ctx.state.flows.map((f) => f.flow)) });
  app.add({ method: "GET", path: "/docs", handler: (_req, res) => {
    const doc = openApiDocument(ctx.state.flows.map((f) => f.flow));
    const rows = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.entries(ops as Record<string, { summary?: string }>).map(([m, op]) => `<tr><td>${m.toUpperCase()}</td><td><code>${path}</code></td><td>${op.summary ?? ""}</td></tr>`))
      .join("\n");
    send(res, 200, `<!doctype html><html><head><meta charset="utf-8"><title>${doc.info.title}</title></head><body><h1>${doc.info.title}</h1><p>Machine-readable: <a href="openapi.json">openapi.json</a></p><table>${rows}</table></body></html>`, "text/html; charset=utf-8");
  } });
}
