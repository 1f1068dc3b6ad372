import { GATEWAY_SECRET_HEADER, PROBE_PATHS, gatewaySecretMatches } from "@flowplane/core";
import Fastify, { type FastifyInstance } from "fastify";
import { registerMcp } from "../mcp.js";
import { sendError, toHttp, type HostContext } from "./context.js";
import { registerLangflowRoutes } from "./langflow-routes.js";
import { registerLfxRoutes } from "./lfx-routes.js";
import { registerMetaRoutes } from "./meta-routes.js";

/**
 * The runtime's HTTP server: the contract's routes, MCP, one error shape, an access log without
 * bodies. The request id is the gateway's `x-request-id` (it sets one on every request it
 * forwards), so a request's lines in the gateway and in the replica share it.
 */
export function buildApp(ctx: HostContext): FastifyInstance {
  const app = Fastify({ logger: false, requestIdHeader: "x-request-id", bodyLimit: ctx.config.maxBodyBytes, forceCloseConnections: "idle", return503OnClosing: false });
  // Counted on the raw response so hijacked (streaming, MCP) replies are counted too.
  app.addHook("onRequest", async (req, reply) => {
    ctx.state.inFlight++;
    const started = Date.now();
    reply.raw.once("close", () => {
      ctx.state.inFlight--;
      // Path only: a query string may carry anything. Debug, not info: one line per request is
      // the gateway's access log; the replica's own is for when one looks closer.
      ctx.log.debug({ requestId: req.id, method: req.method, path: req.url.split("?")[0], status: reply.raw.statusCode, ms: Date.now() - started }, "request");
    });
  });
  // Only the gateway may call this replica: it adds the deployment's secret to every request it
  // forwards. The platform's probes (/health, /ready) stay open; they reveal nothing.
  const secret = ctx.config.gatewaySecret;
  if (secret !== null) {
    app.addHook("onRequest", async (req, reply) => {
      if (PROBE_PATHS.has(req.url.split("?")[0]!)) return;
      if (gatewaySecretMatches(req.headers[GATEWAY_SECRET_HEADER], secret)) return;
      return reply.code(401).type("application/json").send({ error: { code: "unauthenticated", message: "this replica answers only requests forwarded by its gateway", details: null } });
    });
  }
  // While draining, every answer closes its connection, so no client keeps one for later.
  app.addHook("onSend", async (_req, reply) => {
    if (ctx.state.draining) reply.header("connection", "close");
  });
  app.setErrorHandler((err, req, reply) => {
    if (toHttp(err).status >= 500) ctx.log.error({ requestId: req.id, error: err instanceof Error ? err.message : String(err) }, "request failed");
    return sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: { code: "not_found", message: `no route ${req.method} ${req.url.split("?")[0]}`, details: null } }));
  registerMetaRoutes(app, ctx);
  registerLfxRoutes(app, ctx);
  registerLangflowRoutes(app, ctx);
  registerMcp(app, ctx);
  return app;
}
