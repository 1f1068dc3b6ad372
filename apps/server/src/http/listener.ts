import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { PATH_PARAM_MAX } from "@flowplane/core/api";
import type { RootLogger } from "@flowplane/logging";
import { answerClientError, answerConnect, requireHost } from "./client-errors.js";
import { toHttpError } from "./errors.js";
import { registerJsonBodies } from "./input-hygiene.js";
import { fastifyLogging } from "./logging.js";

/**
 * The Fastify instance of one of the control plane's listeners: the API's (app.ts) and the
 * public and private ones serve.ts builds beside it (the private listener always; the public one
 * in a process without the API). Whatever is refused before a route runs is answered here, the
 * same way on each, in the one error shape (errors.ts). Built separately, the private listener
 * answered a malformed percent-escape in Fastify's own shape (`{"error":"Bad Request","code":
 * "FST_ERR_BAD_URL"}`) while the public one answered `malformed_request`.
 */
export function listenerApp(o: { logger: RootLogger | false; bodyLimit: number; requestIdHeader?: string }): FastifyInstance {
  const app = Fastify({
    bodyLimit: o.bodyLimit,
    ...fastifyLogging(o.logger),
    ...(o.requestIdHeader ? { requestIdHeader: o.requestIdHeader } : {}),
    // Fastify's default (100) is below what the API accepts: a version tag of 101-128 characters
    // published, then every URL naming it was a 400. Measured decoded, as the limits are.
    routerOptions: { maxParamLength: PATH_PARAM_MAX },
    // What Node's parser refuses before Fastify sees a request (client-errors.ts).
    clientErrorHandler: answerClientError,
    // What the router refuses before any route (a malformed escape, an overlong parameter).
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = toHttpError(err);
      void (reply as unknown as FastifyReply).code(status).send(body);
    },
  });
  // CONNECT never reaches Fastify's router: Node closes it unanswered unless the server listens for it.
  app.server.on("connect", answerConnect);
  // Nor does a request without Host: Node answers it itself, with no body.
  requireHost(app.server);
  // JSON bodies read one way on every listener: UTF-8 only, an empty one as no body (input-hygiene.ts).
  registerJsonBodies(app);
  // What fails in a body parser, a hook or a handler.
  app.setErrorHandler((err, req, reply) => {
    const { status, body, unexpected, headers } = toHttpError(err);
    if (unexpected) req.log.error({ err }, "unexpected error");
    if (headers) void reply.headers(headers);
    void reply.code(status).send(body);
  });
  return app;
}
