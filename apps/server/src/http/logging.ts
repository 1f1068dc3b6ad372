import { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { RootLogger } from "@flowplane/logging";
import { notFoundBody } from "./not-found.js";

/**
 * Fastify's logging options for every listener of the control plane (API, public and private
 * gateway): the process's one logger (`@flowplane/logging`: redaction list, `url` key parameter
 * censored) and the request id under the same field name as everywhere else, `requestId`.
 * `false`: no log at all (tests).
 */
export function fastifyLogging(logger: RootLogger | false): { logger: false } | { loggerInstance: FastifyBaseLogger; logController: LogController } {
  // Through a LogController: Fastify 5.12 deprecates the top-level requestIdLogLabel (a warning at every start).
  return logger === false ? { logger: false } : { loggerInstance: logger, logController: new LogController({ requestIdLogLabel: "requestId" }) };
}

/**
 * The answer for a URL outside every route, for a listener without the API (the API has its own,
 * same shape). Fastify's default handler would log the URL with its query, key included.
 */
export function answerUnknownPaths(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(notFoundBody(req.method, req.url));
  });
}
