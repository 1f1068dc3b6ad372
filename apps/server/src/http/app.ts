import Fastify, { type FastifyInstance } from "fastify";
import type { Principal } from "@flowplane/core";
import type { BundleDownloadService } from "../services/bundle-download.js";
import type { BundleService } from "../services/bundles.js";
import type { DeploymentService } from "../services/deployments.js";
import type { IdentityService } from "../services/identity.js";
import { toHttpError } from "./errors.js";
import { loggerOptions } from "./logging.js";
import { openApiDocument } from "./openapi.js";
import type { RouteDef } from "./route.js";
import { bundleRoutes } from "./routes/bundles.js";
import { deploymentRoutes } from "./routes/deployments.js";
import { identityRoutes } from "./routes/identity.js";

export interface ApiOptions {
  identity: IdentityService;
  bundles: BundleService;
  deployments: DeploymentService;
  download: BundleDownloadService;
  /** Largest accepted request body in bytes (413 above). */
  bodyLimit: number;
  /** A pino level, or false for no request log (tests). */
  logLevel: string | false;
  version: string;
}

export const API_PREFIX = "/api/v1";
/** Where runtime replicas download their bundle; outside the user API, with its own authentication. */
export const INTERNAL_BUNDLE_PATH = "/internal/v1/deployments/:id/bundle";

/**
 * The access key from `x-access-key`, Langflow's own `x-api-key` (so Langflow clients work
 * unchanged, DESIGN 11) or `Authorization: Bearer`, first found in that order.
 */
export function accessKeyOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  for (const name of ["x-access-key", "x-api-key"]) {
    const direct = headers[name];
    if (typeof direct === "string" && direct.length > 0) return direct;
  }
  const auth = headers.authorization;
  if (typeof auth === "string") {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The control-plane API as a Fastify instance. Logs are JSON; the key headers are redacted
 * and request bodies (which carry credentials) are never logged.
 */
export function buildApi(o: ApiOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: o.bodyLimit,
    logger: o.logLevel === false ? false : loggerOptions(o.logLevel),
    requestIdHeader: "x-request-id",
  });

  const routes: RouteDef[] = [...identityRoutes(o.identity), ...bundleRoutes(o.bundles), ...deploymentRoutes(o.deployments)];
  const doc = openApiDocument(routes, { version: o.version });

  app.setErrorHandler((err, req, reply) => {
    const { status, body, unexpected } = toHttpError(err);
    if (unexpected) req.log.error({ err }, "unexpected error");
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { code: "not_found", message: `no such endpoint: ${req.method} ${req.url.split("?")[0]}` } });
  });

  app.get(`${API_PREFIX}/openapi.json`, async () => doc);
  app.get(INTERNAL_BUNDLE_PATH, async (req) => {
    const auth = req.headers.authorization;
    const token = typeof auth === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] : undefined;
    return o.download.download((req.params as { id: string }).id, token);
  });
  for (const r of routes) {
    app.route({
      method: r.method,
      url: `${API_PREFIX}${r.path}`,
      handler: async (req, reply) => {
        const principal: Principal = await o.identity.authenticate(accessKeyOf(req.headers));
        const out = await r.handler({
          principal,
          params: req.params as Record<string, string>,
          query: req.query as Record<string, string | undefined>,
          body: req.body,
          reply,
        });
        return reply.statusCode === 204 ? reply.send() : out;
      },
    });
  }
  return app;
}
